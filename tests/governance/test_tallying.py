"""Every rule of the decision/veto loop, one history at a time (table-driven)."""

from __future__ import annotations

import pytest
from support.histories import MAINTAINER, OUTSIDER, History, policy, verdict

from aito.governance.tallying import ActionKind, Stage
from aito.org.organization import Tier
from aito.org.records import DecisionStatus, HumanDecision, Vote

APPROVED, REJECTED, PENDING, ESCALATED, WITHDRAWN = (
    DecisionStatus.APPROVED,
    DecisionStatus.REJECTED,
    DecisionStatus.PENDING,
    DecisionStatus.ESCALATED,
    DecisionStatus.WITHDRAWN,
)
ALL_C_LEVEL_ANSWER = {
    "cmo": "comment",
    "cto": "comment",
    "cfo": "comment",
    "coo": "comment",
    "cco": "comment",
}


def split_then_analysis(history: History) -> History:
    """Round 1 split at 1 h, every advisor answers by 3 h: round 3 starts at 3 h."""
    history.votes(1, ceo="approve", dao="veto")
    for hours, who in enumerate(("cmo", "cto", "cfo", "coo", "cco"), start=2):
        history.comment(min(hours, 3), who)
    return history


CASES = [
    # id, history, now, expected status, stage, round
    (
        "both-approve",
        lambda: History().votes(1, ceo="approve", dao="approve"),
        2,
        APPROVED,
        Stage.DONE,
        1,
    ),
    ("both-veto", lambda: History().votes(1, ceo="veto", dao="veto"), 2, REJECTED, Stage.DONE, 1),
    ("one-vote-waits", lambda: History().votes(1, ceo="approve"), 2, PENDING, Stage.VOTE, 1),
    (
        "split-goes-to-round-2",
        lambda: History().votes(1, ceo="approve", dao="veto"),
        2,
        PENDING,
        Stage.ANALYSIS,
        2,
    ),
    (
        "approve-and-abstain-is-a-split",
        lambda: History().votes(1, ceo="approve", dao="abstain"),
        2,
        PENDING,
        Stage.ANALYSIS,
        2,
    ),
    (
        "silence-at-deadline-is-abstention",
        lambda: History().votes(1, ceo="approve"),
        25,
        PENDING,
        Stage.ANALYSIS,
        2,
    ),
    (
        "analysis-complete-opens-final-vote",
        lambda: split_then_analysis(History()),
        4,
        PENDING,
        Stage.FINAL,
        3,
    ),
    (
        "analysis-deadline-opens-final-vote",
        lambda: History().votes(1, ceo="approve", dao="veto").comment(2, "cmo"),
        26,
        PENDING,
        Stage.FINAL,
        3,
    ),
    (
        "round-3-majority-approves",
        lambda: split_then_analysis(History()).votes(
            5, ceo="approve", dao="veto", cto="approve", cfo="approve", coo="approve", cco="veto"
        ),
        6,
        APPROVED,
        Stage.DONE,
        3,
    ),
    (
        "round-3-majority-rejects",
        lambda: split_then_analysis(History()).votes(
            5, ceo="approve", dao="veto", cto="veto", cfo="veto", coo="veto", cco="approve"
        ),
        6,
        REJECTED,
        Stage.DONE,
        3,
    ),
    (
        "round-3-tie-escalates",
        lambda: split_then_analysis(History()).votes(
            5, ceo="approve", dao="veto", cto="approve", cfo="veto", coo="abstain", cco="abstain"
        ),
        30,
        ESCALATED,
        Stage.ESCALATED,
        3,
    ),
    (
        "round-3-no-quorum-at-deadline-escalates",
        lambda: split_then_analysis(History()).votes(5, ceo="approve", dao="veto"),
        28,
        ESCALATED,
        Stage.ESCALATED,
        3,
    ),
    (
        "escalated-maintainer-approves",
        lambda: (
            split_then_analysis(History())
            .votes(5, ceo="approve", dao="veto")
            .review(29, MAINTAINER, "approve")
        ),
        30,
        APPROVED,
        Stage.DONE,
        3,
    ),
    (
        "escalated-maintainer-rejects",
        lambda: (
            split_then_analysis(History())
            .votes(5, ceo="approve", dao="veto")
            .review(29, MAINTAINER, "veto")
        ),
        30,
        REJECTED,
        Stage.DONE,
        3,
    ),
    (
        "stale-vote-after-push",
        lambda: History().votes(1, ceo="approve").push(2).votes(3, dao="approve"),
        4,
        PENDING,
        Stage.ANALYSIS,
        2,
    ),
    (
        "push-before-any-vote-keeps-round-1",
        lambda: History().push(2).votes(3, ceo="approve", dao="approve"),
        4,
        APPROVED,
        Stage.DONE,
        1,
    ),
    (
        "push-with-same-content-keeps-votes",
        lambda: (
            History().votes(1, ceo="approve").push(2, same_content=True).votes(3, dao="approve")
        ),
        4,
        APPROVED,
        Stage.DONE,
        1,
    ),
    (
        "vote-on-old-commit-does-not-count",
        lambda: History().push(1).review(2, "ceo", "approve", commit="c1").votes(2, dao="approve"),
        3,
        PENDING,
        Stage.VOTE,
        1,
    ),
    (
        "proposers-own-review-never-counts",
        lambda: History(proposer="ceo").votes(1, ceo="approve", dao="approve"),
        2,
        PENDING,
        Stage.VOTE,
        1,
    ),
    (
        "outsider-review-never-counts",
        lambda: History().review(1, OUTSIDER, "approve").votes(1, dao="approve"),
        2,
        PENDING,
        Stage.VOTE,
        1,
    ),
    (
        "dismissed-review-withdraws-the-vote",
        lambda: (
            History().votes(1, ceo="approve").review(2, "ceo", "dismissed").votes(3, dao="approve")
        ),
        4,
        PENDING,
        Stage.VOTE,
        1,
    ),
    (
        "latest-review-counts",
        lambda: History().votes(1, ceo="veto").votes(2, ceo="approve", dao="approve"),
        3,
        APPROVED,
        Stage.DONE,
        1,
    ),
    (
        "plain-comment-review-does-not-change-a-vote",
        lambda: (
            History()
            .votes(1, ceo="approve")
            .review(2, "ceo", "comment", body="approve!")
            .votes(3, dao="approve")
        ),
        4,
        APPROVED,
        Stage.DONE,
        1,
    ),
    (
        "maintainer-rejects-at-any-time",
        lambda: History().review(1, MAINTAINER, "veto"),
        2,
        REJECTED,
        Stage.DONE,
        1,
    ),
    (
        "maintainer-approval-alone-does-not-pass-major",
        lambda: History().review(1, MAINTAINER, "approve"),
        2,
        PENDING,
        Stage.VOTE,
        1,
    ),
    (
        "pushes-past-the-last-round-escalate",
        lambda: (
            History()
            .votes(1, ceo="approve")
            .push(2)
            .comment(3, "cto")
            .push(4)
            .votes(5, ceo="approve")
            .push(6)
        ),
        7,
        ESCALATED,
        Stage.ESCALATED,
        3,
    ),
]


