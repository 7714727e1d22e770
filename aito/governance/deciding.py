"""The rounds of one decision: the fold that :func:`aito.governance.tallying.evaluate`
drives event by event (pushes, reviews, dismissals, comments, deadlines).

A :class:`Fold` holds a :class:`State` that is mutable only inside one ``evaluate``
call; the rules it applies are listed in :mod:`aito.governance.tallying`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from aito.governance import settling
from aito.governance.history import (
    CommentEvent,
    DecisionFacts,
    DismissalEvent,
    PullFacts,
    Push,
    ReviewEvent,
    ReviewKind,
)
from aito.governance.policies import Policy
from aito.governance.verdicts import Ballot, RoundOutcome, Stage
from aito.org.records import DecisionStatus, HumanAction, HumanDecision, Vote


@dataclasses.dataclass
class State:
    """Mutable only inside one :func:`aito.governance.tallying.evaluate` call."""

    round: int
    stage: Stage
    round_start: dt.datetime
    head: Push
    votes: dict[str, Vote] = dataclasses.field(default_factory=dict)
    vote_reviews: dict[str, int] = dataclasses.field(default_factory=dict)  # agent → review id
    ballots: dict[str, Ballot] = dataclasses.field(default_factory=dict)  # agent → when, on what
    answered: set[str] = dataclasses.field(default_factory=set)
    status: DecisionStatus = DecisionStatus.PENDING
    reason: str = ""
    approved_sha: str | None = None
    maintainer_approved_tree: str | None = None
    approval_stage: Stage = Stage.VOTE
    human: HumanDecision | None = None
    decided_by: int | None = None
    decided_via: HumanAction | None = None
    decided_at: dt.datetime | None = None
    violation: str | None = None
    rounds: list[RoundOutcome] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


Event = Push | ReviewEvent | CommentEvent | DismissalEvent


@dataclasses.dataclass
class Fold:
    """The round state machine of one decision, fed its events in time order."""

    decision: DecisionFacts
    policy: Policy
    facts: PullFacts
    state: State
    trees: dict[str, str]
    maintainers: frozenset[int]

    @property
    def advisors(self) -> tuple[str, ...]:
        return without_proposer(self.policy.advisors, self.policy, self.facts, self.decision)

    @property
    def final_voters(self) -> tuple[str, ...]:
        return without_proposer(self.policy.voters, self.policy, self.facts, self.decision)

    @property
    def voters(self) -> tuple[str, ...]:
        """Who votes in the current stage (nobody outside the voting stages)."""
        stage = self.state.stage
        if stage is Stage.LAZY:
            return self.policy.veto_by
        if stage is Stage.VOTE:
            return self.policy.approvers
        if stage is Stage.FINAL:
            return self.final_voters
        return ()

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
            state.decided_via, state.decided_at = None, None
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
        if agent in self.voters:
            state.votes[agent] = vote
            state.vote_reviews[agent] = review.id
            state.ballots[agent] = Ballot(at=review.at, sha=review.commit)
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
            self.human_decides(HumanDecision.REJECT, review.user, HumanAction.REVIEW, review.at)
            return
        if review.kind is not ReviewKind.APPROVED:
            return
        if self.trees.get(review.commit) != state.head.tree:
            return
        state.maintainer_approved_tree = state.head.tree
        if state.stage in (Stage.ESCALATED, Stage.MAINTAINER):
            self.approve("a maintainer approved (final)")
            self.human_decides(HumanDecision.APPROVE, review.user, HumanAction.REVIEW, review.at)

    def human_decides(
        self, decision: HumanDecision, by: int | None, via: HumanAction, at: dt.datetime | None
    ) -> None:
        state = self.state
        state.human, state.decided_by, state.decided_via, state.decided_at = decision, by, via, at

    # -- transitions ---------------------------------------------------------------
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
        state.votes, state.answered, state.vote_reviews, state.ballots = {}, set(), {}, {}
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
        state.rounds.append(self.outcome())

    def outcome(self) -> RoundOutcome:
        """The current round as the record keeps it."""
        state = self.state
        return RoundOutcome(
            state.round,
            state.stage,
            dict(state.votes),
            tuple(sorted(state.answered)),
            ballots={a: b for a, b in state.ballots.items() if a in state.votes},
            started_at=state.round_start,
            deadline=self.deadline,
        )

    def approve(self, reason: str) -> None:
        state = self.state
        needs_maintainer = self.policy.maintainer_required and state.human is None
        if needs_maintainer and state.maintainer_approved_tree != state.head.tree:
            self.record_round()
            state.stage = Stage.MAINTAINER
            state.votes, state.answered, state.vote_reviews, state.ballots = {}, set(), {}, {}
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
        state.votes, state.answered, state.vote_reviews, state.ballots = {}, set(), {}, {}

    def settle_forge_state(self) -> None:
        """What the forge already did (merged, closed) overrides the fold: see
        :func:`aito.governance.settling.settle`."""
        settling.settle(self)

    def violate(self, by: int | None, what: str) -> None:
        """Someone who may not decide merged or closed it: escalated, and reported."""
        state = self.state
        state.human, state.decided_by, state.decided_via = None, None, None
        state.violation = f"{settling.who(self, by)} {what}, outside governance: a violation"
        self.escalate(state.violation)


def without_proposer(
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
