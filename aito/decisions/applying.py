"""`aito decide tally`: compute a decision's verdict and bring the forge in line with it.

Applying is idempotent and level-based: labels, the `aito/decision` status, one
tally comment (edited in place), requested reviewers, and a merge pinned to the
evaluated head (fail closed if it moved) or a close. Run it twice and the second
run changes nothing. The final record (status, rounds, votes, human decision) is
written to `org/decisions/<id>.yaml` on the base branch (:mod:`aito.decisions.finalizing`),
to Postgres, and sent to the proposer and the voters, once.

What is judged is fixed where no proposer can move it: the policy, and the decision's
id, proposer, tier and amount as proposed, live in the governance bot's mark
(:mod:`aito.decisions.marks`); a later push may raise the tier or the amount, never
lower them, nor change the id or the proposer. Labels, the status, a merge or a close
are only ever applied to the exact head the verdict judged: if the head moved while
the tally ran, nothing is applied and the next tally judges the new head.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Protocol

from aito.decisions import alerting, finalizing, judging, marks, reading
from aito.errors import GovernanceError
from aito.forge.base import (
    CheckState,
    Forge,
    Identity,
    MergeConflict,
    PullRequest,
    PullState,
)
from aito.governance import authority, proposers, tallying, verdicts
from aito.governance.history import DecisionFacts
from aito.governance.verdicts import ActionKind, Verdict
from aito.org import loading
from aito.org.organization import Tier
from aito.org.records import Decision, DecisionStatus

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
            "decided_via": v.decided_via.value if v.decided_via else None,
            "decided_at": v.decided_at.isoformat() if v.decided_at else None,
            "violation": v.violation,
            "rounds": [r.as_record() for r in v.rounds],
            "current": v.current.as_record(open_round=True) if v.current else None,
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
    if not (lock and apply):
        return _tally(forge, number, now=now, apply=apply, recorder=recorder)
    decision = reading.decision_of(forge, forge.pull(number))
    with lock(decision.id):
        # Another tally may have acted while we waited for the lock: everything is read
        # again inside it.
        return _tally(forge, number, now=now, apply=apply, recorder=recorder)


def _tally(
    forge: Forge,
    number: int,
    *,
    now: dt.datetime,
    apply: bool,
    recorder: Recorder | None,
) -> Tally:
    pull = forge.pull(number)
    changes = forge.file_changes(number, head=pull.head_sha)  # the head judged and merged
    decision = reading.decision_of(forge, pull, changes)
    base = reading.base_organization(forge, forge.default_branch)
    reading.check_id_is_free(base, decision, pull)
    governance = reading.governance_identity(base)
    comments = forge.comments(number)
    found = marks.find(comments, governance)
    policies = found.mark.policies if found else reading.freeze(base)
    commits = forge.commits(number)
    problems: list[str] = []
    first = None
    if commits and commits[0].sha != pull.head_sha:
        path = f"{reading.DECISIONS_PREFIX}{decision.id}.yaml"
        try:
            first = reading.record_at(forge, commits[0].sha, path, number=number)
        except GovernanceError:
            first = None  # unreadable at its first commit: the head and the mark decide
    proposal, blocked = judging.fixed_proposal(
        decision, first, found.mark.proposal if found else None
    )
    if proposal.proposer not in base.agents and proposers.by_name(base, proposal.proposer) is None:
        raise GovernanceError(
            f"#{number}: proposed_by {proposal.proposer!r} is not an agent of the organization, "
            "nor a maintainer or human member in org/org.yaml"
        )
    if proposal.tier is not decision.tier or proposal.amount_usd != decision.amount_usd:
        problems.append(
            f"the record at the head says {decision.tier.value} and "
            f"${decision.amount_usd:g}; it was proposed at {proposal.tier.value} and "
            f"${proposal.amount_usd:g}: a later push may raise them, never lower them"
        )
    paths = judging.judged_paths(changes, decision.id)
    requirement = authority.required_tier(
        base,
        proposer=proposal.proposer,
        paths=paths,
        amount_usd=proposal.amount_usd,
        links=[c.path for c in changes if c.special],
    )
    tier = authority.higher(proposal.tier, requirement.tier)
    policy = policies[tier]
    seen = found.mark.heads if found else ()
    observed = reading.facts_of(forge, pull, policy, comments, commits=commits, seen=seen, now=now)
    facts = observed.facts
    if tier is not proposal.tier:
        problems.append(
            f"judged as {tier.value}, not {proposal.tier.value}: " + "; ".join(requirement.reasons)
        )
    verdict = tallying.evaluate(
        decision=DecisionFacts(decision.id, tier, proposal.proposer),
        policy=policy,
        facts=facts,
        now=now,
    )
    problems += verdict.notes
    blocked = blocked or _refusal(base, pull, proposal, tier, facts.maintainers)
    blocked = blocked or observed.doubt
    if len(observed.heads) >= marks.MAX_HEADS:
        # The mark keeps at most MAX_HEADS heads: past that, history would be lost.
        blocked = blocked or (
            f"its head changed {marks.MAX_HEADS} times or more; open a new proposal"
        )
    if blocked:
        # Merged by hand while blocked, by anyone but a maintainer (not its proposer) or
        # the governance bot: a violation to record and alert, never a pending decision.
        allowed = (facts.maintainers - {pull.author.id}) | {governance.id}
        verdict = _blocked(verdict, blocked, pull=pull, allowed=allowed)
    judged, claimed = judging.judged_record(decision, tier=tier, proposal=proposal, paths=paths)
    problems += claimed
    if not apply:
        return Tally(verdict, judged, (), tuple(problems))
    mark = marks.Mark(
        policies=policies,
        state="open",
        proposal=proposal,
        heads=observed.heads[-marks.MAX_HEADS :],
    )
    marks.render(mark)  # a mark that would not read back whole stops the tally here
    changed, final = _apply(forge, pull, verdict, governance, found, mark, problems)
    if final:
        changed.extend(finalizing.record_final(forge, pull, judged, verdict, governance, now))
    if final and verdict.violation is not None:
        changed.extend(alerting.alert_violation(forge, base, pull, judged, verdict, governance))
    if recorder is not None:
        recorder.record(decision=judged, verdict=verdict, now=now)
        escalated = verdict.status is DecisionStatus.ESCALATED
        announced = found.mark.state if found else None
        if (final or escalated) and announced != verdict.status.value:
            # Agents are told on the bus (this is where a decided decision wakes its
            # proposer); a human proposer is the pull request's author, whom the forge
            # tells of the merge or close and the tally comment.
            concerned = {proposal.proposer, *policy.approvers, *policy.voters}
            recipients = sorted(agent for agent in concerned if agent in base.agents)
            recorder.announce(decision=judged, verdict=verdict, recipients=recipients, now=now)
    return Tally(verdict, judged, tuple(changed), tuple(problems))


def _refusal(
    base: loading.Organization,
    pull: PullRequest,
    proposal: marks.Proposal,
    tier: Tier,
    forge_maintainers: frozenset[int],
) -> str | None:
    """Why the pull request's author may not propose this decision at ``tier``: the
    author (by numeric id) must be the member ``proposed_by`` names, or a maintainer
    opening it on an agent's behalf, and a person may not go above their ceiling."""
    refused = proposers.refusal(
        base,
        author_id=pull.author.id,
        author_login=pull.author.login,
        proposed_by=proposal.proposer,
        forge_maintainers=forge_maintainers,
    )
    if refused is not None:
        return refused
    named = proposers.by_name(base, proposal.proposer)
    return None if named is None else proposers.above_ceiling(named, tier)


