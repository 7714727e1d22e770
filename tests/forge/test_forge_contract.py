"""The same end-to-end decision scenario on every forge: LocalForge (a real git repo) and
GitHubForge driven through PyGithub against a local server speaking GitHub's REST API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.decision_scenario import run_full_scenario
from support.fake_github import make_org_forge, start_fake_github

from aito.forge.base import Forge, Permission
from aito.forge.local import LocalForge
from aito.org import loading


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(params=["local", "github"])
def forge_and_org(
    request: pytest.FixtureRequest, example_repo: Path
) -> Iterator[tuple[Forge, loading.Organization]]:
    org = loading.load_valid(example_repo)
    if request.param == "local":
        request.getfixturevalue("governance_repo")  # the example org committed to git
        yield (
            LocalForge(
                repo=example_repo,
                store=example_repo / ".aito" / "forge",
                permissions={m.id: Permission.ADMIN for m in org.org.maintainers},
            ),
            org,
        )
        return
    server = start_fake_github(users={})
    try:
        admins = {m.login: (m.login, m.id) for m in org.org.maintainers}
        forge = make_org_forge(server, example_repo, org, admins=admins)
        with forge:
            yield forge, org
    finally:
        server.stop()


def test_the_full_decision_scenario(forge_and_org: tuple[Forge, loading.Organization]) -> None:
    forge, org = forge_and_org
    run_full_scenario(forge, org, now=_now)
