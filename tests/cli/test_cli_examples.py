"""The examples a user hit (issue 10, sections 4 and 6): each gives a clear error and the
documented exit code, and the small things behave as a user expects."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import redis
from support import local_repo

from aito import bootstrap
from aito.bus import keys
from aito.forge.base import Identity
from aito.org import loading
from aito.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def git(repo: Path, *args: str) -> str:
    return local_repo.git(repo, *args).strip()


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)


PROPOSE = ("decide", "propose", "--as", "cto", "--tier", "major", "--title")
"""A valid proposal but for its title (and what a case adds)."""


@pytest.fixture
def aito(governance_repo: Path, postgres_url: str, redis_url: str, monkeypatch, run_aito):  # type: ignore[no-untyped-def]
    """`aito --repo <a git governance repo>` on the session's real services."""
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = run_aito("--repo", str(governance_repo), *args)
        assert "Traceback" not in result.out + result.err, result.err
        return result

    return run


def _propose(aito, title: str = "New CDN") -> None:  # type: ignore[no-untyped-def]
    made = aito(*PROPOSE, title)
    assert made.code == 0, made.err


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (
            ["decide", "tally", "1", "--now", "tomorrow"],
            2,
            "'--now': 'tomorrow' is not an ISO 8601",
        ),
        (["decide", "status", "--now", "2025-13-45"], 2, "is not an ISO 8601 time"),
        (
            [*PROPOSE, "T", "--file", "X=/nonexistent"],
            2,
            "'--file': File '/nonexistent' does not exist",
        ),
        (
            [*PROPOSE, "T", "--file", "../outside.md=/etc/hostname"],
            2,
            "has an empty, . or .. segment",
        ),
        ([*PROPOSE, "T", "--amount", "-5"], 2, "'--amount': -5 is negative"),
        ([*PROPOSE, "T", "--amount", "inf"], 2, "not a finite number"),
        ([*PROPOSE, ""], 2, "'--title': must not be empty"),
        (
            ["decide", "propose", "--as", "nobody", "--tier", "major", "--title", "T"],
            2,
            "no agent 'nobody'",
        ),
        (["decide", "review", "1", "--as", "ceo", "--approve", "--veto"], 2, "exactly one of"),
        (["decide", "review", "1", "--as", "ceo"], 2, "exactly one of"),
        (["bus", "send", "--to", "nobody"], 2, "'--to': no agent 'nobody'"),
        (["bus", "tail", "cmo", "--count", "-1"], 2, "-1 is not in the range"),
        (["memory", "history", "cmo", "--limit", "-1"], 2, "-1 is not in the range"),
        (["memory", "history", "nobody"], 2, "no agent 'nobody'"),
        (["agent", "runs", "--limit", "-1"], 2, "-1 is not in the range"),
        (["agent", "run", "nobody"], 2, "no agent 'nobody'"),
        (["agent", "run", "content-writer"], 2, "is a worker kind"),
        (["agent", "run", "--all", "--run-id", "x"], 2, "--all runs each agent's due"),
        (["agent", "run", "--all", "--force"], 2, "--all runs each agent's due"),
        (["agent", "run", "--all", "--trigger", "schedule"], 2, "--all runs each agent's due"),
        (["agent", "daemon", "ceo", "--poll-seconds", "nan"], 2, "is not a number"),
        (["budget", "--agent", "nobody"], 2, "no agent 'nobody'"),
        (["decide", "tally", "99"], 4, "no pull request #99"),
        (["decide", "review", "99", "--as", "ceo", "--approve"], 4, "no pull request #99"),
        (["decide", "hold", "99"], 4, "no pull request #99"),
    ],
)
def test_bad_input_is_a_clear_error_with_the_documented_code(
    aito,  # type: ignore[no-untyped-def]
    args: list[str],
    code: int,
    says: str,
) -> None:
    result = aito(*args)
    assert result.code == code, result.err
    assert says in " ".join(result.err.split())