def _blocked(
    verdict: Verdict, reason: str, *, pull: PullRequest, allowed: Collection[int]
) -> Verdict:
    """The verdict on a pull request the gate refuses (``reason``): pending, its check
    failing; or, where someone who may not decide merged it anyway, a violation."""
    blocked = dataclasses.replace(
        verdict,
        status=DecisionStatus.PENDING,
        reason=reason,
        check_state="failure",
        check_description=reason[:140],
        actions=(),
        approved_sha=None,
    )
    merger = pull.merged_by
    if pull.state is not PullState.MERGED or (merger is not None and merger.id in allowed):
        return blocked
    who = marks.text(merger.login, 60) if merger else "an account the forge does not name"
    return dataclasses.replace(
        blocked,
        status=DecisionStatus.ESCALATED,
        violation=f"{who} merged it while the gate refused it ({marks.text(reason, 200)})",
    )


def _apply(
    forge: Forge,
    pull: PullRequest,
    verdict: Verdict,
    governance: Identity,
    found: marks.TallyComment | None,
    mark: marks.Mark,
    problems: list[str],
) -> tuple[list[str], bool]:
    """Bring the forge in line with ``verdict``; returns the changes and whether it is final.

    Nothing but the tally comment is touched unless the pull request's head is still the
    head the verdict judged (the status and the merge are pinned to it besides)."""
    changes: list[str] = []
    number = pull.number
    current = forge.pull(number)
    moved = current.head_sha != verdict.head_sha
    is_open = current.state is PullState.OPEN
    if moved:
        problems.append(
            f"the head moved from {verdict.head_sha[:12]} to {current.head_sha[:12]} while "
            "this tally ran: no label, status, merge or close was applied; the next tally "
            "judges the new head"
        )
    else:
        applied, is_open = _apply_state(forge, current, verdict, governance, problems)
        changes += applied
    # A violation (merged or closed by someone who may not decide) is recorded too: the
    # pull request is closed, and the record on the base branch must say what happened.
    final = (verdict.status in TERMINAL or verdict.violation is not None) and not is_open
    escalated = verdict.status is DecisionStatus.ESCALATED and is_open
    state_mark = verdict.status.value if final or escalated else "open"
    body = marks.comment(verdict, problems, mark.model_copy(update={"state": state_mark}))
    if found is None:
        forge.post_comment(number, author=governance, body=body)
        changes.append("tally comment posted")
    elif found.comment.body != body:
        forge.edit_comment(number, comment_id=found.comment.id, body=body)
        changes.append("tally comment updated")
    return changes, final


