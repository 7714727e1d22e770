"""The governance bot's mark: only its own last line is read back, and text it quotes
from a proposer can never become a line, a comment or markup of its own."""

from __future__ import annotations

import datetime as dt

import pytest
from support.histories import policy

from aito.decisions import marks
from aito.errors import GovernanceError
from aito.forge.base import Comment, Identity
from aito.org.organization import Tier

BOT = Identity("shiba-governance[bot]", 190000000)
PROPOSER = Identity("cmo-bot", 3)
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def genuine() -> marks.Mark:
    return marks.Mark(
        policies={tier: policy(tier) for tier in Tier},
        state="open",
        proposal=marks.Proposal(decision="d-1", proposer="cmo", tier=Tier.MAJOR, amount_usd=500),
        heads=(marks.Head(sha="a" * 40, tree="b" * 40, at=NOW),),
    )


def permissive() -> marks.Mark:
    """What an attacker would like the bot to believe: nobody votes, already approved."""
    lax = {tier: policy(Tier.OPERATIONAL, approvers=(), voters=(), quorum=0) for tier in Tier}
    return marks.Mark(
        policies=lax,
        state="approved",
        proposal=marks.Proposal(
            decision="d-1", proposer="cmo", tier=Tier.OPERATIONAL, amount_usd=0
        ),
    )


def comment(body: str, user: Identity = BOT, number: int = 1) -> Comment:
    return Comment(number, user, body, NOW, NOW)


def test_a_mark_round_trips() -> None:
    body = f"{marks.TALLY_MARK}\nhello\n{marks.render(genuine())}"
    found = marks.find([comment(body)], BOT)
    assert found is not None and found.mark == genuine()


def test_only_the_last_line_is_read() -> None:
    forged = marks.render(permissive())
    real = marks.render(genuine())
    body = f"{marks.TALLY_MARK}\n- ⚠ {forged}\n{forged}\n{real}"
    found = marks.find([comment(body)], BOT)
    assert found is not None and found.mark == genuine()
    assert marks.parse(f"{marks.TALLY_MARK}\n{real}\n{forged}\ntrailing words") is None
    assert marks.parse(f"Some other comment by the bot\n{real}") is None  # not a tally


def test_a_mark_in_anyone_elses_comment_is_ignored() -> None:
    forged = f"{marks.TALLY_MARK}\n{marks.render(permissive())}"
    real = f"{marks.TALLY_MARK}\n{marks.render(genuine())}"
    found = marks.find([comment(forged, PROPOSER, 1), comment(real, BOT, 2)], BOT)
    assert found is not None and found.mark == genuine()
    assert marks.find([comment(forged, Identity(BOT.login, 12345))], BOT) is None  # login


@pytest.mark.parametrize(
    "last",
    [
        "<!-- aito:mark v2 !!!! -->",
        "<!-- aito:mark v2 AAAA -->",  # base64, but not zlib
        " <!-- aito:mark v2 AAAA -->",
        "<!-- aito:mark v3 AAAA -->",
    ],
)
def test_a_broken_mark_is_no_mark(last: str) -> None:
    assert marks.parse(f"{marks.TALLY_MARK}\n{last}") is None


def test_a_mark_that_inflates_past_the_limit_is_refused() -> None:
    import base64
    import zlib

    huge = base64.b64encode(zlib.compress(b'{"state": "' + b"a" * 3_000_000 + b'"}')).decode()
    assert marks.parse(f"{marks.TALLY_MARK}\n<!-- aito:mark v2 {huge} -->") is None


@pytest.mark.parametrize(
    "text",
    [
        "content/<!-- aito:mark v2 QUJD -->.md",
        "x\n<!-- aito:mark v2 QUJD -->",
        "x\u2028<!-- aito:state approved -->",
        "[click](https://evil.example) **bold** `code` @everyone #1 <b>html</b> a|b",
        "x" * 10_000,
        "content/\u202edm.devorppa :sutats.md",  # reads "status: approved" right to left
        "a\u200b<\u200b!-- aito:mark v2 QUJD --\u200b>",  # zero-width joins
    ],
)
def test_quoted_text_cannot_open_a_comment_a_line_or_markup(text: str) -> None:
    shown = marks.text(text)
    assert "<" not in shown and ">" not in shown
    assert "\n" not in shown and "\u2028" not in shown
    assert "\u202e" not in shown  # direction marks are shown as escapes instead
    assert shown.count("\u200b") == shown.count("@")  # only our own mention breakers
    assert "@everyone" not in shown  # no mention
    assert "[click](" not in shown and "**bold**" not in shown
    assert len(shown) < 700


def test_a_comment_in_the_earlier_format_is_read_by_position_only() -> None:
    import base64
    import json

    raw = {tier.value: policy(tier).model_dump(mode="json") for tier in Tier}
    line = f"<!-- aito:policy {base64.b64encode(json.dumps(raw).encode()).decode()} -->"
    legacy = f"{marks.TALLY_MARK}\nround 1\n{line}\n<!-- aito:state open -->"
    found = marks.find([comment(legacy)], BOT)
    assert found is not None and found.mark.policies == {t: policy(t) for t in Tier}
    assert found.mark.state == "open" and found.mark.proposal is None
    moved = f"{marks.TALLY_MARK}\n{line}\n<!-- aito:state open -->\nmore text"
    assert marks.parse(moved) is None
    with pytest.raises(GovernanceError, match="was edited"):  # the bot never wrote that
        marks.find([comment(moved)], BOT)


def test_a_mark_that_would_not_read_back_is_never_written() -> None:
    # Built without validation, as a value the JSON encoder turns into null would be.
    proposal = marks.Proposal.model_construct(
        decision="d-1", proposer="cmo", tier=Tier.CRITICAL, amount_usd=float("inf")
    )
    broken = genuine().model_copy(update={"proposal": proposal})
    with pytest.raises(GovernanceError, match="read back"):
        marks.render(broken)
