"""The same end-to-end decision scenario on every forge: LocalForge (a real git repo) and
GitHubForge driven through PyGithub against a local server speaking GitHub's REST API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.decision_scenario import run_full_scenario
from support.fake_github import make_org_forge, start_fake_github

from aito.decisions import proposing
from aito.forge.base import Forge, Permission, PullState
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


def test_the_pull_request_from_a_branch_is_found_in_any_state(
    forge_and_org: tuple[Forge, loading.Organization],
) -> None:
    """What a resumed run relies on to never open a second pull request from its branch."""
    forge, org = forge_and_org
    cmo = proposing.identity_for(org, "cmo")
    maintainer = proposing.identity_for(org, org.org.maintainers[0].login)
    assert forge.pull_from("aito/cmo/nothing-yet") is None
    numbers = []
    for branch in ("aito/cmo/first", "aito/cmo/second"):
        forge.commit_files(
            branch=branch, base="main", files={"content/x.md": branch.encode()},
            message=branch, author=cmo,
        )  # fmt: skip
        pull = forge.open_pull(head=branch, base="main", title=branch, body="", author=cmo)
        numbers.append(pull.number)
    forge.close(numbers[0], actor=maintainer)

    closed, still_open = forge.pull_from("aito/cmo/first"), forge.pull_from("aito/cmo/second")
    assert closed is not None and (closed.number, closed.state) == (numbers[0], PullState.CLOSED)
    assert still_open is not None
    assert (still_open.number, still_open.state) == (numbers[1], PullState.OPEN)
