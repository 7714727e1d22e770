"""The verdict of one decision: a pure, level-based fold over its pull request's history.

`evaluate(decision=…, policy=…, facts=…, now=…)` replays every push, review and
comment in time order (duplicates and input order do not matter) and returns a
:class:`Verdict`: status, round, votes, what is missing, the reason, the labels and
status check to show, and the actions to take. Nothing here does I/O or reads a
clock; run it again at any time and it says the same.

The rules (defaults from `org.yaml`, frozen in the :class:`Policy`):

* operational: approved at once (the forge's required checks gate the merge).
* minor: lazy consensus. A ``veto_by`` approval approves at once, a veto rejects;
  silence until the deadline approves.
* major / critical, round 1: the approvers (CEO, DAO) vote. All approve → approved
  (critical: then a maintainer must approve); all veto → rejected; anything else,
  including silence at the deadline (an abstention) → round 2.
* round 2: advisors give analysis (a review or comment); it ends when all have
  answered or at the deadline. No votes count.
* round 3 and later: the voters vote; a strict majority of the votes cast, with the
  quorum, decides. A tie or no quorum at the deadline → escalated.
* a new push with different content after votes were cast starts the next round
  (votes are for the content they were cast on); past ``max_rounds`` → escalated.
* maintainers: request-changes (or closing by hand) rejects at any time; an approval
  decides an escalated decision and is required for a critical one; merging by hand
  approves. The decision records who, when and how (review, merge, close).
* a merge or close by hand is judged by who did it, as the forge records it: the
  proposer closing withdraws; anyone else (not a maintainer, not the proposer, not the
  governance bot) merging unapproved content or closing is a **violation**: escalated,
  never recorded as decided, and reported (``violation``) so the maintainers are alerted.
* the proposer never votes, advises or decides its own decision: neither the pull
  request's author (an agent's bot, a human member, or a maintainer, whose own reviews,
  merges and closes then count as a proposer's, so another maintainer must decide) nor
  the proposing agent's bot (a maintainer may open a proposal on an agent's behalf); a
  bot account is never a maintainer.
* a dismissed review withdraws its vote only when the voter or a maintainer dismissed
  it; anyone else's dismissal leaves the vote standing and is reported (``notes``).
* time is the forge server's: round 1 starts when the pull request opened, or when its
  first known head was first seen if that is later (never earlier).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from aito.governance.deciding import Event, Fold, State
from aito.governance.history import (
    CommentEvent,
    DecisionFacts,
    DismissalEvent,
    PullFacts,
    PullStatus,
    Push,
    ReviewEvent,
    push_order,
)
from aito.governance.policies import Policy
from aito.governance.verdicts import (
    APPROVED_LABEL,
    CHECK_CONTEXT,
    ESCALATED_LABEL,
    HOLD_LABEL,
    LABEL_PREFIX,
    MAINTAINERS,
    REJECTED_LABEL,
    Action,
    ActionKind,
    RoundOutcome,
    Stage,
    Verdict,
)
from aito.org.organization import Tier
from aito.org.records import DecisionStatus, Vote

# The verdict's data moved to `verdicts`; callers (and tests) still import it from here,
# where the function that builds it lives.
__all__ = [
    "APPROVED_LABEL",
    "CHECK_CONTEXT",
    "ESCALATED_LABEL",
    "HOLD_LABEL",
    "LABEL_PREFIX",
    "MAINTAINERS",
    "REJECTED_LABEL",
    "Action",
    "ActionKind",
    "RoundOutcome",
    "Stage",
    "Verdict",
    "evaluate",
]


def evaluate(
    *, decision: DecisionFacts, policy: Policy, facts: PullFacts, now: dt.datetime
) -> Verdict:
    """The verdict on ``decision`` at ``now``, from the whole history in ``facts``."""
    pushes = sorted(set(facts.pushes), key=push_order)
    if not pushes:
        raise ValueError("a pull request has at least one commit")
    maintainers = _maintainers(policy, facts)
    trees = {push.sha: push.tree for push in pushes}
    # A first head seen only after the pull request opened may have been pushed any time
    # before: the round starts when it was seen, so an unknown push time never shortens it.
    start = max(facts.opened_at, pushes[0].at)
    state = State(round=1, stage=_first_stage(policy), round_start=start, head=pushes[0])
    deciding = Fold(
        decision=decision,
        policy=policy,
        facts=facts,
        state=state,
        trees=trees,
        maintainers=maintainers,
    )
    if state.stage is Stage.CHECKS:
        deciding.approve("operational: within the proposer's own authority")
    for _, _, event in sorted(_events(pushes[1:], facts.reviews, facts.comments, facts.dismissals)):
        at = event.at
        if at > now:
            break
        deciding.advance(at)
        if state.stage is Stage.DONE and not _keeps_listening(state):
            break
        deciding.apply(event)
    deciding.advance(now)
    deciding.settle_forge_state()
    return _verdict(deciding)


def _first_stage(policy: Policy) -> Stage:
    if policy.tier is Tier.OPERATIONAL:
        return Stage.CHECKS
    if policy.lazy_consensus:
        return Stage.LAZY
    return Stage.VOTE


def _keeps_listening(state: State) -> bool:
    # An approval waiting to be merged binds to its content: a later push reopens it,
    # and a maintainer can still reject it.
    return state.status is DecisionStatus.APPROVED


def _maintainers(policy: Policy, facts: PullFacts) -> frozenset[int]:
    # The pull request's author is a party: a maintainer who proposed (or opened a
    # proposal on an agent's behalf) never decides it, by review, merge or close.
    parties = set(policy.bots.values()) | {facts.author}
    if policy.governance_bot is not None:
        parties.add(policy.governance_bot)
    return frozenset((set(policy.maintainers) | set(facts.maintainers)) - parties)


def _events(
    pushes: Iterable[Push],
    reviews: Iterable[ReviewEvent],
    comments: Iterable[CommentEvent],
    dismissals: Iterable[DismissalEvent],
) -> set[tuple[dt.datetime, tuple[int, str], Event]]:
    """Every event once, sortable by (time, kind, id) so input order never matters."""
    found: set[tuple[dt.datetime, tuple[int, str], Event]] = set()
    for push in pushes:
        found.add((push.at, (0, f"{push.seq:010d}{push.sha}"), push))
    for review in reviews:
        found.add((review.at, (1, f"{review.id:020d}"), review))
    for comment in comments:
        found.add((comment.at, (2, f"{comment.id:020d}"), comment))
    for dismissal in dismissals:
        found.add((dismissal.at, (3, f"{dismissal.id:020d}"), dismissal))
    return found


def _verdict(fold: Fold) -> Verdict:
    decision, policy, facts, state = fold.decision, fold.policy, fold.facts, fold.state
    held = HOLD_LABEL in facts.labels
    stage = state.stage
    voters = fold.voters
    votes: dict[str, Vote | None] = {a: state.votes.get(a) for a in voters}
    missing: list[str] = [a for a in voters if a not in state.votes]
    if stage is Stage.ANALYSIS:
        votes = {}
        missing = [a for a in fold.advisors if a not in state.answered]
    if stage in (Stage.MAINTAINER, Stage.ESCALATED):
        missing = [MAINTAINERS]
    if not voters and stage is not Stage.ANALYSIS:
        # Decided or with the humans: show the votes of the last round that had any.
        voted = [r for r in state.rounds if r.votes]
        votes = dict(voted[-1].votes) if voted else {}
    open_stage = stage in (Stage.LAZY, Stage.VOTE, Stage.ANALYSIS, Stage.FINAL)
    deadline = fold.deadline if open_stage else None
    waiting = _waiting_reason(stage, missing)
    both = waiting and state.reason
    reason = f"{waiting} ({state.reason})" if both else waiting or state.reason
    labels = _labels(state, held)
    check_state, description = _check(state, held, missing, facts)
    actions: list[Action] = []
    if facts.status is PullStatus.OPEN:
        if state.status is DecisionStatus.APPROVED and state.approved_sha and not held:
            actions.append(Action(ActionKind.MERGE, sha=state.approved_sha))
        elif state.status is DecisionStatus.REJECTED:
            actions.append(Action(ActionKind.CLOSE))
        elif stage in (Stage.ESCALATED, Stage.MAINTAINER):
            logins = sorted(policy.maintainers.values())
            actions.append(Action(ActionKind.REQUEST_MAINTAINERS, logins=tuple(logins)))
    decided_by = None
    if state.decided_by is not None:
        decided_by = (
            policy.maintainers.get(state.decided_by)
            or facts.logins.get(state.decided_by)
            or str(state.decided_by)
        )
    return Verdict(
        decision_id=decision.id,
        pr=facts.number,
        tier=policy.tier,
        status=state.status,
        stage=stage,
        round=state.round,
        votes=votes,
        missing=tuple(missing),
        deadline=deadline,
        reason=reason,
        head_sha=state.head.sha,
        approved_sha=state.approved_sha,
        human_decision=state.human,
        decided_by=decided_by,
        held=held,
        rounds=tuple(state.rounds),
        labels=labels,
        check_state=check_state,
        check_description=description,
        actions=tuple(actions),
        notes=tuple(dict.fromkeys(state.notes)),
        decided_via=state.decided_via,
        decided_at=state.decided_at,
        violation=state.violation,
        current=fold.outcome() if open_stage else None,
    )


def _waiting_reason(stage: Stage, missing: list[str]) -> str:
    who = ", ".join(missing) or "nobody"
    return {
        Stage.CHECKS: "operational: merges when the required checks pass",
        Stage.LAZY: f"lazy consensus: merges at the deadline unless {who} vetoes",
        Stage.VOTE: f"round 1: waiting for {who}",
        Stage.ANALYSIS: f"round 2: waiting for analysis from {who}",
        Stage.FINAL: f"final vote: waiting for {who}",
    }.get(stage, "")


def _labels(state: State, held: bool) -> frozenset[str]:
    labels = set()
    if state.status is DecisionStatus.APPROVED:
        labels.add(APPROVED_LABEL)
    elif state.status is DecisionStatus.REJECTED:
        labels.add(REJECTED_LABEL)
    elif state.status is DecisionStatus.ESCALATED:
        labels.add(ESCALATED_LABEL)
    if state.status in (DecisionStatus.PENDING, DecisionStatus.ESCALATED):
        labels.add(f"{LABEL_PREFIX}round-{state.round}")
    if held:
        labels.add(HOLD_LABEL)
    return frozenset(labels)


def _check(state: State, held: bool, missing: list[str], facts: PullFacts) -> tuple[str, str]:
    if state.status is DecisionStatus.APPROVED and state.approved_sha == state.head.sha:
        if held:
            return "pending", "approved, on hold (aito/hold)"
        return "success", _short(f"approved: {state.reason}")
    if state.status in (DecisionStatus.REJECTED, DecisionStatus.WITHDRAWN):
        return "failure", _short(f"{state.status.value}: {state.reason}")
    waiting = ", ".join(missing) if missing else "the deadline"
    return "pending", _short(f"round {state.round}: waiting for {waiting}")


def _short(text: str) -> str:
    # GitHub limits a status description to 140 characters.
    return text if len(text) <= 140 else text[:137] + "..."