def test_a_message_to_an_unknown_agent_is_not_delivered(aito, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    assert aito("bus", "send", "--to", "nobody").code == 2
    client = redis.Redis.from_url(redis_url)
    assert client.xlen(keys.agent_stream("nobody")) == 0
    assert not client.keys("*nobody*")


def test_a_pull_request_that_is_not_a_decision_is_exit_4(  # type: ignore[no-untyped-def]
    aito, governance_repo: Path
) -> None:
    settings = Settings.from_env({}, repo=governance_repo)
    org = loading.load_valid(governance_repo)
    forge = bootstrap.forge(settings, org)
    author = Identity(login=org.org.bots["cto"].login, id=org.org.bots["cto"].id)
    forge.commit_files(
        branch="plain", base="main", files={"notes.md": b"hi\n"}, message="notes", author=author
    )
    pull = forge.open_pull(head="plain", base="main", title="notes", body="", author=author)

    for args in (["decide", "tally", str(pull.number)], ["decide", "hold", str(pull.number)]):
        result = aito(*args)
        assert result.code == 4, result.err


def test_agent_show_prints_plain_text_not_python_reprs(aito) -> None:  # type: ignore[no-untyped-def]
    result = aito("agent", "show", "cmo")
    assert result.code == 0, result.err
    assert "[" not in result.out.replace("[bot]", "") and "{'" not in result.out
    lines = result.out.splitlines()
    assert "paths        content/**, campaigns/**" in lines
    assert any(line.startswith("  spend limits usd") and "alone: 100" in line for line in lines)
    assert json.loads(aito("agent", "show", "cmo", "--json").out)["paths"] == [
        "content/**",
        "campaigns/**",
    ]


def test_a_monthly_cron_validates_and_runs(aito, governance_repo: Path) -> None:  # type: ignore[no-untyped-def]
    cmo = governance_repo / "org/agents/cmo.yaml"
    cmo.write_text(cmo.read_text().replace("schedule: 4h", "schedule: 0 7 1 * *"))
    assert aito("validate").code == 0
    assert aito("render").code == 0
    workflow = (governance_repo / ".github/workflows/agent-cmo.yml").read_text()
    assert '- cron: "0 7 1 * *"' in workflow
    commit_all(governance_repo, "cron")

    every = aito("agent", "run", "--all", "--json")
    assert every.code == 0, every.err
    runs = {run["agent"]: run["run_id"] for run in json.loads(every.out)}
    assert runs["cmo"].startswith("cmo:schedule:") and runs["cmo"].endswith("01T0700")
    scheduled = aito("agent", "run", "cmo", "--trigger", "schedule", "--json")
    assert scheduled.code == 0, scheduled.err
    assert json.loads(scheduled.out)["run_id"] == runs["cmo"]  # the same slot: done once


def test_status_all_shows_closed_decisions(aito) -> None:  # type: ignore[no-untyped-def]
    _propose(aito)
    assert aito("decide", "review", "1", "--as", "ceo", "--veto").code == 0
    assert aito("decide", "review", "1", "--as", "dao", "--veto", "--json").code == 0
    assert json.loads(aito("decide", "tally", "1", "--json").out)["status"] == "rejected"

    assert "no open decisions" in aito("decide", "status").out
    closed = json.loads(aito("decide", "status", "--all", "--json").out)
    assert [(d["pr"], d["status"]) for d in closed] == [(1, "rejected")]
    assert "rejected" in aito("decide", "status", "--all").out


def test_hold_and_review_report_json(aito) -> None:  # type: ignore[no-untyped-def]
    _propose(aito)
    assert json.loads(aito("decide", "hold", "1", "--json").out) == {"pr": 1, "held": True}
    assert json.loads(aito("decide", "unhold", "1", "--json").out) == {"pr": 1, "held": False}
    voted = json.loads(aito("decide", "review", "1", "--as", "ceo", "--approve", "--json").out)
    assert voted["vote"] == "approve" and voted["as"] == "ceo"


# -- the data directory, and services a command starts --------------------------------


def test_an_unusable_data_dir_is_a_configuration_error(  # type: ignore[no-untyped-def]
    governance_repo: Path, tmp_path: Path, run_aito
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for command in (["agent", "runs"], ["budget"], ["decide", "status"], ["services", "up"]):
        result = run_aito(
            "--repo", str(governance_repo), "--data-dir", str(blocker / "data"), *command
        )
        assert result.code == 3, (command, result.err)
        assert "data directory" in result.err and "--data-dir" in result.err
        assert "Traceback" not in result.err


def test_a_read_only_command_says_when_it_started_the_embedded_services(  # type: ignore[no-untyped-def]
    governance_repo: Path, tmp_path: Path, run_aito
) -> None:
    data = tmp_path / "data"
    args = ("--repo", str(governance_repo), "--data-dir", str(data))
    try:
        first = run_aito(*args, "agent", "runs")
        assert first.code == 0, first.err
        assert "started the embedded Postgres and Redis" in first.err
        assert "no runs recorded" in first.out  # stdout stays the result
        again = run_aito(*args, "agent", "runs", "--json")
        assert again.code == 0 and "started" not in again.err
        assert json.loads(again.out) == []
    finally:
        run_aito(*args, "services", "down")


# -- AITO's own checkout is not a governance repo to act in ---------------------------


@pytest.fixture
def source_checkout(governance_repo: Path) -> Path:
    """A copy of what a checkout of AITO looks like: the package beside the example org."""
    (governance_repo / "aito").mkdir()
    (governance_repo / "aito" / "__init__.py").write_text('"""AITO."""\n')
    shutil.copy(REPO_ROOT / "pyproject.toml", governance_repo / "pyproject.toml")
    commit_all(governance_repo, "src")
    return governance_repo


def _git_state(repo: Path) -> tuple[str, str]:
    return git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--list")


def test_acting_commands_do_not_commit_into_a_source_checkout(  # type: ignore[no-untyped-def]
    aito, source_checkout: Path
) -> None:
    before = _git_state(source_checkout)
    for command in (
        ["agent", "run", "cmo"],
        ["agent", "run", "--all"],
        [*PROPOSE, "T"],
        ["decide", "tally", "--all"],
    ):
        result = aito(*command)
        assert result.code == 3, (command, result.err)
        assert "source checkout" in result.err and "aito demo" in result.err
    assert _git_state(source_checkout) == before
    assert aito("decide", "status").code == 0  # reading is fine
    assert aito("validate").code == 0


# -- aito init -------------------------------------------------------------------------


def _without_git_identity(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    for name in ("NAME", "EMAIL"):
        for who in ("AUTHOR", "COMMITTER"):
            monkeypatch.delenv(f"GIT_{who}_{name}", raising=False)
    monkeypatch.delenv("EMAIL", raising=False)


def test_init_makes_the_first_commit_even_without_a_git_identity(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_aito
) -> None:
    _without_git_identity(monkeypatch, tmp_path / "home")
    target = tmp_path / "my-org"

    made = run_aito("init", str(target), "--json")

    assert made.code == 0, made.err
    info = json.loads(made.out)
    assert info["commit"] == git(target, "rev-parse", "HEAD")
    assert git(target, "log", "--format=%an <%ae>") == "aito init <aito-init@localhost>"
    assert git(target, "branch", "--show-current") == "main"
    assert git(target, "status", "--porcelain") == ""  # everything is in the commit
    tracked = git(target, "ls-files").splitlines()
    assert "org/org.yaml" in tracked and ".github/CODEOWNERS" in tracked


def test_init_commits_as_the_configured_git_user(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_aito
) -> None:
    _without_git_identity(monkeypatch, tmp_path / "home")
    (tmp_path / "home" / ".gitconfig").write_text(
        "[user]\n\tname = Ada\n\temail = ada@example.com\n"
    )
    target = tmp_path / "my-org"

    assert run_aito("init", str(target)).code == 0
    assert git(target, "log", "--format=%an <%ae>") == "Ada <ada@example.com>"


def test_init_into_an_existing_repo_leaves_committing_to_you(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_aito
) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    subprocess.run(["git", "init", "-q", str(target)], check=True)

    made = run_aito("init", str(target))

    assert made.code == 0, made.err
    assert "already a git repository" in made.err
    assert git(target, "rev-list", "--all") == ""  # no commit made
    assert "?? org/" in git(target, "status", "--porcelain")


def test_a_decision_can_be_proposed_right_after_init(  # type: ignore[no-untyped-def]
    tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, run_aito
) -> None:
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    target = tmp_path / "fresh"
    assert run_aito("init", str(target)).code == 0

    made = run_aito("--repo", str(target), *PROPOSE, "T")

    assert made.code == 0, made.err
