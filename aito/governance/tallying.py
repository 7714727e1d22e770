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
* maintainers: request-changes (or closing) rejects at any time; an approval decides
  an escalated decision and is required for a critical one; merging decides too. A merge
  by anyone else of content that was not approved is escalated, never recorded as an
  approval.
* the proposer never votes or advises on its own decision: neither the pull request's
  author nor the proposing agent's bot (a maintainer may open a proposal on an agent's
  behalf); a bot account is never a maintainer.
* a dismissed review withdraws its vote only when the voter or a maintainer dismissed
  it; anyone else's dismissal leaves the vote standing and is reported (``notes``).
* time is the forge server's: round 1 starts when the pull request opened, or when its
  first known head was first seen if that is later (never earlier).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable

from aito.governance.history import (
    CommentEvent,
    DecisionFacts,
    DismissalEvent,
    PullFacts,
    PullStatus,
    Push,
    ReviewEvent,
    ReviewKind,
    push_order,
)
from aito.governance.policies import Policy
from aito.org.organization import Tier
from aito.org.records import DecisionStatus, HumanDecision, Vote

LABEL_PREFIX = "aito/"
HOLD_LABEL = "aito/hold"
ESCALATED_LABEL = "aito/escalated"
APPROVED_LABEL = "aito/approved"
REJECTED_LABEL = "aito/rejected"
CHECK_CONTEXT = "aito/decision"
MAINTAINERS = "maintainers"


class Stage(enum.StrEnum):
    CHECKS = "checks"  # operational: waits only for the forge's checks
    LAZY = "lazy"  # minor: lazy consensus window
    VOTE = "vote"  # round 1: approvers vote
    ANALYSIS = "analysis"  # round 2: advisors analyse
    FINAL = "final"  # round 3+: majority vote
    MAINTAINER = "maintainer"  # critical: agents approved, a maintainer must too
    ESCALATED = "escalated"  # humans decide
    DONE = "done"


class ActionKind(enum.StrEnum):
    MERGE = "merge"
    CLOSE = "close"
    REQUEST_MAINTAINERS = "request_maintainers"


@dataclasses.dataclass(frozen=True)
class Action:
    kind: ActionKind
    sha: str | None = None  # merge: only this head
    logins: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RoundOutcome:
    """One finished or current round, for the decision record."""

    round: int
    stage: Stage
    votes: dict[str, Vote]
    analysis: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Verdict:
    decision_id: str
    pr: int
    tier: Tier
    status: DecisionStatus
    stage: Stage
    round: int
    votes: dict[str, Vote | None]
    missing: tuple[str, ...]
    deadline: dt.datetime | None
    reason: str
    head_sha: str
    approved_sha: str | None
    human_decision: HumanDecision | None
    decided_by: str | None
    held: bool
    rounds: tuple[RoundOutcome, ...]
    labels: frozenset[str]
    check_state: str  # pending | success | failure
    check_description: str
    actions: tuple[Action, ...]
    notes: tuple[str, ...] = ()  # things a person should know (e.g. an ignored dismissal)

    @property
    def terminal(self) -> bool:
        return self.stage is Stage.DONE


