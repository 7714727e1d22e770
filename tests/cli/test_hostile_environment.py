"""Hostile settings from the environment: a one-line error with the documented exit code.

`tests/cli/test_hostile_input.py` fuzzes options and arguments; this file does the same
for what comes from the environment (service URLs, the repo, the CI run id) and for
commands that a failing service must not leave half done. Everything runs through the
real `aito` entry point against the session's real Postgres, Redis and git.
"""

from __future__ import annotations

import importlib.abc
import sys
from pathlib import Path

import pytest
from support import local_repo

import aito.cli
from aito.cli import launching

SECRET = "s3cret-pw"

# (variable, value, what the error says): each is a configuration error (exit 3).
BAD_SETTINGS = {
    "postgres url without a scheme": ("POSTGRES_URL", "garbage", "POSTGRES_URL has no scheme"),
    "postgres url of another service": (
        "POSTGRES_URL",
        f"mysql://u:{SECRET}@127.0.0.1/db",
        "use a postgresql://",
    ),
    "postgres port that is no number": (
        "POSTGRES_URL",
        f"postgresql://u:{SECRET}@127.0.0.1:notaport/db",
        "POSTGRES_URL is not a usable URL",
    ),
    "postgres url with an unknown parameter": (
        "POSTGRES_URL",
        f"postgresql://u:{SECRET}@127.0.0.1:5432/db?bogus=1",
        "the Postgres URL is not usable",
    ),
    "redis url without a scheme": ("REDIS_URL", "garbage", "REDIS_URL has no scheme"),
    "redis port out of range": (
        "REDIS_URL",
        f"redis://:{SECRET}@127.0.0.1:99999/0",
        "REDIS_URL is not a usable URL",
    ),
    "redis database that is no number": (
        "REDIS_URL",
        f"redis://:{SECRET}@127.0.0.1:6379/first",
        "the database after the host must be a number",
    ),
    "a run id with a line break": ("GITHUB_RUN_ID", "12\n34", "GITHUB_RUN_ID '12\\n34'"),
    "a data directory with a line break": (
        "AITO_DATA_DIR",
        "/tmp/da\nta",
        "AITO_DATA_DIR contains a control character",
    ),
    "an unknown model provider": ("AITO_MODEL", "bogus", "AITO_MODEL='bogus'"),
    "an unknown forge": ("AITO_FORGE", "bogus", "AITO_FORGE='bogus'"),
}

PROPOSE = ("decide", "propose", "--as", "cto", "--tier", "major", "--title", "New CDN")
COMMANDS = (
    ("agent", "runs"),
    ("agent", "run", "cmo"),
    ("budget",),
    ("bus", "pending", "cmo"),
    ("services", "status"),
    ("memory", "history", "cmo"),
    PROPOSE,
)


@pytest.mark.parametrize(("name", "value", "says"), BAD_SETTINGS.values(), ids=BAD_SETTINGS)
def test_a_bad_setting_is_a_configuration_error_never_a_traceback(  # type: ignore[no-untyped-def]
    governance_repo: Path,
    postgres_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    run_aito,
    name: str,
    value: str,
    says: str,
) -> None:
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv(name, value)
    for command in COMMANDS:
        result = run_aito("--repo", str(governance_repo), *command)
        assert result.code == 3, (command, result.err)
        assert "Traceback" not in result.err
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.err
        assert says in lines[0]
        assert SECRET not in result.err  # a URL's password is never echoed


def test_aito_repo_naming_a_file_is_a_configuration_error(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_aito
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a repo")
    monkeypatch.setenv("AITO_REPO", str(a_file))
    for command in (("validate",), ("org", "show"), ("agent", "runs")):
        result = run_aito(*command)
        assert result.code == 3, (command, result.err)
        assert "is a file" in result.err and "Traceback" not in result.err


def test_a_proposal_that_fails_on_a_service_opens_no_pull_request(  # type: ignore[no-untyped-def]
    governance_repo: Path,
    postgres_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    run_aito,
) -> None:
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there

    failed = run_aito("--repo", str(governance_repo), *PROPOSE)

    assert failed.code == 6, failed.err
    assert "redis" in failed.err.lower() and "Traceback" not in failed.err
    branches = local_repo.git(governance_repo, "branch", "--list", "aito/decision/*")
    assert branches.strip() == ""  # nothing was opened, so trying again makes no twin

    monkeypatch.setenv("REDIS_URL", redis_url)
    again = run_aito("--repo", str(governance_repo), *PROPOSE, "--json")
    assert again.code == 0, again.err
    assert '"pr": 1' in again.out


def test_ctrl_c_while_the_command_line_loads_is_a_quiet_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script's own import is where a very early Ctrl-C lands."""

    class Interrupted(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object, target: object = None) -> None:
            if name == "aito.cli.main":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "aito.cli.main")
    monkeypatch.delattr(aito.cli, "main")
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])

    with pytest.raises(SystemExit) as exited:
        launching.main()

    assert exited.value.code == 130
    assert capsys.readouterr().err == "aborted\n"  # one line, no traceback
