"""The github connector against the fake GitHub (support.fake_github: GitHub's REST API,
its bodies checked against GitHub's OpenAPI description), through the MCP SDK's client:
a repository's counts as facts, issues without pull requests, an issue's thread, releases,
with and without a token, and GitHub's refusals as errors that say what to fix."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import github
import pytest
from github import Auth
from support.agent_world import ScriptedModel, World
from support.fake_github import FakeGitHub, start_fake_github
from support.mcp_world import serving

from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

TOKEN = "ghp_reader_token_1234"
WRITER = "ghp_maintainer_5678"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    server = start_fake_github(users={TOKEN: ("reader", 501), WRITER: ("maintainer", 502)})
    try:
        seed(server)
        server.used.clear()
        server.reset_counts()
        monkeypatch.setenv("AITO_MCP_GITHUB_API_URL", server.url)
        monkeypatch.setenv("AITO_MCP_GITHUB_TOKEN", TOKEN)
        yield server
    finally:
        server.stop()


def seed(server: FakeGitHub) -> None:
    """acme/widgets, public: two issues and a pull request, a comment thread, releases."""
    repo = server.create_repo("acme/widgets", private=False)
    repo.description, repo.stars, repo.forks, repo.watchers = "Widgets for all", 42, 7, 3
    server.create_repo("acme/secret", private=True)
    server.set_permission("maintainer", "write")
    gh = github.Github(
        auth=Auth.Token(WRITER),
        base_url=server.url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    try:
        widgets = gh.get_repo("acme/widgets")
        crash = widgets.create_issue("Crash on start", body="It crashes at boot.", labels=["bug"])
        crash.create_comment("Seen it too, on 1.2.")
        crash.create_comment("Fixed in main.")
        widgets.create_issue("Dark mode", body="Please.", labels=["idea"]).edit(state="closed")
        tree = repo.put_tree({"feature.txt": ("100644", repo.put_blob(b"new\n"))})
        parents = (repo.refs["heads/main"],)
        repo.refs["heads/feature"] = repo.put_commit(
            tree=tree, parents=parents, message="A feature", user=None
        ).sha
        widgets.create_pull(title="Add a feature", body="", head="feature", base="main")
    finally:
        gh.close()
    server.add_release("acme/widgets", "v1.0.0", name="First", body="Hello.")
    server.add_release("acme/widgets", "v1.1.0", name="Second", body="x" * 3000)
    server.add_release("acme/widgets", "v2.0.0-draft", draft=True)


def connector(*, token: bool = True, domains: tuple[str, ...] = ("127.0.0.1",)) -> McpServer:
    env = ["AITO_MCP_GITHUB_API_URL", *(["AITO_MCP_GITHUB_TOKEN"] if token else [])]
    return McpServer(command=["aito", "mcp", "serve", "github"], domains=list(domains), env=env)


def calls(server: McpServer, *wanted: tuple[str, dict[str, Any]]) -> list[hub.Outcome]:
    with hub.Hub({"gh": server}) as opened:
        tools = {t.name: t.read_only for t in opened.tools()}
        assert tools == dict.fromkeys(("repo", "issues", "issue", "releases"), True)
        return [opened.call("gh", tool, arguments) for tool, arguments in wanted]


def data(outcome: hub.Outcome) -> dict[str, Any]:
    assert not outcome.is_error and outcome.structured is not None, outcome.text
    assert TOKEN not in outcome.text
    return outcome.structured


def test_a_repository_s_counts_come_back_as_facts_read_with_the_token(fake: FakeGitHub) -> None:
    [found] = calls(connector(), ("repo", {"repo": "acme/widgets"}))
    repo = data(found)
    assert repo["description"] == "Widgets for all" and repo["default_branch"] == "main"
    assert (repo["stars"], repo["forks"], repo["watchers"]) == (42, 7, 3)
    assert repo["open_issues"] == 2  # GitHub counts the open pull request too
    assert repo["pushed_at"].startswith("20")
    facts = {f["id"]: f for f in repo["facts"]}
    assert {i: f["value"] for i, f in facts.items()} == {
        "stars.acme/widgets": 42,
        "forks.acme/widgets": 7,
        "open_issues.acme/widgets": 2,
        "watchers.acme/widgets": 3,
    }
    assert facts["stars.acme/widgets"]["source"] == f"{fake.url}/repos/acme/widgets"
    assert fake.used["reader"] == 1 and fake.used["-"] == 0  # one GET, with the token
    assert fake.calls["GET /repos/{owner}/{repo}"] == 1


def test_issues_leave_out_pull_requests_and_follow_state_and_labels(fake: FakeGitHub) -> None:
    open_now, closed, bugs, ideas = calls(
        connector(),
        ("issues", {"repo": "acme/widgets"}),
        ("issues", {"repo": "acme/widgets", "state": "closed"}),
        ("issues", {"repo": "acme/widgets", "state": "all", "labels": ["bug"]}),
        ("issues", {"repo": "acme/widgets", "state": "open", "labels": ["idea"]}),
    )
    [crash] = data(open_now)["issues"]  # the open pull request is not an issue
    assert crash["title"] == "Crash on start" and crash["author"] == "maintainer"
    assert (crash["number"], crash["labels"], crash["comments"]) == (1, ["bug"], 2)
    assert crash["url"] == f"{fake.url}/acme/widgets/issues/1" and crash["state"] == "open"
    assert [i["title"] for i in data(closed)["issues"]] == ["Dark mode"]
    assert [i["number"] for i in data(bugs)["issues"]] == [1]
    assert data(ideas)["issues"] == []  # the idea is closed
    assert fake.calls["GET /repos/{owner}/{repo}/issues"] == 4
    assert fake.calls["GET /repos/{owner}/{repo}"] == 0  # no read of the repository first


def test_an_issue_comes_with_its_body_and_comments(fake: FakeGitHub) -> None:
    full, first, pull = calls(
        connector(),
        ("issue", {"repo": "acme/widgets", "number": 1}),
        ("issue", {"repo": "acme/widgets", "number": 1, "comments": 1}),
        ("issue", {"repo": "acme/widgets", "number": 3, "comments": 0}),
    )
    issue = data(full)
    assert issue["body"] == "It crashes at boot." and issue["pull_request"] is False
    assert [(c["author"], c["body"]) for c in issue["comments"]] == [
        ("maintainer", "Seen it too, on 1.2."),
        ("maintainer", "Fixed in main."),
    ]
    assert issue["comments"][0]["created_at"].startswith("20")
    assert [c["body"] for c in data(first)["comments"]] == ["Seen it too, on 1.2."]
    assert data(pull)["pull_request"] is True and data(pull)["comments"] == []
    assert fake.calls["GET /repos/{owner}/{repo}/issues/{issue_number}/comments"] == 2


def test_a_public_repository_is_read_without_a_token_and_its_drafts_stay_hidden(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AITO_MCP_GITHUB_TOKEN")
    found, one, hidden = calls(
        connector(token=False),
        ("releases", {"repo": "acme/widgets"}),
        ("releases", {"repo": "acme/widgets", "limit": 1}),
        ("repo", {"repo": "acme/secret"}),
    )
    releases = data(found)["releases"]
    assert [r["tag"] for r in releases] == ["v1.1.0", "v1.0.0"]  # newest first, no draft
    second, first = releases
    assert (first["name"], first["body"], first["prerelease"]) == ("First", "Hello.", False)
    assert first["url"] == f"{fake.url}/acme/widgets/releases/tag/v1.0.0"
    assert first["published_at"].startswith("20")
    assert second["body"] == "x" * 2000  # the notes cut
    assert [r["tag"] for r in data(one)["releases"]] == ["v1.1.0"]
    assert hidden.is_error and "with no token" in hidden.text and "401" in hidden.text
    assert fake.used["reader"] == 0 and fake.used["-"] == 3


def test_github_s_refusals_and_bad_input_are_errors_that_say_what_to_fix(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing, malformed, traversal = calls(
        connector(),
        ("repo", {"repo": "acme/nothing"}),
        ("issues", {"repo": "acme"}),
        ("releases", {"repo": "acme/.."}),
    )
    assert missing.is_error and "not found (404)" in missing.text
    assert "not visible with this token" in missing.text and TOKEN not in missing.text
    assert malformed.is_error and "owner/name" in malformed.text
    assert traversal.is_error and "owner/name" in traversal.text
    assert fake.used["reader"] == 1  # the bad names were never sent

    monkeypatch.setenv("AITO_MCP_GITHUB_TOKEN", "ghp_revoked")
    [refused] = calls(connector(), ("repo", {"repo": "acme/widgets"}))
    assert refused.is_error and "401" in refused.text
    assert "AITO_MCP_GITHUB_TOKEN" in refused.text and "ghp_revoked" not in refused.text

    fake.reset_counts()
    [elsewhere] = calls(connector(domains=("api.github.com",)), ("repo", {"repo": "a/b"}))
    assert elsewhere.is_error and "not an allowed domain" in elsewhere.text
    assert not fake.calls  # nothing reached it


def test_an_agent_reads_a_repository_and_acts_on_its_counts_next_turn(
    make_world: Callable[..., World], fake: FakeGitHub
) -> None:
    """End to end through an agent's run: the CMO reads a repository through the github
    connector (a turn, with the org's token, on GitHub's host only); its counts reach the
    next request as facts it may cite, and it acts on them."""
    model = ScriptedModel(
        [("gh__repo", {"repo": "acme/widgets"})],
        [("summary", {"text": "acme/widgets: 42 stars, 2 open issues."})],
    )
    world = make_world(model, edit=serving({"gh": connector()}))
    outcome = world.run("cmo", force=True)
    assert outcome.status == "completed", outcome.error
    [result] = model.requests[1].turns[0].results
    assert not result.is_error and TOKEN not in result.content
    read = json.loads(result.content)
    assert read["description"] == "Widgets for all"
    facts = {f["id"]: f for f in read["facts"]}
    assert facts["gh.stars.acme/widgets"]["value"] == 42  # named as it is cited
    assert facts["gh.stars.acme/widgets"]["source"] == f"{fake.url}/repos/acme/widgets"
    [record] = [e["payload"] for e in world.events("tool.called")]
    assert (record["server"], record["tool"], record["error"]) == ("gh", "repo", None)
    assert fake.calls == {"GET /repos/{owner}/{repo}": 1}
    assert fake.used["reader"] == 1 and fake.used["-"] == 0  # read with the token
    assert [(a.type, a.status) for a in outcome.actions] == [("summary", "executed")]