@dataclasses.dataclass
class _State:
    """Mutable only inside one :func:`evaluate` call."""

    round: int
    stage: Stage
    round_start: dt.datetime
    head: Push
    votes: dict[str, Vote] = dataclasses.field(default_factory=dict)
    vote_reviews: dict[str, int] = dataclasses.field(default_factory=dict)  # agent → review id
    answered: set[str] = dataclasses.field(default_factory=set)
    status: DecisionStatus = DecisionStatus.PENDING
    reason: str = ""
    approved_sha: str | None = None
    maintainer_approved_tree: str | None = None
    approval_stage: Stage = Stage.VOTE
    human: HumanDecision | None = None
    decided_by: int | None = None
    rounds: list[RoundOutcome] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


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
    state = _State(round=1, stage=_first_stage(policy), round_start=start, head=pushes[0])
    deciding = _Fold(
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
    return _verdict(decision, policy, facts, state, maintainers, now)


def _first_stage(policy: Policy) -> Stage:
    if policy.tier is Tier.OPERATIONAL:
        return Stage.CHECKS
    if policy.lazy_consensus:
        return Stage.LAZY
    return Stage.VOTE


def _keeps_listening(state: _State) -> bool:
    # An approval waiting to be merged binds to its content: a later push reopens it,
    # and a maintainer can still reject it.
    return state.status is DecisionStatus.APPROVED


def _maintainers(policy: Policy, facts: PullFacts) -> frozenset[int]:
    bots = set(policy.bots.values())
    if policy.governance_bot is not None:
        bots.add(policy.governance_bot)
    return frozenset((set(policy.maintainers) | set(facts.maintainers)) - bots)


Event = Push | ReviewEvent | CommentEvent | DismissalEvent


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


@dataclasses.dataclass
class _Fold:
    decision: DecisionFacts
    policy: Policy
    facts: PullFacts
    state: _State
    trees: dict[str, str]
    maintainers: frozenset[int]

    @property
    def advisors(self) -> tuple[str, ...]:
        return _without_proposer(self.policy.advisors, self.policy, self.facts, self.decision)

    @property
    def final_voters(self) -> tuple[str, ...]:
        return _without_proposer(self.policy.voters, self.policy, self.facts, self.decision)

    @property
    def deadline(self) -> dt.datetime:
        return self.state.round_start + dt.timedelta(seconds=self.policy.deadline_seconds)

    # -- time ----------------------------------------------------------------------
    def advance(self, at: dt.datetime) -> None:
        """Close every round whose deadline passed by ``at``."""
        state = self.state
        while state.stage in (Stage.LAZY, Stage.VOTE, Stage.ANALYSIS, Stage.FINAL):
            deadline = self.deadline
            if at < deadline:
                return
            before = (state.stage, state.round)
            self.resolve(deadline, final=True)
            if (state.stage, state.round) == before:
                return

    # -- events --------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        if isinstance(event, Push):
            self.push(event)
        elif isinstance(event, ReviewEvent):
            self.review(event)
        elif isinstance(event, DismissalEvent):
            self.dismissal(event)
        else:
            self.comment(event)

    def push(self, push: Push) -> None:
        state = self.state
        changed = push.tree != state.head.tree
        state.head = push
        if not changed:
            if state.status is DecisionStatus.APPROVED:
                state.approved_sha = push.sha  # same content: votes were for the content
            return
        if state.status is not DecisionStatus.APPROVED and state.stage is Stage.DONE:
            return  # rejected or withdrawn: final
        reopened = state.status is DecisionStatus.APPROVED
        if reopened:
            # The approval was for other content: decide again on the new content.
            state.status, state.approved_sha = DecisionStatus.PENDING, None
            state.human, state.decided_by = None, None
            state.stage = state.approval_stage
        if state.stage is Stage.CHECKS:
            self.approve("operational: within the proposer's own authority")
            return
        if state.stage is Stage.ESCALATED:
            return  # the maintainers decide, on the new content
        voted = reopened or bool(state.votes or state.answered)
        if state.stage is Stage.MAINTAINER or voted:
            self.next_round(push.at, "new content was pushed; earlier votes are stale")
        else:
            state.round_start = push.at  # nobody had voted: the new version gets a full round

    def review(self, review: ReviewEvent) -> None:
        state = self.state
        if review.user == self.facts.author:
            return  # the proposer's own review never counts
        if review.user in self.maintainers:
            self.maintainer_review(review)
            return
        agent = self.policy.agent_of(review.user)
        if agent is None or agent == self.decision.proposed_by:
            return  # not a voter, or the proposing agent (on a maintainer-opened proposal)
        if review.kind is ReviewKind.DISMISSED:
            # Dismissed, and the forge did not say what it was or who dismissed it: it
            # cannot count either way (the reading reports it).
            state.votes.pop(agent, None)
            state.vote_reviews.pop(agent, None)
            return
        if state.stage is Stage.ANALYSIS:
            if agent in self.advisors:
                state.answered.add(agent)
                self.resolve(review.at, final=False)
            return
        vote = _vote_of(review)
        if vote is None or self.trees.get(review.commit) != state.head.tree:
            return  # a comment review, or a vote on other content
        if agent in self._voters():
            state.votes[agent] = vote
            state.vote_reviews[agent] = review.id
            self.resolve(review.at, final=False)

    def dismissal(self, event: DismissalEvent) -> None:
        """Only the voter or a maintainer can take a vote back by dismissing its review."""
        state = self.state
        by_agent = self.policy.agent_of(event.by)
        by = f"{by_agent}'s bot" if by_agent else self.facts.logins.get(event.by, str(event.by))
        agent = self.policy.agent_of(event.user)
        if event.by == event.user or event.by in self.maintainers:
            if agent is not None and state.vote_reviews.get(agent) == event.review:
                state.votes.pop(agent, None)
                state.vote_reviews.pop(agent, None)
                self.resolve(event.at, final=False)
            return
        if agent is not None:
            whose = agent
        elif event.user in self.maintainers:
            whose = "a maintainer"
        else:
            return  # the review never counted
        self.state.notes.append(
            f"{by} dismissed a review by {whose} but is neither its author nor a "
            "maintainer: the dismissal is ignored and the review still counts"
        )

    def comment(self, comment: CommentEvent) -> None:
        state = self.state
        agent = self.policy.agent_of(comment.user)
        if state.stage is Stage.ANALYSIS and agent in self.advisors:
            state.answered.add(agent)
            self.resolve(comment.at, final=False)

    def maintainer_review(self, review: ReviewEvent) -> None:
        state = self.state
        if state.human is not None:
            return  # the first maintainer decision is final
        if review.kind is ReviewKind.CHANGES_REQUESTED:
            self.finish(DecisionStatus.REJECTED, "a maintainer requested changes (final)")
            state.human, state.decided_by = HumanDecision.REJECT, review.user
            return
        if review.kind is not ReviewKind.APPROVED:
            return
        if self.trees.get(review.commit) != state.head.tree:
            return
        state.maintainer_approved_tree = state.head.tree
        if state.stage in (Stage.ESCALATED, Stage.MAINTAINER):
            self.approve("a maintainer approved (final)")
            state.human, state.decided_by = HumanDecision.APPROVE, review.user

    # -- transitions ---------------------------------------------------------------
    def _voters(self) -> tuple[str, ...]:
        stage = self.state.stage
        if stage is Stage.LAZY:
            return self.policy.veto_by
        if stage is Stage.VOTE:
            return self.policy.approvers
        if stage is Stage.FINAL:
            return self.final_voters
        return ()

    def resolve(self, at: dt.datetime, *, final: bool) -> None:
        """Decide the current round if its votes (or, when ``final``, its deadline) allow."""
        state = self.state
        votes = state.votes
        if state.stage is Stage.LAZY:
            if any(v is Vote.VETO for v in votes.values()):
                self.finish(DecisionStatus.REJECTED, "vetoed in the lazy-consensus window")
            elif any(v is Vote.APPROVE for v in votes.values()):
                self.approve("approved by " + ", ".join(sorted(votes)))
            elif final:
                self.approve("no veto before the deadline (lazy consensus)")
        elif state.stage is Stage.VOTE:
            approvers = self.policy.approvers
            cast = [votes.get(a) for a in approvers]
            all_may_approve = all(v in (None, Vote.APPROVE) for v in cast)
            all_may_veto = all(v in (None, Vote.VETO) for v in cast)
            if approvers and all(v is Vote.APPROVE for v in cast):
                self.approve(f"{' and '.join(approvers)} approved in round {state.round}")
            elif approvers and all(v is Vote.VETO for v in cast):
                self.finish(DecisionStatus.REJECTED, f"{' and '.join(approvers)} vetoed")
            elif final or not approvers or not (all_may_approve or all_may_veto):
                self.next_round(at, "round 1 was split (or silent): C-level analysis follows")
        elif state.stage is Stage.ANALYSIS:
            if final or set(self.advisors) <= state.answered:
                self.next_round(at, "analysis closed: final vote")
        elif state.stage is Stage.FINAL:
            self.resolve_final(final=final)

    def resolve_final(self, *, final: bool) -> None:
        votes = self.state.votes
        voters = self.final_voters
        approve = sum(1 for a in voters if votes.get(a) is Vote.APPROVE)
        veto = sum(1 for a in voters if votes.get(a) is Vote.VETO)
        remaining = sum(1 for a in voters if a not in votes)
        quorum_met = approve + veto >= self.policy.quorum
        tally = f"{approve} approve, {veto} veto"
        if quorum_met and approve > veto + remaining:
            self.approve(f"majority approved in round {self.state.round} ({tally})")
        elif quorum_met and veto > approve + remaining:
            self.finish(DecisionStatus.REJECTED, f"majority vetoed ({tally})")
        elif final or remaining == 0:
            if not quorum_met:
                self.escalate(f"no quorum ({approve + veto} of {self.policy.quorum} votes cast)")
            elif approve > veto:
                self.approve(f"majority approved in round {self.state.round} ({tally})")
            elif veto > approve:
                self.finish(DecisionStatus.REJECTED, f"majority vetoed ({tally})")
            else:
                self.escalate(f"tie ({tally})")

    def next_round(self, at: dt.datetime, reason: str) -> None:
        state = self.state
        self.record_round()
        if state.round + 1 > self.policy.max_rounds:
            self.escalate(f"{reason}; past the last round ({self.policy.max_rounds})")
            return
        state.round += 1
        state.round_start = at
        state.votes, state.answered, state.vote_reviews = {}, set(), {}
        state.reason = reason
        if state.stage in (Stage.LAZY, Stage.CHECKS):
            return
        state.stage = Stage.ANALYSIS if state.round == 2 else Stage.FINAL
        if state.stage is Stage.ANALYSIS and not self.advisors:
            self.next_round(at, "no advisors: final vote")

    def record_round(self) -> None:
        state = self.state
        if state.stage in (Stage.ESCALATED, Stage.DONE, Stage.MAINTAINER, Stage.CHECKS):
            return
        state.rounds.append(
            RoundOutcome(state.round, state.stage, dict(state.votes), tuple(sorted(state.answered)))
        )

    def approve(self, reason: str) -> None:
        state = self.state
        needs_maintainer = self.policy.maintainer_required and state.human is None
        if needs_maintainer and state.maintainer_approved_tree != state.head.tree:
            self.record_round()
            state.stage = Stage.MAINTAINER
            state.votes, state.answered, state.vote_reviews = {}, set(), {}
            state.reason = f"{reason}; a maintainer must approve too ({self.policy.tier.value})"
            return
        self.record_round()
        state.approval_stage = (
            state.stage if state.stage is not Stage.DONE else state.approval_stage
        )
        state.status = DecisionStatus.APPROVED
        state.approved_sha = state.head.sha
        state.stage = Stage.DONE
        state.reason = reason

    def finish(self, status: DecisionStatus, reason: str) -> None:
        self.record_round()
        state = self.state
        state.status, state.stage, state.reason = status, Stage.DONE, reason
        state.approved_sha = None

    def escalate(self, reason: str) -> None:
        state = self.state
        if state.stage is not Stage.ESCALATED:
            self.record_round()
        state.status, state.stage = DecisionStatus.ESCALATED, Stage.ESCALATED
        state.reason = f"{reason}: the maintainers decide"
        state.votes, state.answered, state.vote_reviews = {}, set(), {}

    def settle_forge_state(self) -> None:
        """What the forge already did (merged, closed) is a fact that overrides the fold."""
        facts, state = self.facts, self.state
        if facts.status is PullStatus.MERGED:
            by = facts.merged_by
            if state.status is not DecisionStatus.APPROVED or state.approved_sha != state.head.sha:
                if by not in self.maintainers:
                    # Merged by someone who may not decide (a proposer where the branch
                    # is unprotected): a fact, never an approval to record and announce.
                    self.escalate("merged outside governance, without an approval")
                    state.approved_sha = None
                    return
                state.human, state.decided_by = HumanDecision.APPROVE, by
                state.reason = "a maintainer merged it (final)"
            state.status, state.stage = DecisionStatus.APPROVED, Stage.DONE
            state.approved_sha = state.head.sha
        elif facts.status is PullStatus.CLOSED and state.stage is not Stage.DONE:
            by = facts.closed_by
            if by in self.maintainers:
                state.status, state.reason = (
                    DecisionStatus.REJECTED,
                    "a maintainer closed it (final)",
                )
                state.human, state.decided_by = HumanDecision.REJECT, by
            else:
                state.status, state.reason = DecisionStatus.WITHDRAWN, "closed without a decision"
            state.stage = Stage.DONE
        elif facts.status is PullStatus.CLOSED and state.status is DecisionStatus.APPROVED:
            state.status, state.reason = DecisionStatus.WITHDRAWN, "closed before it was merged"


def _without_proposer(
    agents: tuple[str, ...], policy: Policy, facts: PullFacts, decision: DecisionFacts
) -> tuple[str, ...]:
    # The proposer is a party: it neither advises on nor votes in its own decision, whether
    # its bot opened the pull request or a maintainer did on its behalf.
    return tuple(
        a for a in agents if a != decision.proposed_by and policy.bots.get(a) != facts.author
    )


def _vote_of(review: ReviewEvent) -> Vote | None:
    if review.kind is ReviewKind.APPROVED:
        return Vote.APPROVE
    if review.kind is ReviewKind.CHANGES_REQUESTED:
        return Vote.VETO
    if review.kind is ReviewKind.COMMENTED and review.body.strip().lower().startswith("abstain"):
        return Vote.ABSTAIN  # only the voter's own review body: nobody else can write it
    return None


def _verdict(
    decision: DecisionFacts,
    policy: Policy,
    facts: PullFacts,
    state: _State,
    maintainers: frozenset[int],
    now: dt.datetime,
) -> Verdict:
    held = HOLD_LABEL in facts.labels
    stage = state.stage
    voters: tuple[str, ...] = ()
    if stage is Stage.LAZY:
        voters = policy.veto_by
    elif stage is Stage.VOTE:
        voters = policy.approvers
    elif stage is Stage.FINAL:
        voters = _without_proposer(policy.voters, policy, facts, decision)
    votes: dict[str, Vote | None] = {a: state.votes.get(a) for a in voters}
    missing: list[str] = [a for a in voters if a not in state.votes]
    if stage is Stage.ANALYSIS:
        votes = {}
        advisors = _without_proposer(policy.advisors, policy, facts, decision)
        missing = [a for a in advisors if a not in state.answered]
    if stage in (Stage.MAINTAINER, Stage.ESCALATED):
        missing = [MAINTAINERS]
    if not voters and stage is not Stage.ANALYSIS:
        # Decided or with the humans: show the votes of the last round that had any.
        voted = [r for r in state.rounds if r.votes]
        votes = dict(voted[-1].votes) if voted else {}
    open_stage = stage in (Stage.LAZY, Stage.VOTE, Stage.ANALYSIS, Stage.FINAL)
    deadline = (
        state.round_start + dt.timedelta(seconds=policy.deadline_seconds) if open_stage else None
    )
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


def _labels(state: _State, held: bool) -> frozenset[str]:
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


def _check(state: _State, held: bool, missing: list[str], facts: PullFacts) -> tuple[str, str]:
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