def _apply_state(
    forge: Forge,
    pull: PullRequest,
    verdict: Verdict,
    governance: Identity,
    problems: list[str],
) -> tuple[list[str], bool]:
    """Labels, the status on the judged head, review requests, merge or close; returns
    what changed and whether the pull request is still open."""
    changes: list[str] = []
    number = pull.number
    is_open = pull.state is PullState.OPEN
    managed = {label for label in pull.labels if label.startswith(verdicts.LABEL_PREFIX)}
    managed.discard(verdicts.HOLD_LABEL)  # people hold and unhold; the tally never does
    wanted = set(verdict.labels) - {verdicts.HOLD_LABEL}
    add, remove = sorted(wanted - managed), sorted(managed - wanted)
    if pull.state is PullState.OPEN and (add or remove):
        forge.set_labels(number, add=add, remove=remove)
        changes += [f"label +{label}" for label in add] + [f"label -{label}" for label in remove]
    state = CheckState(verdict.check_state)
    head = verdict.head_sha
    current = {s.context: s for s in forge.statuses(head)}.get(verdicts.CHECK_CONTEXT)
    if current is None or (current.state, current.description) != (
        state,
        verdict.check_description,
    ):
        forge.set_status(
            sha=head,
            context=verdicts.CHECK_CONTEXT,
            state=state,
            description=verdict.check_description,
        )
        changes.append(f"status {state.value}")
    for action in verdict.actions:
        if action.kind is ActionKind.REQUEST_MAINTAINERS:
            missing = sorted(set(action.logins) - set(forge.requested_reviewers(number)))
            if missing:
                refused = forge.request_reviewers(number, logins=missing)
                asked = [login for login in missing if login not in refused]
                if asked:
                    changes.append(f"requested {', '.join(asked)}")
                problems += [
                    f"maintainer {login} cannot be asked to review ({_short(why)}); "
                    "add them as a collaborator or fix org.yaml `maintainers`"
                    for login, why in sorted(refused.items())
                ]
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
                problems.append(f"not merged: {_short(str(exc))}")
        elif action.kind is ActionKind.CLOSE:
            forge.close(number, actor=governance)
            changes.append("closed")
            is_open = False
    return changes, is_open


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