@pytest.mark.parametrize(
    ("history", "now", "status", "stage", "round_"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_major_decision_rules(history, now, status, stage, round_) -> None:  # type: ignore[no-untyped-def]
    result = verdict(history(), now=now)
    assert (result.status, result.stage, result.round) == (status, stage, round_), result.reason


def test_approval_merges_the_evaluated_head_only() -> None:
    history = History().votes(1, ceo="approve", dao="approve")
    result = verdict(history, now=2)
    assert [a.kind for a in result.actions] == [ActionKind.MERGE]
    assert result.actions[0].sha == "c1" == result.approved_sha
    assert result.check_state == "success" and "aito/approved" in result.labels


def test_a_push_after_approval_reopens_the_decision() -> None:
    history = History().votes(1, ceo="approve", dao="approve").push(2)
    result = verdict(history, now=3)
    assert result.status is PENDING and result.round == 2 and result.approved_sha is None
    assert not any(a.kind is ActionKind.MERGE for a in result.actions)


def test_rejection_closes_and_is_final() -> None:
    history = (
        History().votes(1, ceo="veto", dao="veto").push(2).votes(3, ceo="approve", dao="approve")
    )
    result = verdict(history, now=4)
    assert result.status is REJECTED and [a.kind for a in result.actions] == [ActionKind.CLOSE]
    assert result.check_state == "failure" and "aito/rejected" in result.labels


def test_escalation_requests_the_maintainers() -> None:
    history = split_then_analysis(History()).votes(5, ceo="approve", dao="veto")
    result = verdict(history, now=28)
    assert result.missing == ("maintainers",)
    assert [(a.kind, a.logins) for a in result.actions] == [
        (ActionKind.REQUEST_MAINTAINERS, ("alice",))
    ]
    assert {"aito/escalated", "aito/round-3"} <= result.labels


def test_maintainer_decision_is_recorded_with_the_login() -> None:
    history = split_then_analysis(History()).votes(5, ceo="approve", dao="veto")
    result = verdict(history.review(29, MAINTAINER, "approve"), now=30)
    assert result.human_decision is HumanDecision.APPROVE and result.decided_by == "alice"


def test_a_bot_with_admin_permission_is_not_a_maintainer() -> None:
    history = History().review(1, "cto", "veto")
    history.maintainers.add(4)  # the forge says cto's bot has admin permission
    result = verdict(history, now=2)
    assert result.status is PENDING and result.human_decision is None


def test_hold_blocks_the_merge_without_touching_votes() -> None:
    history = History().votes(1, ceo="approve", dao="approve")
    history.labels.add("aito/hold")
    held = verdict(history, now=2)
    assert held.status is APPROVED and held.held and held.actions == ()
    assert held.check_state == "pending" and "hold" in held.check_description
    history.labels.clear()
    assert [a.kind for a in verdict(history, now=3).actions] == [ActionKind.MERGE]


def test_votes_and_missing_are_reported_for_the_current_round() -> None:
    result = verdict(History().votes(1, ceo="approve"), now=2)
    assert result.votes == {"ceo": Vote.APPROVE, "dao": None}
    assert result.missing == ("dao",)
    assert result.deadline is not None and result.deadline.hour == 9  # opened 09:00, 24 h
    assert "aito/round-1" in result.labels


def test_rounds_are_recorded_for_the_decision_file() -> None:
    history = split_then_analysis(History()).votes(
        5, ceo="approve", dao="veto", cto="approve", cfo="approve", coo="approve", cco="veto"
    )
    rounds = verdict(history, now=6).rounds
    assert [(r.round, r.stage) for r in rounds] == [
        (1, Stage.VOTE),
        (2, Stage.ANALYSIS),
        (3, Stage.FINAL),
    ]
    assert rounds[0].votes == {"ceo": Vote.APPROVE, "dao": Vote.VETO}
    assert rounds[1].analysis == ("cco", "cfo", "coo", "cto")  # not cmo: the proposer


@pytest.mark.parametrize(
    ("build", "now", "status"),
    [
        (lambda: History(), 3, PENDING),
        (lambda: History(), 5, APPROVED),  # lazy consensus: silence until the 4 h deadline
        (lambda: History().votes(1, ceo="approve"), 2, APPROVED),
        (lambda: History().votes(1, ceo="veto"), 5, REJECTED),
        (lambda: History().votes(1, dao="veto"), 5, APPROVED),  # only the CEO can veto minor
    ],
    ids=[
        "minor-waits",
        "minor-lazy-consensus",
        "minor-ceo-approves",
        "minor-ceo-vetoes",
        "minor-others-cannot-veto",
    ],
)
def test_minor_decisions(build, now, status) -> None:  # type: ignore[no-untyped-def]
    assert verdict(build(), now=now, tier=Tier.MINOR).status is status


def test_operational_decisions_need_no_vote() -> None:
    result = verdict(History(), now=0, tier=Tier.OPERATIONAL)
    assert result.status is APPROVED and result.actions[0].kind is ActionKind.MERGE


def test_critical_waits_for_a_maintainer_after_both_approve() -> None:
    history = History().votes(1, ceo="approve", dao="approve")
    waiting = verdict(history, now=2, tier=Tier.CRITICAL)
    assert waiting.status is PENDING and waiting.stage is Stage.MAINTAINER
    assert waiting.missing == ("maintainers",)
    assert waiting.actions[0].kind is ActionKind.REQUEST_MAINTAINERS
    done = verdict(history.review(3, MAINTAINER, "approve"), now=4, tier=Tier.CRITICAL)
    assert done.status is APPROVED and done.human_decision is HumanDecision.APPROVE


def test_critical_maintainer_approval_may_come_first() -> None:
    history = History().review(1, MAINTAINER, "approve").votes(2, ceo="approve", dao="approve")
    assert verdict(history, now=3, tier=Tier.CRITICAL).status is APPROVED


@pytest.mark.parametrize(
    ("closer", "status"), [(MAINTAINER, REJECTED), (3, WITHDRAWN)], ids=["maintainer", "proposer"]
)
def test_a_closed_pull_request(closer: int, status: DecisionStatus) -> None:
    history = History().votes(1, ceo="approve")
    history.status = history.status.CLOSED
    history.closed_by = closer
    result = verdict(history, now=2)
    assert result.status is status and result.actions == ()


def test_a_maintainer_merge_is_a_final_approval() -> None:
    history = History()
    history.status = history.status.MERGED
    history.merged_by = MAINTAINER
    result = verdict(history, now=1)
    assert result.status is APPROVED and result.human_decision is HumanDecision.APPROVE


@pytest.mark.parametrize("merger", [3, 1, OUTSIDER], ids=["proposer", "ceo-bot", "outsider"])
def test_a_merge_outside_governance_is_never_recorded_as_approved(merger: int) -> None:
    history = History().votes(1, ceo="approve")  # dao has not approved
    history.status = history.status.MERGED
    history.merged_by = merger
    result = verdict(history, now=2)
    assert result.status is ESCALATED and result.human_decision is None
    assert "outside governance" in result.reason and result.actions == ()
    approved = History().votes(1, ceo="approve", dao="approve")  # merged after approval
    approved.status, approved.merged_by = approved.status.MERGED, merger
    assert verdict(approved, now=2).status is APPROVED


def test_re_evaluating_gives_the_same_verdict() -> None:
    history = split_then_analysis(History()).votes(5, ceo="approve")
    assert verdict(history, now=6) == verdict(history, now=6)


def test_a_custom_max_rounds_and_quorum() -> None:
    history = split_then_analysis(History()).votes(5, ceo="approve", dao="approve", cto="veto")
    strict = policy(quorum=7)
    result = verdict(history, now=40, the_policy=strict)
    assert result.status is ESCALATED and "no quorum" in result.reason


def test_the_proposing_agent_never_votes_when_a_maintainer_opened_the_proposal() -> None:
    history = History(proposer="maintainer")  # opened by a maintainer on cmo's behalf
    history.votes(1, ceo="approve", dao="veto")
    assert "cmo" not in verdict(history, now=2).missing  # no analysis from the proposer
    for hours, who in enumerate(("cto", "cfo", "coo", "cco"), start=2):
        history.comment(hours, who)
    history.votes(6, cmo="approve", ceo="approve", cto="approve", cfo="approve")
    history.votes(6, dao="veto", coo="veto", cco="veto")
    result = verdict(history, now=7)
    assert "cmo" not in result.votes and result.status is ESCALATED  # a 3-3 tie, not 4-3
