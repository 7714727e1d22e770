"""Shared fixtures: a copy of the example org, real embedded Postgres and Redis, the CLI.

Tests never touch POSTGRES_URL / REDIS_URL (they may point at production); they run
their own embedded servers in a temporary directory, or use AITO_TEST_POSTGRES_URL /
AITO_TEST_REDIS_URL when those are set (servers the tests may freely write to).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import psycopg
import pytest
import redis
from support import agent_world, browser, docker_engine
from support.local_repo import git

from aito.bus.redis import RedisBus
from aito.cli.main import main
from aito.memory import postgres
from aito.memory.postgres import PostgresMemory
from aito.services import managing
from aito.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


# Never production services, never a real model: a developer's ANTHROPIC_API_KEY would
# otherwise make `aito agent run` in a test call Anthropic. Tests that drive the Anthropic
# provider hand it the local stand-in's URL and a test key explicitly.
_OUTSIDE = (
    "POSTGRES_URL",
    "REDIS_URL",
    "AITO_REPO",
    "AITO_DATA_DIR",
    "GITHUB_RUN_ID",
    "ACT",
    "AITO_MODEL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "AITO_FORGE",
    "GITHUB_ACTIONS",  # a test run on Actions would otherwise be strict
    "AITO_ALLOW_OFFLINE",
    "AITO_GITHUB_TOKEN",
    "AITO_GOVERNANCE_APP_ID",
    "AITO_GOVERNANCE_APP_KEY",
    # Notifications never reach a developer's real mailbox, Slack or Telegram from a test.
    "AITO_SMTP_URL",
    "AITO_WEBHOOK_URL",
    "AITO_TELEGRAM_BOT_TOKEN",
    "AITO_TELEGRAM_API_URL",
)
_OUTSIDE_PREFIXES = ("AITO_GITHUB_TOKEN_", "AITO_APP_ID_", "AITO_APP_KEY_")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OUTSIDE:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith(_OUTSIDE_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A private copy of the shipped Shiba Classic organization (org/, profiles/, workflows)."""
    repo = tmp_path / "repo"
    for part in ("org", "profiles", ".github"):
        shutil.copytree(REPO_ROOT / part, repo / part)
    return repo


@pytest.fixture
def governance_repo(example_repo: Path) -> Path:
    """The example organization as a git repository (the local forge's governance repo)."""
    (example_repo / ".gitignore").write_text(".aito/\n")
    git(example_repo, "init", "-q", "-b", "main")
    git(example_repo, "add", "-A")
    git(example_repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "org")
    return example_repo


@dataclasses.dataclass(frozen=True)
class Services:
    postgres_admin_url: str
    redis_url: str
    data_dir: Path | None


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """One real Postgres (with pgvector) and one real Redis for the whole session."""
    external_pg = os.environ.get("AITO_TEST_POSTGRES_URL")
    external_redis = os.environ.get("AITO_TEST_REDIS_URL")
    data_dir = tmp_path_factory.mktemp("services")
    settings = Settings.from_env(
        {
            "AITO_REPO": str(data_dir),
            "AITO_DATA_DIR": str(data_dir),
            **({"POSTGRES_URL": external_pg} if external_pg else {}),
            **({"REDIS_URL": external_redis} if external_redis else {}),
        }
    )
    endpoints = managing.up(settings)
    admin_url = psycopg.conninfo.make_conninfo(endpoints.postgres_url, dbname="postgres")
    yield Services(admin_url, endpoints.redis_url, data_dir)
    managing.down(settings)


@pytest.fixture
def postgres_url(services: Services) -> Iterator[str]:
    """A fresh, empty database on the session's server (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    PostgresMemory(url=services.postgres_admin_url).ensure_database(name)
    yield psycopg.conninfo.make_conninfo(services.postgres_admin_url, dbname=name)
    postgres.drop_database(admin_url=services.postgres_admin_url, name=name)


@pytest.fixture
def memory(postgres_url: str) -> PostgresMemory:
    return PostgresMemory(url=postgres_url)


@pytest.fixture
def redis_url(services: Services) -> str:
    """The session's Redis, emptied for this test."""
    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    client.close()
    return services.redis_url


@pytest.fixture
def bus(redis_url: str) -> Iterator[RedisBus]:
    connection = RedisBus(url=redis_url)
    yield connection
    connection.close()


@dataclasses.dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_aito(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the real `aito` entry point in-process; returns exit code, stdout, stderr."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def make_world(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> Iterator[Callable[..., agent_world.World]]:
    """Build an agent-loop world (a committed example governance repo, the session's
    services, a clock) with a given model and options; closed at teardown.

    Only one world per test: they share the test's database and Redis.
    """
    with contextlib.ExitStack() as stack:

        def make(model: Any, **options: Any) -> agent_world.World:
            return stack.enter_context(
                agent_world.open_world(
                    tmp_path / "governance",
                    postgres_url=postgres_url,
                    redis_url=redis_url,
                    model=model,
                    **options,
                )
            )

        yield make


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The real Docker engine (tests/support/docker_engine.py: skips, or fails under CI)."""
    client = docker_engine.engine()
    yield client
    client.close()


@pytest.fixture(scope="session")
def aito_image(docker_client: docker.DockerClient) -> str:
    """AITO's image tag (AITO_IMAGE, default aito:latest), built once for the session."""
    return docker_engine.aito_image()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``; tests/support/browser.py: skips, or
    fails under CI, when none is installed)."""
    yield from browser.launched()
