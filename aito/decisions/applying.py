"""`aito decide tally`: compute a decision's verdict and bring the forge in line with it.

Applying is idempotent and level-based: labels, the `aito/decision` status, one
tally comment (edited in place), requested reviewers, and a merge pinned to the
evaluated head (fail closed if it moved) or a close. Run it twice and the second
run changes nothing. The final record (status, rounds, votes, human decision) is
written to `org/decisions/<id>.yaml` on the base branch, to Postgres, and sent to
the proposer and the voters, once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

import yaml

from aito.decisions import reading
from aito.errors import GovernanceError
from aito.forge.base import CheckState, Forge, Identity, MergeConflict, PullRequest, PullState
from aito.governance import authority, tallying
from aito.governance.history import DecisionFacts
from aito.governance.tallying import ActionKind, Verdict
from aito.org.records import Decision, DecisionStatus, PullRequestLink, RoundRecord

_log = logging.getLogger(__name__)
TERMINAL = (DecisionStatus.APPROVED, DecisionStatus.REJECTED, DecisionStatus.WITHDRAWN)


class Recorder(Protocol):
    """Where decisions are remembered and results announced (Postgres, Redis)."""

    def record(self, *, decision: Decision, verdict: Verdict, now: dt.datetime) -> None: ...

    def announce(
        self, *, decision: Decision, verdict: Verdict, recipients: list[str], now: dt.datetime
    ) -> None: ...


@dataclasses.dataclass(frozen=True)
class Tally:
    """A verdict and what applying it did."""

    verdict: Verdict
    decision: Decision
    changes: tuple[str, ...]
    problems: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        """The stable `--json` shape of `aito decide tally` and `status` (documented)."""
        v = self.verdict
        return {
            "pr": v.pr,
            "decision_id": v.decision_id,
            "title": self.decision.title,
            "proposed_by": self.decision.proposed_by,
            "tier": v.tier.value,
            "status": v.status.value,
            "stage": v.stage.value,
            "round": v.round,
            "votes": {agent: vote.value if vote else None for agent, vote in v.votes.items()},
            "missing": list(v.missing),
            "deadline": v.deadline.isoformat() if v.deadline else None,
            "head_sha": v.head_sha,
            "reason": v.reason,
            "held": v.held,
            "human_decision": v.human_decision.value if v.human_decision else None,
            "decided_by": v.decided_by,
            "labels": sorted(v.labels),
            "check": {"state": v.check_state, "description": v.check_description},
            "changes": list(self.changes),
            "problems": list(self.problems),
        }


def tally(
    forge: Forge,
    number: int,
    *,
    now: dt.datetime,
    apply: bool = True,
    recorder: Recorder | None = None,
    lock: Callable[[str], AbstractContextManager[object]] | None = None,
) -> Tally:
    """The verdict on pull request ``number`` at ``now``; applied unless ``apply`` is False.

    ``lock(decision_id)`` (e.g. Redis `lock:decision:{id}`) keeps two tallies of the
    same decision from interleaving.
    """
    pull = forge.pull(number)
    changed = forge.changed_files(number)
    decision = reading.decision_of(forge, pull, changed)
    if not (lock and apply):
        return _tally(forge, pull, decision, changed, now=now, apply=apply, recorder=recorder)
    with lock(decision.id):
        # Another tally may have acted while we waited for the lock: read again.
        pull = forge.pull(number)
        return _tally(forge, pull, decision, changed, now=now, apply=apply, recorder=recorder)


def _tally(
    forge: Forge,
    pull: PullRequest,
    decision: Decision,
    changed: list[str],
    *,
    now: dt.datetime,
    apply: bool,
    recorder: Recorder | None,
) -> Tally:
    number = pull.number
    base = reading.base_organization(forge, pull.base_ref)
    governance = reading.governance_identity(base)
    comments = forge.comments(number)
    found = reading.tally_comment(comments, governance)
    policies = found.policies if found else reading.freeze(base)
    if decision.proposed_by not in base.agents:
        raise GovernanceError(f"#{number}: proposed_by {decision.proposed_by!r} is not an agent")
    requirement = authority.required_tier(
        base,
        proposer=decision.proposed_by,
        paths=[p for p in changed if not p.startswith(reading.DECISIONS_PREFIX)],
        amount_usd=decision.amount_usd,
    )
    tier = authority.higher(decision.tier, requirement.tier)
    policy = policies[tier]
    facts = reading.facts_of(forge, pull, policy, comments)
    problems: list[str] = []
    if tier is not decision.tier:
        problems.append(
            f"judged as {tier.value}, not {decision.tier.value}: " + "; ".join(requirement.reasons)
        )
    verdict = tallying.evaluate(
        decision=DecisionFacts(decision.id, tier, decision.proposed_by),
        policy=policy,
        facts=facts,
        now=now,
    )
    proposer_bot = policy.bots.get(decision.proposed_by)
    if pull.author.id != proposer_bot and pull.author.id not in facts.maintainers | set(
        policy.maintainers
    ):
        verdict = _blocked(
            verdict,
            f"opened by {pull.author.login}, not by "
            f"{decision.proposed_by}'s bot: proposed_by cannot be claimed",
        )
    if not apply:
        return Tally(verdict, decision, (), tuple(problems))
    changes, final = _apply(
        forge, pull, verdict, governance, found, reading.encode_policies(policies), problems
    )
    if final:
        changes.extend(_record_final(forge, pull, decision, verdict, governance, now))
    if recorder is not None:
        recorder.record(decision=decision, verdict=verdict, now=now)
        escalated = verdict.status is DecisionStatus.ESCALATED
        if (final or escalated) and (found is None or found.state != verdict.status.value):
            recipients = sorted({decision.proposed_by, *policy.approvers, *policy.voters})
            recorder.announce(decision=decision, verdict=verdict, recipients=recipients, now=now)
    return Tally(verdict, decision, tuple(changes), tuple(problems))


def _blocked(verdict: Verdict, reason: str) -> Verdict:
    return dataclasses.replace(
        verdict,
        status=DecisionStatus.PENDING,
        reason=reason,
        check_state="failure",
        check_description=reason[:140],
        actions=(),
        approved_sha=None,
    )


def _apply(
    forge: Forge,
    pull: PullRequest,
    verdict: Verdict,
    governance: Identity,
    found: reading.TallyComment | None,
    policy_mark: str,
    problems: list[str],
) -> tuple[list[str], bool]:
    """Bring the forge in line with ``verdict``; returns the changes and whether it is final."""
    changes: list[str] = []
    number = pull.number
    managed = {label for label in pull.labels if label.startswith(tallying.LABEL_PREFIX)}
    managed.discard(tallying.HOLD_LABEL)  # people hold and unhold; the tally never does
    wanted = set(verdict.labels) - {tallying.HOLD_LABEL}
    add, remove = sorted(wanted - managed), sorted(managed - wanted)
    if pull.state is PullState.OPEN and (add or remove):
        forge.set_labels(number, add=add, remove=remove)
        changes += [f"label +{label}" for label in add] + [f"label -{label}" for label in remove]
    state = CheckState(verdict.check_state)
    current = {s.context: s for s in forge.statuses(pull.head_sha)}.get(tallying.CHECK_CONTEXT)
    if current is None or (current.state, current.description) != (
        state,
        verdict.check_description,
    ):
        forge.set_status(
            sha=pull.head_sha,
            context=tallying.CHECK_CONTEXT,
            state=state,
            description=verdict.check_description,
        )
        changes.append(f"status {state.value}")
    is_open = pull.state is PullState.OPEN
    for action in verdict.actions:
        if action.kind is ActionKind.REQUEST_MAINTAINERS:
            missing = sorted(set(action.logins) - set(forge.requested_reviewers(number)))
            if missing:
                forge.request_reviewers(number, logins=missing)
                changes.append(f"requested {', '.join(missing)}")
        elif action.kind is ActionKind.MERGE and action.sha is not None:
            try:
                forge.merge(
                    number,
                    sha=action.sha,
                    actor=governance,
                    message=f"Decision {verdict.decision_id}: approved (#{number})\n\n"
                    f"{verdict.reason}",
                )
                changes.append(f"merged {action.sha[:12]}")
                is_open = False
            except MergeConflict as exc:
                problems.append(f"not merged: {exc}")
        elif action.kind is ActionKind.CLOSE:
            forge.close(number, actor=governance)
            changes.append("closed")
            is_open = False
    final = verdict.status in TERMINAL and not is_open
    escalated = verdict.status is DecisionStatus.ESCALATED and is_open
    state_mark = verdict.status.value if final or escalated else "open"
    body = _tally_body(verdict, problems, policy_mark, state_mark)
    if found is None:
        forge.post_comment(number, author=governance, body=body)
        changes.append("tally comment posted")
    elif found.comment.body != body:
        forge.edit_comment(number, comment_id=found.comment.id, body=body)
        changes.append("tally comment updated")
    return changes, final


def _tally_body(verdict: Verdict, problems: list[str], policy_mark: str, state: str) -> str:
    votes = ", ".join(
        f"{agent}: {vote.value if vote else '—'}" for agent, vote in verdict.votes.items()
    )
    lines = [
        reading.TALLY_MARK,
        f"**Decision `{verdict.decision_id}`** ({verdict.tier.value}): **{verdict.status.value}**"
        f" — round {verdict.round}, {verdict.stage.value}",
        "",
        f"- reason: {verdict.reason}",
    ]
    if votes:
        lines.append(f"- votes: {votes}")
    if verdict.missing:
        lines.append(f"- missing: {', '.join(verdict.missing)}")
    if verdict.deadline:
        lines.append(f"- deadline: {verdict.deadline.isoformat()}")
    if verdict.human_decision:
        lines.append(
            f"- maintainer decision: {verdict.human_decision.value} by {verdict.decided_by}"
        )
    if verdict.held:
        lines.append("- on hold (`aito/hold`): nothing merges until the label is removed")
    lines += [f"- ⚠ {problem}" for problem in problems]
    lines += [
        "",
        "_Votes are PR reviews by the voters' bot accounts (approve / request changes; a "
        'comment review starting with "abstain"). This comment is rewritten by `aito decide '
        "tally`; text in comments never counts as a vote._",
        policy_mark,
        reading.encode_state(state),
    ]
    return "\n".join(lines)


def _record_final(
    forge: Forge,
    pull: PullRequest,
    decision: Decision,
    verdict: Verdict,
    governance: Identity,
    now: dt.datetime,
) -> list[str]:
    """Write the final record to `org/decisions/<id>.yaml` on the base branch (once)."""
    final = decision.model_copy(
        update={
            "status": verdict.status,
            "round": verdict.round,
            "rounds": [
                RoundRecord(
                    round=r.round, votes=r.votes, analysis={a: "answered" for a in r.analysis}
                )
                for r in verdict.rounds
            ],
            "human_decision": verdict.human_decision,
            "decided_by": verdict.decided_by,
            "resolved_at": now,
            "result": verdict.reason,
            "pr": PullRequestLink(number=pull.number, url=pull.url if _is_http(pull.url) else None),
        }
    )
    path = f"{reading.DECISIONS_PREFIX}{decision.id}.yaml"
    data = final.model_dump(mode="json", exclude_none=True)
    current = forge.read_tree(pull.base_ref, prefixes=[path]).get(path)
    if current is not None and _same_record(yaml.safe_load(current), data):
        return []
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()
    forge.commit_files(
        branch=pull.base_ref,
        base=pull.base_ref,
        files={path: text},
        message=f"Record decision {decision.id}: {verdict.status.value} (#{pull.number})",
        author=governance,
    )
    return [f"recorded {path} on {pull.base_ref}"]


def _same_record(current: object, new: dict[str, object]) -> bool:
    # The resolution time differs between runs; the decision does not.
    if not isinstance(current, dict):
        return False
    return {k: v for k, v in current.items() if k != "resolved_at"} == {
        k: v for k, v in new.items() if k != "resolved_at"
    }


def _is_http(url: str | None) -> bool:
    return bool(url and url.startswith(("http://", "https://")))
