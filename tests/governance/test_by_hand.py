"""Merges and closes by hand, and human proposers, in the pure engine (issue 11).

Who merged or closed is the forge's record, by numeric id: a maintainer who is not the
proposer decides (merge approves, close rejects) and the verdict says who, how and when;
the proposer's close withdraws; anyone else's merge or close is a violation.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
from support.histories import BOTS, GOVERNANCE_BOT, MAINTAINER, OUTSIDER, History, at, policy

from aito.governance import tallying
from aito.governance.history import DecisionFacts, PullStatus
from aito.governance.tallying import Stage
from aito.org.organization import Tier
from aito.org.records import DecisionStatus, HumanAction, HumanDecision

SECOND_MAINTAINER = 101
HUMAN = 300  # a human member proposing in their own name


def judge(
    history: History,
    *,
    now: float,
    tier: Tier = Tier.MAJOR,
    proposed_by: str = "cmo",
    closed_at: float | None = None,
) -> tallying.Verdict:
    facts = history.facts()
    if closed_at is not None:
        facts = dataclasses.replace(facts, closed_at=at(closed_at))
    maintainers = {MAINTAINER: "alice", SECOND_MAINTAINER: "bob"}
    return tallying.evaluate(
        decision=DecisionFacts(id="d-1", tier=tier, proposed_by=proposed_by),
        policy=policy(tier, maintainers=maintainers),
        facts=facts,
        now=at(now),
    )


def escalated_history(author: int = BOTS["cmo"]) -> History:
    """Round 1 split, analysis, round 3 tie: escalated at the round-3 deadline."""
    history = History()
    history.author = author
    history.pushes = [dataclasses.replace(p, by=author) for p in history.pushes]
    history.votes(1, ceo="approve", dao="veto")
    for hours, who in enumerate(("cmo", "cto", "cfo", "coo", "cco"), start=2):
        history.comment(min(hours, 3), who)
    history.votes(5, ceo="approve", dao="veto", cto="approve", cfo="veto")
    return history


def test_a_maintainers_merge_of_an_escalated_decision_is_the_human_decision() -> None:
    history = escalated_history()
    assert judge(history, now=30).status is DecisionStatus.ESCALATED
    history.status, history.merged_by = PullStatus.MERGED, MAINTAINER
    result = judge(history, now=31, closed_at=30.5)
    assert result.status is DecisionStatus.APPROVED and result.stage is Stage.DONE
    assert result.human_decision is HumanDecision.APPROVE and result.decided_by == "alice"
    assert result.decided_via is HumanAction.MERGE and result.decided_at == at(30.5)
    assert [r.round for r in result.rounds] == [1, 2, 3]  # the rounds before stay recorded
    assert result.violation is None


def test_a_maintainers_close_is_a_rejection_by_close() -> None:
    history = escalated_history()
    history.status, history.closed_by = PullStatus.CLOSED, MAINTAINER
    result = judge(history, now=31, closed_at=30.5)
    assert (
        result.status is DecisionStatus.REJECTED and result.human_decision is HumanDecision.REJECT
    )
    assert result.decided_via is HumanAction.CLOSE and result.decided_by == "alice"


def test_a_maintainers_approving_review_is_recorded_as_a_review() -> None:
    history = escalated_history().review(31, MAINTAINER, "approve")
    result = judge(history, now=32)
    assert result.status is DecisionStatus.APPROVED and result.decided_via is HumanAction.REVIEW
    assert result.decided_at == at(31)


@pytest.mark.parametrize(
    ("merger", "shown"),
    [(OUTSIDER, "account 999"), (BOTS["ceo"], "ceo's bot"), (BOTS["cmo"], "cmo's bot")],
    ids=["outsider", "voter-bot", "proposer-bot"],
)
def test_a_merge_by_anyone_else_is_a_violation(merger: int, shown: str) -> None:
    history = escalated_history()
    history.status, history.merged_by = PullStatus.MERGED, merger
    result = judge(history, now=31)
    assert result.status is DecisionStatus.ESCALATED and result.human_decision is None
    assert result.violation is not None and result.violation.startswith(shown)
    assert "merged it" in result.violation


@pytest.mark.parametrize("closer", [OUTSIDER, BOTS["ceo"]], ids=["outsider", "voter-bot"])
def test_a_close_by_anyone_else_is_a_violation(closer: int) -> None:
    history = History().votes(1, ceo="approve")
    history.status, history.closed_by = PullStatus.CLOSED, closer
    result = judge(history, now=2)
    assert result.status is DecisionStatus.ESCALATED and "closed it" in (result.violation or "")


def test_the_proposer_closing_withdraws_without_a_violation() -> None:
    history = History().votes(1, ceo="approve")
    history.status, history.closed_by = PullStatus.CLOSED, BOTS["cmo"]
    result = judge(history, now=2)
    assert result.status is DecisionStatus.WITHDRAWN and result.violation is None


def test_the_governance_bot_closing_is_no_violation() -> None:
    history = History().votes(1, ceo="veto", dao="veto")
    history.status, history.closed_by = PullStatus.CLOSED, GOVERNANCE_BOT
    assert judge(history, now=2).status is DecisionStatus.REJECTED


def test_a_maintainer_who_proposed_never_decides_their_own_decision() -> None:
    # alice (a maintainer) proposed a critical decision in her own name: her approval,
    # merge or close is the proposer's, and bob must decide.
    history = escalated_history(author=MAINTAINER)
    history.votes(5, dao="approve", cfo="approve").votes(6, ceo="approve", dao="approve")
    history.review(7, MAINTAINER, "approve")
    pending = judge(history, now=8, tier=Tier.CRITICAL, proposed_by="alice")
    assert pending.status is not DecisionStatus.APPROVED and pending.human_decision is None

    merged = copy.copy(history)  # the same events, then merged by alice herself
    merged.status, merged.merged_by = PullStatus.MERGED, MAINTAINER
    result = judge(merged, now=8, tier=Tier.CRITICAL, proposed_by="alice")
    assert result.status is DecisionStatus.ESCALATED and result.violation is not None

    history.review(8, SECOND_MAINTAINER, "approve")
    approved = judge(history, now=9, tier=Tier.CRITICAL, proposed_by="alice")
    assert approved.decided_by == "bob" and approved.human_decision is HumanDecision.APPROVE


def test_a_maintainer_who_proposed_withdraws_by_closing() -> None:
    history = escalated_history(author=MAINTAINER)
    history.status, history.closed_by = PullStatus.CLOSED, MAINTAINER
    result = judge(history, now=31, proposed_by="alice")
    assert result.status is DecisionStatus.WITHDRAWN and result.human_decision is None


def test_a_human_proposers_own_review_never_counts() -> None:
    history = History()
    history.author = HUMAN
    history.review(1, HUMAN, "approve").votes(1, ceo="approve")
    result = judge(history, now=2, proposed_by="carol")
    assert result.status is DecisionStatus.PENDING and result.missing == ("dao",)
