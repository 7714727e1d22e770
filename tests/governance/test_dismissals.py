"""Only a voter's own later review, or a maintainer, changes that voter's vote."""

from __future__ import annotations

from support.histories import MAINTAINER, OUTSIDER, History, verdict

from aito.governance.tallying import Stage
from aito.org.organization import Tier
from aito.org.records import DecisionStatus, Vote


def test_the_proposer_dismissing_a_veto_does_not_withdraw_it() -> None:
    history = History(proposer="cmo").votes(1, ceo="approve", dao="veto")
    history.dismiss(2, "dao", by="cmo")
    result = verdict(history, now=3)
    assert (result.stage, result.round) == (Stage.ANALYSIS, 2)  # still a split round 1
    assert result.rounds[0].votes == {"ceo": Vote.APPROVE, "dao": Vote.VETO}
    assert any("cmo" in note and "still counts" in note for note in result.notes)


def test_a_dismissal_before_the_other_vote_cannot_turn_a_veto_into_an_approval() -> None:
    # The veto is dismissed by the proposer, then the CEO approves: without the rule the
    # DAO's seat would look empty and a later DAO approval would pass it.
    history = History(proposer="cmo").votes(1, dao="veto").dismiss(2, "dao", by="cmo")
    history.votes(3, ceo="approve")
    result = verdict(history, now=4)
    assert result.status is DecisionStatus.PENDING and result.stage is Stage.ANALYSIS


def test_another_voter_dismissing_a_vote_does_not_withdraw_it() -> None:
    history = History().votes(1, ceo="veto", dao="veto").dismiss(2, "dao", by="ceo")
    assert verdict(history, now=3).status is DecisionStatus.REJECTED
    history = History().votes(1, ceo="approve").dismiss(2, "ceo", by=OUTSIDER)
    result = verdict(history.votes(3, dao="approve"), now=4)
    assert result.status is DecisionStatus.APPROVED
    assert any("still counts" in note for note in result.notes)


def test_the_voter_may_withdraw_its_own_vote() -> None:
    history = History().votes(1, ceo="approve").dismiss(2, "ceo", by="ceo")
    result = verdict(history.votes(3, dao="approve"), now=4)
    assert result.status is DecisionStatus.PENDING and result.missing == ("ceo",)
    assert result.notes == ()


def test_a_maintainer_may_withdraw_a_vote() -> None:
    history = History().votes(1, ceo="veto", dao="approve").dismiss(2, "ceo", by=MAINTAINER)
    result = verdict(history, now=3)
    # The split of round 1 happened at hour 1; the dismissal cannot undo a finished round.
    assert result.stage is Stage.ANALYSIS
    lazy = History().votes(1, ceo="veto")
    assert verdict(lazy, now=2, tier=Tier.MINOR).status is DecisionStatus.REJECTED
    pending = History().votes(1, ceo="approve").dismiss(2, "ceo", by=MAINTAINER)
    assert verdict(pending.votes(3, dao="approve"), now=4).missing == ("ceo",)


def test_dismissing_an_old_review_does_not_touch_a_newer_vote() -> None:
    history = History().votes(1, ceo="veto").votes(2, ceo="approve")
    history.dismiss(3, "ceo", by="ceo")  # the latest review (the approval) is withdrawn
    assert verdict(history, now=4).missing == ("ceo", "dao")


def test_a_maintainer_rejection_dismissed_by_a_bot_stands() -> None:
    history = History().review(1, MAINTAINER, "veto").dismiss(2, MAINTAINER, by="cmo")
    result = verdict(history, now=3)
    assert result.status is DecisionStatus.REJECTED
