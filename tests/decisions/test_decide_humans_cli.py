"""`aito decide propose --as-human`, `new`, `merge`, `close` and `status --all` as a user
runs them on the local forge, with the real services (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
import yaml
from support.humans import CAROL, DAVE, MAINTAINER, OUTSIDER, with_people
from support.local_repo import git

from aito.bus import keys
from aito.decisions import alerting
from aito.forge.local import LocalForge


@pytest.fixture
def governance_repo(example_repo: Path) -> Path:
    with_people(example_repo)
    (example_repo / ".gitignore").write_text(".aito/\n")
    git(example_repo, "init", "-q", "-b", "main")
    git(example_repo, "add", "-A")
    git(example_repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "org")
    return example_repo


@pytest.fixture
def decide(governance_repo: Path, postgres_url: str, redis_url: str, monkeypatch, run_aito):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return run_aito("--repo", str(governance_repo), "decide", *args)

    return run


def forge_of(repo: Path) -> LocalForge:
    return LocalForge(repo=repo, store=repo / ".aito" / "forge")


def propose_as_carol(decide, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    carried = tmp_path / "c.md"
    carried.write_text("# C\n")
    proposed = decide(
        "propose", "--as-human", CAROL.login, "--tier", "major", "--title", "Carol's campaign",
        "--body", "why", "--file", f"content/c.md={carried}", "--json",
    )  # fmt: skip
    assert proposed.code == 0, proposed.err
    info = json.loads(proposed.out)
    assert info["tally"]["proposed_by"] == CAROL.login
    assert info["tally"]["missing"] == ["ceo", "dao"]
    return str(info["pr"])


def escalate(decide, pr: str) -> None:  # type: ignore[no-untyped-def]
    for voter, choice in (("ceo", "--approve"), ("dao", "--veto")):
        assert decide("review", pr, "--as", voter, choice).code == 0
    assert json.loads(decide("tally", pr, "--json").out)["round"] == 2
    for advisor in ("cmo", "cto", "cfo", "coo", "cco"):
        assert decide("review", pr, "--as", advisor, "--comment", "--body", "analysis").code == 0
    assert json.loads(decide("tally", pr, "--json").out)["round"] == 3
    for voter, choice in (
        ("ceo", "--approve"), ("cto", "--approve"), ("dao", "--veto"), ("cfo", "--veto"),
        ("cmo", "--abstain"), ("coo", "--abstain"), ("cco", "--abstain"),
    ):  # fmt: skip
        assert decide("review", pr, "--as", voter, choice).code == 0
    assert json.loads(decide("tally", pr, "--json").out)["status"] == "escalated"


def test_a_human_proposes_and_a_maintainers_merge_is_recorded_and_told(
    decide, governance_repo: Path, redis_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    pr = propose_as_carol(decide, tmp_path)
    assert forge_of(governance_repo).pull(int(pr)).author == CAROL
    escalate(decide, pr)
    merged = decide("merge", pr, "--as", MAINTAINER.login, "--json")
    assert merged.code == 0, merged.err
    data = json.loads(merged.out)
    assert data["status"] == "approved" and data["decided_by"] == MAINTAINER.login
    assert data["decided_via"] == "merge" and data["human_decision"] == "approve"
    assert (governance_repo / "content/c.md").read_text() == "# C\n"

    listing = json.loads(decide("status", "--all", "--json").out)
    [closed] = [d for d in listing if d["pr"] == int(pr)]
    assert [r["round"] for r in closed["rounds"]] == [1, 2, 3]
    assert closed["rounds"][0]["votes"] == {"ceo": "approve", "dao": "veto"}
    assert closed["decided_via"] == "merge" and closed["decided_at"] is not None
    text = decide("status", "--all").out
    assert "round 3 (final): " in text and f"human decision: approve, {MAINTAINER.login}" in text

    # The voters are told on the bus, once; the human proposer is the PR's author.
    bus = redis.Redis.from_url(redis_url, decode_responses=True)
    for voter in ("ceo", "cto"):
        messages = [json.loads(f["message"]) for _, f in bus.xrange(keys.agent_stream(voter))]
        told = [m for m in messages if m["type"] == "decision"]
        assert [m["payload"]["status"] for m in told] == ["escalated", "approved"]
        assert told[-1]["payload"]["decided_via"] == "merge"


def test_a_maintainers_close_is_a_rejection(decide, governance_repo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pr = propose_as_carol(decide, tmp_path)
    closed = decide("close", pr, "--as", MAINTAINER.login, "--json")
    assert closed.code == 0, closed.err
    assert json.loads(closed.out)["status"] == "rejected"
    decision_id = json.loads(closed.out)["decision_id"]
    record = yaml.safe_load((governance_repo / f"org/decisions/{decision_id}.yaml").read_text())
    assert (record["human_decision"], record["decided_via"]) == ("reject", "close")


def test_a_merge_by_an_outsider_alerts_the_maintainers(
    decide, governance_repo: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    pr = propose_as_carol(decide, tmp_path)
    unknown = decide("merge", pr, "--as", OUTSIDER.login)
    assert unknown.code == 2 and "--user-id" in unknown.err  # who is it, by id?
    merged = decide("merge", pr, "--as", OUTSIDER.login, "--user-id", str(OUTSIDER.id), "--json")
    assert merged.code == 0, merged.err
    data = json.loads(merged.out)
    assert data["status"] == "escalated" and OUTSIDER.login in data["violation"]
    assert any(change.startswith("alerted the maintainers") for change in data["changes"])
    [alert] = forge_of(governance_repo).issues(labels=[alerting.ALERT_LABEL])
    assert f"@{MAINTAINER.login}" in alert.body
    assert "violation" in decide("status", "--all").out


def test_propose_as_human_is_refused_above_the_ceiling_and_for_strangers(
    decide, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    above = decide(
        "propose", "--as-human", DAVE.login, "--tier", "major", "--title", "T", "--body", "x"
    )
    assert above.code == 5 and "may propose up to minor" in above.err
    stranger = decide(
        "propose", "--as-human", OUTSIDER.login, "--tier", "minor", "--title", "T", "--body", "x"
    )
    assert stranger.code == 2 and "neither an agent" in stranger.err
    both = decide("propose", "--as", "cmo", "--as-human", CAROL.login, "--tier", "minor",
                  "--title", "T")  # fmt: skip
    assert both.code == 2


def test_new_prints_and_writes_a_record_template(decide, governance_repo: Path) -> None:  # type: ignore[no-untyped-def]
    printed = decide("new", "--as-human", CAROL.login, "--tier", "major", "--title", "Hand made")
    assert printed.code == 0, printed.err
    record = yaml.safe_load(printed.out)
    assert record["proposed_by"] == CAROL.login and record["tier"] == "major"
    assert record["id"].endswith("-hand-made") and "status" not in record
    assert printed.out.startswith("# A decision record")

    written = decide(
        "new", "--as-human", DAVE.login, "--tier", "minor", "--title", "Hand made", "--write",
        "--json",
    )  # fmt: skip
    assert written.code == 0, written.err
    info = json.loads(written.out)
    assert (governance_repo / info["path"]).read_text() == info["record"]

    refused = decide("new", "--as-human", DAVE.login, "--tier", "critical", "--title", "T")
    assert refused.code == 5 and "may propose up to minor" in refused.err
