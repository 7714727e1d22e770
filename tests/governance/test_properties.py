"""Invariants of the verdict over random histories (hypothesis)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from support.histories import BOTS, GOVERNANCE_BOT, MAINTAINER, OUTSIDER, T0, policy

from aito.governance import tallying
from aito.governance.history import (
    CommentEvent,
    DecisionFacts,
    DismissalEvent,
    PullFacts,
    PullStatus,
    Push,
    ReviewEvent,
    ReviewKind,
)
from aito.org.organization import Tier
from aito.org.records import DecisionStatus

USERS = [*BOTS.values(), MAINTAINER, OUTSIDER, GOVERNANCE_BOT]
NOW = T0 + dt.timedelta(hours=200)
minutes = st.integers(min_value=0, max_value=120 * 60).map(lambda m: T0 + dt.timedelta(minutes=m))


@st.composite
def histories(draw: st.DrawFn) -> tuple[Tier, PullFacts]:
    tier = draw(st.sampled_from(list(Tier)))
    author = draw(st.sampled_from([BOTS["cmo"], BOTS["ceo"], BOTS["cto"]]))
    push_times = sorted(draw(st.lists(minutes, max_size=4)))
    pushes = [Push(T0, "c1", "t1", author)]
    for index, at in enumerate(push_times, start=2):
        tree = draw(st.sampled_from([pushes[-1].tree, f"t{index}"]))
        pushes.append(Push(at, f"c{index}", tree, author))
    reviews = []
    for number in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(list(ReviewKind)))
        body = draw(st.sampled_from(["", "abstain", "LGTM"]))
        reviews.append(
            ReviewEvent(
                draw(minutes),
                number + 1,
                draw(st.sampled_from(USERS)),
                kind,
                draw(st.sampled_from([p.sha for p in pushes])),
                body,
            )
        )
    comments = [
        CommentEvent(draw(minutes), 1000 + n, draw(st.sampled_from(USERS)))
        for n in range(draw(st.integers(0, 8)))
    ]
    labels = draw(st.sampled_from([frozenset(), frozenset({"aito/hold"})]))
    facts = PullFacts(
        number=1,
        opened_at=T0,
        author=author,
        status=PullStatus.OPEN,
        pushes=tuple(pushes),
        reviews=tuple(reviews),
        comments=tuple(comments),
        labels=labels,
    )
    return tier, facts


def judge(tier: Tier, facts: PullFacts, now: dt.datetime = NOW) -> tallying.Verdict:
    return tallying.evaluate(
        decision=DecisionFacts("d", tier, "cmo"), policy=policy(tier), facts=facts, now=now
    )


@settings(max_examples=150, deadline=None)
@given(history=histories(), data=st.data())
def test_order_and_duplicates_do_not_matter(
    history: tuple[Tier, PullFacts], data: st.DataObject
) -> None:
    tier, facts = history
    shuffled = dataclasses.replace(
        facts,
        pushes=tuple(data.draw(st.permutations(facts.pushes + facts.pushes[:1]))),
        reviews=tuple(data.draw(st.permutations(facts.reviews + facts.reviews))),
        comments=tuple(data.draw(st.permutations(facts.comments))),
    )
    assert judge(tier, shuffled) == judge(tier, facts)


@settings(max_examples=150, deadline=None)
@given(history=histories())
def test_the_round_never_exceeds_the_maximum(history: tuple[Tier, PullFacts]) -> None:
    tier, facts = history
    assert 1 <= judge(tier, facts).round <= policy(tier).max_rounds


@settings(max_examples=200, deadline=None)
@given(history=histories())
def test_no_approval_without_approving_reviews_of_the_current_content(
    history: tuple[Tier, PullFacts],
) -> None:
    tier, facts = history
    result = judge(tier, facts)
    if result.status is not DecisionStatus.APPROVED or tier in (Tier.OPERATIONAL, Tier.MINOR):
        return
    head = facts.head
    assert result.approved_sha == head.sha
    trees = {p.sha: p.tree for p in facts.pushes}
    approving = {
        r.user
        for r in facts.reviews
        if r.kind is ReviewKind.APPROVED and trees[r.commit] == head.tree and r.user != facts.author
    }
    if result.human_decision is not None:
        assert MAINTAINER in approving
    else:
        agents = {BOTS[a] for a in BOTS} - {facts.author}
        assert len(approving & agents) >= 2
    if tier is Tier.CRITICAL:
        assert MAINTAINER in approving  # a human always approves a critical decision


@settings(max_examples=150, deadline=None)
@given(history=histories())
def test_silence_never_passes_a_major_decision(history: tuple[Tier, PullFacts]) -> None:
    tier, facts = history
    silent = dataclasses.replace(
        facts, reviews=tuple(r for r in facts.reviews if r.kind is not ReviewKind.APPROVED)
    )
    if tier in (Tier.MAJOR, Tier.CRITICAL):
        assert judge(tier, silent).status is not DecisionStatus.APPROVED


@settings(max_examples=150, deadline=None)
@given(history=histories(), cut=minutes)
def test_a_rejection_is_final(history: tuple[Tier, PullFacts], cut: dt.datetime) -> None:
    tier, facts = history
    earlier = dataclasses.replace(
        facts,
        pushes=tuple(p for p in facts.pushes if p.at <= cut) or facts.pushes[:1],
        reviews=tuple(r for r in facts.reviews if r.at <= cut),
        comments=tuple(c for c in facts.comments if c.at <= cut),
    )
    if judge(tier, earlier, now=cut).status is DecisionStatus.REJECTED:
        assert judge(tier, facts).status is DecisionStatus.REJECTED


@settings(max_examples=150, deadline=None)
@given(
    history=histories(),
    extra=st.lists(st.tuples(minutes, st.sampled_from(list(ReviewKind))), max_size=10),
)
def test_reviews_from_unknown_accounts_change_nothing(
    history: tuple[Tier, PullFacts], extra: list[tuple[dt.datetime, ReviewKind]]
) -> None:
    tier, facts = history
    outsiders = tuple(
        ReviewEvent(at, 5000 + n, OUTSIDER + 1 + n, kind, facts.head.sha)
        for n, (at, kind) in enumerate(extra)
    )
    noisy = dataclasses.replace(facts, reviews=facts.reviews + outsiders)
    assert judge(tier, noisy) == judge(tier, facts)


@settings(max_examples=150, deadline=None)
@given(history=histories(), data=st.data())
def test_dismissals_by_anyone_but_the_voter_or_a_maintainer_change_no_vote(
    history: tuple[Tier, PullFacts], data: st.DataObject
) -> None:
    tier, facts = history
    voters = [r for r in facts.reviews if r.user in BOTS.values() and r.user != facts.author]
    if not voters:
        return
    targets = data.draw(st.lists(st.sampled_from(voters), min_size=1, max_size=5))
    dismissers = st.sampled_from([OUTSIDER, facts.author, *BOTS.values()])
    dismissals = []
    for n, review in enumerate(targets):
        by = data.draw(dismissers.filter(lambda user, voter=review.user: user != voter))
        dismissals.append(DismissalEvent(data.draw(minutes), 9000 + n, review.id, review.user, by))
    dismissed = dataclasses.replace(facts, dismissals=tuple(dismissals))
    before, after = judge(tier, facts), judge(tier, dismissed)
    assert dataclasses.replace(after, notes=()) == before
