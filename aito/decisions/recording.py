"""Remember decisions in Postgres and tell the agents concerned (Redis inbox + history).

Every verdict a tally applies is also stored whole (:class:`StoredVerdict`: stage,
round, votes, what is missing, deadline, the head it judged, and the record's facts),
so an agent's wake-up reads what the governance tally last decided instead of
tallying every open decision itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from aito.governance.verdicts import Verdict
from aito.memory.base import DecisionRow
from aito.org.messages import AgentMessage, MessageType, Priority
from aito.org.records import Decision, Vote


class StoredVerdict(BaseModel):
    """A verdict as stored for readers that do not tally (agents' wake-ups)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    pr: int
    decision_id: str
    title: str
    description: str
    proposed_by: str
    amount_usd: float
    tier: str
    status: str
    stage: str
    round: int
    votes: dict[str, str | None]
    missing: list[str]
    deadline: AwareDatetime | None
    head_sha: str
    reason: str
    tallied_at: AwareDatetime

    @classmethod
    def of(cls, decision: Decision, verdict: Verdict, *, now: dt.datetime) -> StoredVerdict:
        return cls(
            pr=verdict.pr,
            decision_id=verdict.decision_id,
            title=decision.title,
            description=decision.description,
            proposed_by=decision.proposed_by,
            amount_usd=decision.amount_usd,
            tier=verdict.tier.value,
            status=verdict.status.value,
            stage=verdict.stage.value,
            round=verdict.round,
            votes={agent: vote.value if vote else None for agent, vote in verdict.votes.items()},
            missing=list(verdict.missing),
            deadline=verdict.deadline,
            head_sha=verdict.head_sha,
            reason=verdict.reason,
            tallied_at=now,
        )


class StoresVerdicts(Protocol):
    def store_verdict(
        self,
        *,
        pr: int,
        decision_id: str,
        head_sha: str,
        status: str,
        verdict: dict[str, Any],
        tallied_at: dt.datetime,
    ) -> None: ...


class KeepsDecisions(StoresVerdicts, Protocol):
    def upsert_decision(self, row: DecisionRow) -> str | None: ...

    def add_history(
        self,
        *,
        agent_id: str,
        action_type: str,
        summary: str,
        details: dict[str, Any],
        run_id: str | None = None,
    ) -> None: ...


class Delivers(Protocol):
    def deliver(self, message: AgentMessage) -> str: ...


def store(memory: StoresVerdicts, verdict: StoredVerdict) -> None:
    """Keep ``verdict`` as the pull request's latest."""
    memory.store_verdict(
        pr=verdict.pr,
        decision_id=verdict.decision_id,
        head_sha=verdict.head_sha,
        status=verdict.status,
        verdict=verdict.model_dump(mode="json"),
        tallied_at=verdict.tallied_at,
    )


class ServicesRecorder:
    """The `Recorder` of `aito decide tally` on the real services (Postgres, Redis).

    A result it announces is delivered to each recipient's stream, which also wakes them
    (the bus's waker: on GitHub a repository_dispatch sent with the governance token, see
    :mod:`aito.bus.waking`), so a proposer whose decision PR was merged or closed runs
    again without waiting for its schedule."""

    def __init__(self, *, memory: KeepsDecisions, bus: Delivers) -> None:
        self._memory = memory
        self._bus = bus

    def record(self, *, decision: Decision, verdict: Verdict, now: dt.datetime) -> None:
        store(self._memory, StoredVerdict.of(decision, verdict, now=now))
        votes = {agent: vote.value for agent, vote in verdict.votes.items() if vote}
        last_votes: dict[str, Vote] = {}
        for outcome in verdict.rounds:
            last_votes.update(outcome.votes)
        self._memory.upsert_decision(
            DecisionRow(
                id=decision.id,
                title=decision.title,
                description=decision.description,
                proposed_by=decision.proposed_by,
                tier=verdict.tier.value,
                status=verdict.status.value,
                veto_round=verdict.round,
                ceo_vote=_vote(last_votes, votes, "ceo"),
                dao_vote=_vote(last_votes, votes, "dao"),
                c_level_votes={
                    a: v
                    for a, v in ({k: x.value for k, x in last_votes.items()} | votes).items()
                    if a not in ("ceo", "dao")
                },
                rounds=[r.as_record() for r in verdict.rounds]
                + ([verdict.current.as_record(open_round=True)] if verdict.current else []),
                human_decision=verdict.human_decision.value if verdict.human_decision else None,
                decided_by=verdict.decided_by,
                pr_number=verdict.pr,
                pr_url=None,
                due=verdict.deadline,
                resolved_at=now if verdict.terminal else None,
                record=decision.model_dump(mode="json"),
            )
        )

    def announce(
        self, *, decision: Decision, verdict: Verdict, recipients: list[str], now: dt.datetime
    ) -> None:
        payload = {
            "decision_id": decision.id,
            "title": decision.title,
            "status": verdict.status.value,
            "reason": verdict.reason,
            "pr": verdict.pr,
            "round": verdict.round,
            "human_decision": verdict.human_decision.value if verdict.human_decision else None,
            "decided_by": verdict.decided_by,
            "decided_via": verdict.decided_via.value if verdict.decided_via else None,
            "violation": verdict.violation,
        }
        for agent in recipients:
            self._bus.deliver(
                AgentMessage.model_validate(
                    {
                        "id": f"decision:{decision.id}:{verdict.status.value}:{agent}",
                        "type": MessageType.DECISION,
                        "from": "governance",
                        "to": agent,
                        "payload": payload,
                        "priority": Priority.HIGH
                        if agent == decision.proposed_by
                        else Priority.NORMAL,
                        "timestamp": now,
                    }
                )
            )
            self._memory.add_history(
                agent_id=agent,
                action_type="decision",
                summary=f"Decision {decision.id} ({decision.title}) {verdict.status.value}: "
                f"{verdict.reason}",
                details=payload,
            )


def _vote(last: dict[str, Vote], current: dict[str, str], agent: str) -> str | None:
    if agent in current:
        return current[agent]
    return last[agent].value if agent in last else None
