"""Issues on every forge: how agents ask humans to act (an issue labelled
``human-action-required`` mentioning the maintainers) and raise alerts.

The same scenario runs on LocalForge (a real git repo) and on GitHubForge through
PyGithub against the local fake GitHub; a few GitHub-only checks follow."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from support.fake_github import FakeGitHub, make_github_forge, start_fake_github
from support.local_repo import Clock, git
from test_github_openapi import DESCRIPTION, response_schema

from aito.errors import ConfigError, PermanentAdapterError, TemporaryAdapterError
from aito.forge.base import Forge, Identity, Issue
from aito.forge.github import GitHubForge
from aito.forge.local import LocalForge

REPO = "acme/governance"
GOVERNANCE = Identity("aito-governance", 9000)
CEO, CTO = Identity("ceo-bot", 9101), Identity("cto-bot", 9102)
HUMAN = "human-action-required"


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={"ghp_maintainer": ("alice", 4242)})
    fake.create_repo(REPO, files={"org/org.yaml": "name: acme\n"})
    fake.set_permission("alice", "admin")
    yield fake
    fake.stop()


@pytest.fixture
def github_forge(server: FakeGitHub) -> Iterator[GitHubForge]:
    agents = {"ceo": (CEO.login, CEO.id), "cto": (CTO.login, CTO.id)}
    governance = (GOVERNANCE.login, GOVERNANCE.id)
    with make_github_forge(server, repo=REPO, governance=governance, agents=agents) as forge:
        yield forge


@pytest.fixture
def local_forge(tmp_path: Path) -> LocalForge:
    repo = tmp_path / "repo"
    (repo / "org").mkdir(parents=True)
    (repo / "org" / "org.yaml").write_text("name: acme\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "org")
    return LocalForge(repo=repo, store=tmp_path / "store", clock=Clock())


@pytest.fixture(params=["local", "github"])
def forge(request: pytest.FixtureRequest) -> Forge:
    found: Forge = request.getfixturevalue(f"{request.param}_forge")
    return found


def propose(forge: Forge, author: Identity, name: str) -> int:
    branch = f"{author.login}/{name}"
    files = {f"org/decisions/{name}.yaml": f"id: {name}\n".encode()}
    forge.commit_files(branch=branch, base="main", files=files, message=name, author=author)
    return forge.open_pull(head=branch, base="main", title=name, body="", author=author).number


def numbers(issues: list[Issue]) -> list[int]:
    return [issue.number for issue in issues]


def test_agents_open_list_and_close_issues(forge: Forge) -> None:
    first_pull = propose(forge, CEO, "budget")
    forge.set_labels(first_pull, add=[HUMAN], remove=[])  # a pull request is never listed

    ask = forge.open_issue(
        title="Rotate the deploy key",
        body="@alice the deploy key expires on Friday; please rotate it.",
        labels=[HUMAN, "from:ceo-bot"],
        author=CEO,
    )
    alert = forge.open_issue(
        title="Budget exceeded", body="@alice spend is at 130%.", labels=["alert"], author=CTO
    )
    second_pull = propose(forge, CTO, "stack")

    # one number sequence for issues and pull requests, as on GitHub
    assert [first_pull, ask.number, alert.number, second_pull] == [1, 2, 3, 4]
    assert ask.title == "Rotate the deploy key"
    assert ask.body.startswith("@alice ")
    assert ask.state == "open"
    assert ask.author == CEO
    assert ask.labels == {HUMAN, "from:ceo-bot"}
    assert ask.created_at.tzinfo is not None
    assert ask.url is not None
    assert alert.author == CTO

    assert numbers(forge.issues()) == [ask.number, alert.number]  # oldest first, no pulls
    assert forge.issues()[0] == ask
    assert numbers(forge.issues(labels=[HUMAN])) == [ask.number]
    assert numbers(forge.issues(labels=[HUMAN, "from:ceo-bot"])) == [ask.number]
    assert forge.issues(labels=[HUMAN, "alert"]) == []  # every label, not any
    assert forge.issues(labels=["no-such-label"]) == []
    assert forge.issues(state="closed") == []

    forge.close_issue(ask.number, actor=GOVERNANCE)
    forge.close_issue(ask.number, actor=GOVERNANCE)  # closing a closed issue is no error
    assert numbers(forge.issues()) == [alert.number]
    assert forge.issues(labels=[HUMAN]) == []
    closed = forge.issues(state="closed")
    assert numbers(closed) == [ask.number]
    assert closed[0].state == "closed"
    assert closed[0].labels == ask.labels
    assert numbers(forge.issues(state=None)) == [ask.number, alert.number]
    assert numbers(forge.issues(state=None, labels=[HUMAN])) == [ask.number]

    forge.close(second_pull, actor=GOVERNANCE)  # a closed pull request is not listed either
    assert numbers(forge.issues(state="closed")) == [ask.number]
    assert [p.number for p in forge.pulls(state=None)] == [first_pull, second_pull]


def test_closing_a_pull_request_or_a_missing_issue_as_an_issue_is_refused(forge: Forge) -> None:
    pull = propose(forge, CEO, "budget")
    with pytest.raises(PermanentAdapterError, match=f"#{pull}"):
        forge.close_issue(pull, actor=GOVERNANCE)
    with pytest.raises(PermanentAdapterError):
        forge.close_issue(99, actor=GOVERNANCE)
    assert forge.pull(pull).state.value == "open"


def test_an_unknown_state_is_a_programming_error(forge: Forge) -> None:
    with pytest.raises(ValueError, match="merged"):
        forge.issues(state="merged")


def test_local_issues_take_the_injected_clock_and_survive_a_restart(
    local_forge: LocalForge,
) -> None:
    issue = local_forge.open_issue(title="t", body="b", labels=[HUMAN, HUMAN], author=CEO)
    assert issue.created_at == dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    assert issue.labels == {HUMAN}
    assert (local_forge.store / "issues" / f"{issue.number}.json").exists()
    again = LocalForge(repo=local_forge.repo, store=local_forge.store, clock=Clock())
    assert again.issues() == [issue]
    assert propose(again, CEO, "next") == issue.number + 1


def test_github_issues_are_opened_with_the_authors_own_token(
    server: FakeGitHub, github_forge: GitHubForge
) -> None:
    by_agent = github_forge.open_issue(title="a", body="b", labels=[HUMAN], author=CEO)
    by_governance = github_forge.open_issue(title="c", body="d", labels=[], author=GOVERNANCE)
    assert by_agent.author == CEO
    assert by_governance.author == GOVERNANCE
    assert by_agent.url == f"{server.url}/{REPO}/issues/{by_agent.number}"
    stranger = Identity("someone-else", 1234)  # no token of its own: refused, not borrowed
    with pytest.raises(ConfigError, match="someone-else has no GitHub token of its own"):
        github_forge.open_issue(title="e", body="f", labels=[], author=stranger)
    assert len(github_forge.issues(state=None)) == 2


def test_github_issue_listing_is_retried_and_paged(
    server: FakeGitHub, github_forge: GitHubForge
) -> None:
    for n in range(3):
        propose(github_forge, CEO, f"d{n}")  # pull requests fill GitHub's pages too
    opened = [
        github_forge.open_issue(title=f"i{n}", body="", labels=[HUMAN], author=CTO).number
        for n in range(101)
    ]
    server.reset_counts()
    server.fail_next(status=502, times=2, path="/repos/{owner}/{repo}/issues")
    assert numbers(github_forge.issues(labels=[HUMAN])) == opened
    assert server.calls["GET /repos/{owner}/{repo}/issues"] == 4  # two 502s, two pages
    server.fail_next(status=503, times=5, path="/repos/{owner}/{repo}/issues")
    with pytest.raises(TemporaryAdapterError):
        github_forge.issues()


def test_github_issue_responses_match_the_description(
    server: FakeGitHub, github_forge: GitHubForge
) -> None:
    if not DESCRIPTION.exists():
        pytest.skip("GitHub's OpenAPI description is missing; run scripts/fetch-github-specs")
    description = json.loads(DESCRIPTION.read_text())
    pull = propose(github_forge, CEO, "budget")
    github_forge.set_labels(pull, add=[HUMAN], remove=[])
    issue = github_forge.open_issue(title="t", body="@alice", labels=[HUMAN], author=CEO)
    github_forge.issues(labels=[HUMAN])
    github_forge.close_issue(issue.number, actor=GOVERNANCE)
    github_forge.issues(state=None)
    with pytest.raises(PermanentAdapterError):
        github_forge.close_issue(pull, actor=GOVERNANCE)

    recorded = [
        r for r in server.responses if r.template.startswith("/repos/{owner}/{repo}/issues")
    ]
    served = {(r.method, r.template) for r in recorded if r.status < 300}
    assert {
        ("POST", "/repos/{owner}/{repo}/issues"),
        ("GET", "/repos/{owner}/{repo}/issues"),
        ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
        ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    } <= served
    problems = []
    for response in recorded:
        schema = response_schema(description, response.method, response.template, response.status)
        assert schema is not None
        validator = jsonschema.Draft4Validator(
            schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
        )
        for error in validator.iter_errors(response.body):
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{response.method} {response.template} at {where}: {error.message}")
    assert not problems, "\n".join(problems[:30])
