"""Remember decisions in Postgres and tell the agents concerned (Redis inbox + history)."""

from __future__ import annotations

import datetime as dt

from aito.bus.redis import RedisBus
from aito.governance.tallying import Verdict
from aito.memory.base import DecisionRow
from aito.memory.postgres import PostgresMemory
from aito.org.messages import AgentMessage, MessageType, Priority
from aito.org.records import Decision, Vote


class ServicesRecorder:
    """The `Recorder` of `aito decide tally` on the real services."""

    def __init__(self, *, memory: PostgresMemory, bus: RedisBus) -> None:
        self._memory = memory
        self._bus = bus

    def record(self, *, decision: Decision, verdict: Verdict, now: dt.datetime) -> None:
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
                rounds=[
                    {
                        "round": r.round,
                        "stage": r.stage.value,
                        "votes": {a: v.value for a, v in r.votes.items()},
                        "analysis": list(r.analysis),
                    }
                    for r in verdict.rounds
                ],
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
