"""`aito decide …` as a user runs it, on the local forge, with the real services."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import redis

from aito.bus import keys


@pytest.fixture
def decide(governance_repo: Path, postgres_url: str, redis_url: str, monkeypatch, run_aito):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return run_aito("--repo", str(governance_repo), "decide", *args)

    return run


def test_propose_review_tally_record_and_notify(
    decide,
    governance_repo: Path,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    body = tmp_path / "campaign.md"
    body.write_text("Three influencers for a month.")
    carried = tmp_path / "q1.md"
    carried.write_text("# Q1 campaign\n")
    proposed = decide(
        "propose",
        "--as",
        "cmo",
        "--tier",
        "major",
        "--title",
        "Q1 influencer campaign",
        "--body-file",
        str(body),
        "--amount",
        "400",
        "--file",
        f"content/campaigns/q1.md={carried}",
        "--json",
    )
    assert proposed.code == 0, proposed.err
    info = json.loads(proposed.out)
    pr = str(info["pr"])
    assert info["tally"]["status"] == "pending" and info["tally"]["missing"] == ["ceo", "dao"]

    assert decide("review", pr, "--as", "ceo", "--approve", "--body", "good").code == 0
    assert decide("review", pr, "--as", "dao", "--approve").code == 0
    tallied = decide("tally", pr, "--json")
    data = json.loads(tallied.out)
    for key in (
        "pr",
        "decision_id",
        "tier",
        "status",
        "round",
        "votes",
        "missing",
        "head_sha",
        "reason",
    ):
        assert key in data
    assert data["status"] == "approved" and data["votes"] == {"ceo": "approve", "dao": "approve"}
    assert any(change.startswith("merged") for change in data["changes"])
    assert (governance_repo / "content/campaigns/q1.md").exists()

    again = decide("tally", pr, "--json")
    assert json.loads(again.out)["changes"] == []

    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT status, tier, ceo_vote, dao_vote, pr_number FROM decisions WHERE id = %s",
            (data["decision_id"],),
        ).fetchone()
        history = conn.execute(
            "SELECT agent_id FROM agent_history WHERE action_type = 'decision' ORDER BY agent_id"
        ).fetchall()
    assert row == ("approved", "major", "approve", "approve", int(pr))
    assert ("cmo",) in history and ("ceo",) in history
    inbox = redis.Redis.from_url(redis_url, decode_responses=True).xrange(keys.agent_stream("cmo"))
    messages = [json.loads(fields["message"]) for _, fields in inbox]
    assert len(messages) == 1  # announced once, although tallied twice
    assert messages[0]["type"] == "decision" and messages[0]["payload"]["status"] == "approved"


def test_a_tier_below_authority_is_refused_with_exit_5(decide) -> None:  # type: ignore[no-untyped-def]
    result = decide(
        "propose",
        "--as",
        "cmo",
        "--tier",
        "minor",
        "--title",
        "Big spend",
        "--body",
        "x",
        "--amount",
        "5000",
    )
    assert result.code == 5
    assert "needs at least critical" in result.err


def test_status_lists_open_decisions_and_hold(decide) -> None:  # type: ignore[no-untyped-def]
    decide(
        "propose",
        "--as",
        "cto",
        "--tier",
        "major",
        "--title",
        "New CDN",
        "--body",
        "x",
        "--amount",
        "300",
    )
    assert decide("hold", "1").code == 0
    listing = json.loads(decide("status", "--json").out)
    assert [(d["pr"], d["held"], d["status"]) for d in listing] == [(1, True, "pending")]
    text = decide("status").out
    assert "round 1" in text and "missing: ceo, dao" in text
    assert decide("unhold", "1").code == 0
    assert json.loads(decide("status", "--json").out)[0]["held"] is False


def test_minor_merges_after_the_deadline_with_now(decide, governance_repo: Path) -> None:  # type: ignore[no-untyped-def]
    decide(
        "propose",
        "--as",
        "cmo",
        "--tier",
        "minor",
        "--title",
        "Post schedule",
        "--body",
        "x",
        "--amount",
        "20",
    )
    early = json.loads(decide("tally", "1", "--json").out)
    assert early["status"] == "pending"
    late = decide("tally", "1", "--json", "--now", "2099-01-01T00:00:00+00:00")
    assert json.loads(late.out)["status"] == "approved"


def test_review_as_an_unknown_identity_is_refused(decide) -> None:  # type: ignore[no-untyped-def]
    decide("propose", "--as", "cto", "--tier", "major", "--title", "T", "--body", "x")
    result = decide("review", "1", "--as", "mallory", "--approve")
    assert (
        result.code == 2 and "neither an agent" in result.err
    )  # a bad option, like any unknown agent


def test_tally_of_a_pull_that_is_not_a_decision_is_a_governance_error(decide) -> None:  # type: ignore[no-untyped-def]
    missing = decide("tally", "99")  # no such pull request: the user's mistake, not the forge's
    assert missing.code == 4 and "no pull request #99" in missing.err


def test_a_dirty_working_tree_cannot_make_a_maintainer(decide, governance_repo: Path) -> None:  # type: ignore[no-untyped-def]
    proposed = decide(
        "propose", "--as", "cmo", "--tier", "critical", "--title", "Risky", "--body", "x",
        "--json",
    )  # fmt: skip
    assert proposed.code == 0, proposed.err
    pr = str(json.loads(proposed.out)["pr"])
    for voter in ("ceo", "dao"):
        assert decide("review", pr, "--as", voter, "--approve").code == 0
    org_yaml = governance_repo / "org/org.yaml"
    org_yaml.write_text(
        org_yaml.read_text().replace(
            "maintainers:\n", "maintainers:\n  - login: mallory\n    id: 666\n"
        )
    )  # not committed: the local forge has no login, so anyone may review as mallory …
    assert decide("review", pr, "--as", "mallory", "--approve").code == 0
    tallied = json.loads(decide("tally", pr, "--json").out)
    # … but only the committed governance branch says who the maintainers are.
    assert tallied["status"] == "pending" and tallied["stage"] == "maintainer"
    assert tallied["human_decision"] is None
