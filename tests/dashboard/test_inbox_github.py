"""The inbox's writes on GitHub: a maintainer logged in with the device flow approves,
merges and closes decision pull requests, and GitHub shows THEM as the reviewer, the
merger and the closer (never a bot).

The governance repository lives on the fake GitHub (the example organization's org/ and
profiles/, with a second maintainer and human members); the CTO's bot proposes critical
changes there through the GitHub forge, the CEO's and the DAO's bots approve them, and
`aito decide tally N` runs as governance.yml runs it (AITO_FORGE=github, the governance
token, the session's Postgres and Redis; after the first, the same tally and recorder
in-process, since each command pays PyGithub's pacing of writes), so the dashboard's
memory knows each decision and its pull request and the inbox lists it as waiting for a
maintainer. The dashboard is
wired as `aito dashboard` wires it on GitHub (:func:`dashboard_commands.maintainer_writes`);
what it wrote is read back through PyGithub.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import github
import pytest
from github import Auth
from starlette.testclient import TestClient
from support import fake_github_oauth
from support.agent_world import ScriptedModel, World
from support.dashboard_day import head_of
from support.decision_scenario import who
from support.fake_github import FakeGitHub, make_org_forge, start_fake_github
from support.humans import MAINTAINER, SECOND_MAINTAINER, with_people

from aito.bus import budgets
from aito.cli import dashboard_commands, decide_sweeping
from aito.dashboard import app, inbox, sessions
from aito.decisions import proposing
from aito.forge import github_markers
from aito.forge.github import GitHubForge
from aito.org.organization import Tier

ADMINS = {
    "maintainer": (MAINTAINER.login, MAINTAINER.id),
    "second": (SECOND_MAINTAINER.login, SECOND_MAINTAINER.id),
}


def token_of(name: str) -> str:
    """The token make_org_forge registered for admin ``name`` (their own, on the fake)."""
    return f"ghp_{name}_{ADMINS[name][1]}"


PROPOSALS = {  # name -> the profile the CTO's critical proposal rewrites
    "approve": "profiles/cto.md",
    "merge": "profiles/cfo.md",
    "close": "profiles/coo.md",
}


class Hub:
    """The world on the fake GitHub: its decisions (by name) and the dashboard over it."""

    def __init__(
        self, world: World, server: FakeGitHub, forge: GitHubForge, tally: Callable[[int], Any]
    ) -> None:
        self.world, self.server, self.forge, self.tally = world, server, forge, tally
        self.memory = world.runtime.memory
        self.pulls: dict[str, int] = {}
        self.ids: dict[str, str] = {}
        writes = dashboard_commands.maintainer_writes(
            world.settings.model_copy(update={"forge": "github", "github_api_url": server.url}),
            app.Reloading(lambda: world.org, seconds=0),
            world.runtime,
            False,
            fake_github_oauth.CLIENT_ID,
        )
        assert writes is not None and writes.kind == "github"
        self.writes: inbox.Writes = writes

    def client(self) -> TestClient:
        source = app.Source(
            organization=lambda: self.world.org,
            memory=self.memory,
            ledger=budgets.BudgetLedger(self.world.runtime.bus),
        )
        return TestClient(app.create_app(source, self.writes), follow_redirects=False)

    def repo_as(self, name: str) -> github.Repository.Repository:
        """The governance repository as admin ``name`` sees it through PyGithub."""
        client = github.Github(auth=Auth.Token(token_of(name)), base_url=self.server.url)
        return client.get_repo(self.world.org.org.governance_repo.repo)

    def events(self, prefix: str) -> list[dict[str, Any]]:
        return [e for e in self.memory.events(limit=1000) if e["event_type"].startswith(prefix)]

    def status(self, name: str) -> str:
        row = self.memory.decision(self.ids[name])
        assert row is not None
        return str(row["status"])


@pytest.fixture
def hub(
    make_world: Callable[..., World],
    postgres_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    run_aito: Any,
) -> Iterator[Hub]:
    world = make_world(ScriptedModel(), edit=with_people)
    server = start_fake_github(users={})
    try:
        forge = make_org_forge(server, world.repo, world.org, admins=ADMINS)
        governance = world.org.org.governance_repo.bot
        assert governance is not None
        for name, value in {  # what governance.yml gives `aito decide tally`
            "AITO_FORGE": "github",
            "AITO_GITHUB_API_URL": server.url,
            "AITO_GITHUB_TOKEN": f"ghp_governance_{governance.id}",
            "POSTGRES_URL": postgres_url,
            "REDIS_URL": redis_url,
        }.items():
            monkeypatch.setenv(name, value)

        def tally(number: int) -> Any:
            done = run_aito("--repo", str(world.repo), "decide", "tally", str(number), "--json")
            assert done.code == 0, done.err
            return json.loads(done.out)

        settings = world.settings.model_copy(
            update={"forge": "github", "github_api_url": server.url}
        )

        def tally_here(number: int) -> Any:
            """The same tally in-process (the command pays PyGithub's pacing of writes)."""
            return decide_sweeping.tally_one(
                settings, world.org, forge, number, now=dt.datetime.now(dt.UTC),
                runtime=world.runtime,
            ).as_json()  # fmt: skip

        found = Hub(world, server, forge, tally_here)
        with forge:
            for name, path in PROPOSALS.items():
                decision, pull = proposing.propose(
                    forge, org=world.org, proposer="cto", tier=Tier.CRITICAL,
                    title=f"Sharper {Path(path).stem} profile", body="clearer",
                    files={path: (world.repo / path).read_bytes() + b"\nSharper.\n"},
                    amount_usd=0, now=dt.datetime.now(dt.UTC),
                )  # fmt: skip
                found.pulls[name], found.ids[name] = pull.number, decision.id
                for voter in ("ceo", "dao"):
                    proposing.review(
                        forge, pull.number, author=who(world.org, voter), vote="approve", body=""
                    )
                # on: pull_request_review, governance.yml's tally: the first as its command
                tallied = (tally if name == "approve" else tally_here)(pull.number)
                assert tallied["decision_id"] == decision.id
                assert (tallied["status"], tallied["stage"]) == ("pending", "maintainer")
                row = found.memory.decision(decision.id)  # what the dashboard reads
                assert row is not None and row["pr_number"] == pull.number
            yield found
    finally:
        server.stop()


def text_of(page: str) -> str:
    without = re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(without))


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page carries the session's CSRF token"
    return found.group(1)


def log_in(hub: Hub, http: TestClient, token: str) -> str:
    """The device flow, with the maintainer entering the code on GitHub as the account
    whose token is ``token``; the inbox's CSRF token."""
    assert http.post("/login/github").status_code == 303
    page = http.get("/login").text
    code = re.search(r'<p class="code"[^>]*>([^<]+)</p>', page)
    assert code, "the login page shows the code to enter on GitHub"
    fake_github_oauth.enter_code(hub.server, code.group(1).strip(), token=token)
    assert http.post("/login/github/poll").status_code == 303
    inbox_page = http.get("/inbox").text
    assert f"Logged in as {MAINTAINER.login}" in text_of(inbox_page)
    return csrf_of(inbox_page)


def test_on_github_a_maintainers_approval_is_their_own_review_on_the_pull_request(
    hub: Hub,
) -> None:
    number, decision_id = hub.pulls["approve"], hub.ids["approve"]
    with hub.client() as http:
        listed = http.get("/inbox").text
        assert f'href="/decisions/{decision_id}"' in listed and f"#{number}" in text_of(listed)
        assert "a maintainer's approval (the agents approved)" in text_of(listed)
        csrf = log_in(hub, http, token_of("maintainer"))
        response = http.post(
            f"/inbox/decisions/{decision_id}/approve",
            data={"csrf": csrf, "body": "Fine by me."},
        )
        assert response.status_code == 303, response.text
        assert f"You approved {decision_id}" in text_of(http.get(response.headers["location"]).text)
    pull = hub.repo_as("second").get_pull(number)
    [review] = [
        r for r in pull.get_reviews() if r.state == "APPROVED" and r.user.id == MAINTAINER.id
    ]
    assert (review.user.login, review.user.id) == (MAINTAINER.login, MAINTAINER.id)
    # the text as given (after it, the forge's invisible marker against a double post)
    assert github_markers.strip(review.body) == "Fine by me."
    assert review.commit_id == pull.head.sha
    [event] = hub.events("dashboard.")
    assert event["event_type"] == "dashboard.review" and event["decision_id"] == decision_id
    assert event["payload"] == {
        "by": MAINTAINER.login, "user_id": MAINTAINER.id, "pr": number, "action": "approve",
        "forge": "github",
    }  # fmt: skip
    # governance.yml's tally on the review counts it as the maintainer's approval
    assert hub.tally(number)["status"] == "approved"
    assert hub.status("approve") == "approved"


def test_on_github_a_maintainers_merge_and_close_are_theirs_on_the_pull_requests(
    hub: Hub,
) -> None:
    with hub.client() as http:
        csrf = log_in(hub, http, token_of("maintainer"))
        for action in ("merge", "close"):
            response = http.post(
                f"/inbox/decisions/{hub.ids[action]}/{action}", data={"csrf": csrf}
            )
            assert response.status_code == 303, response.text
    repo = hub.repo_as("second")
    merged = repo.get_pull(hub.pulls["merge"])
    assert merged.merged and (merged.merged_by.login, merged.merged_by.id) == (
        MAINTAINER.login, MAINTAINER.id,
    )  # fmt: skip
    closed = repo.get_issue(hub.pulls["close"])
    assert closed.state == "closed" and not repo.get_pull(hub.pulls["close"]).merged
    assert (closed.closed_by.login, closed.closed_by.id) == (MAINTAINER.login, MAINTAINER.id)
    written = {e["event_type"]: e["payload"] for e in hub.events("dashboard.")}
    assert written.keys() == {"dashboard.merge", "dashboard.close"}
    assert {(p["by"], p["user_id"], p["forge"]) for p in written.values()} == {
        (MAINTAINER.login, MAINTAINER.id, "github")
    }
    # governance.yml's tally on the close records the maintainer's decision
    done = hub.tally(hub.pulls["merge"])
    assert (done["status"], done["decided_by"], done["decided_via"]) == (
        "approved", MAINTAINER.login, "merge",
    )  # fmt: skip
    done = hub.tally(hub.pulls["close"])
    assert (done["status"], done["decided_by"], done["decided_via"]) == (
        "rejected", MAINTAINER.login, "close",
    )  # fmt: skip
    with hub.client() as http:  # decided: they leave the inbox
        page = http.get("/inbox").text
    for name in ("merge", "close"):
        assert f'href="/decisions/{hub.ids[name]}"' not in page


def test_on_github_a_token_github_no_longer_accepts_is_a_clear_error_and_writes_nothing(
    hub: Hub,
) -> None:
    number = hub.pulls["merge"]
    with hub.client() as http:
        csrf = log_in(hub, http, token_of("maintainer"))
        hub.server.revoke(token_of("maintainer"))  # the maintainer revoked the app's token
        response = http.post(f"/inbox/decisions/{hub.ids['merge']}/merge", data={"csrf": csrf})
        assert response.status_code == 401, response.text
        assert "log in with GitHub again" in text_of(response.text)
        assert token_of("maintainer") not in response.text
        # the session is over: the inbox is read-only again, nothing more is sent
        assert hub.writes.sessions.find(http.cookies.get(sessions.COOKIE)) is None
        assert "Logged in" not in http.get("/inbox").text
        for action in ("approve", "close"):
            url = f"/inbox/decisions/{hub.ids['merge']}/{action}"
            assert http.post(url, data={"csrf": csrf}).status_code == 403
    pull = hub.repo_as("second").get_pull(number)
    assert pull.state == "open" and not pull.merged
    assert [r for r in pull.get_reviews() if r.user.id == MAINTAINER.id] == []
    assert hub.events("dashboard.") == []
    assert hub.status("merge") == "pending"


def test_on_github_a_veto_is_theirs_and_a_commit_pushed_after_the_inbox_showed_is_not_merged(
    hub: Hub,
) -> None:
    vetoed, moved = hub.pulls["close"], hub.pulls["merge"]
    with hub.client() as http:
        csrf = log_in(hub, http, token_of("maintainer"))
        page = http.get("/inbox").text
        response = http.post(
            f"/inbox/decisions/{hub.ids['close']}/veto",
            data={"csrf": csrf, "head": head_of(page, hub.ids["close"]), "body": "Not now."},
        )
        assert response.status_code == 303, response.text
        # the branch moves after the maintainer looked: GitHub is never asked to merge it
        seen = head_of(page, hub.ids["merge"])
        pull = hub.forge.pull(moved)
        sneaked = hub.forge.commit_files(
            branch=pull.head_ref, base=pull.base_ref, files={"profiles/cfo.md": b"# CFO\nLoose.\n"},
            message="one more thing", author=pull.author,
        )  # fmt: skip
        response = http.post(
            f"/inbox/decisions/{hub.ids['merge']}/merge", data={"csrf": csrf, "head": seen}
        )
        assert response.status_code == 409, response.text
        assert f"#{moved} moved to {sneaked[:12]}" in text_of(response.text)
    repo = hub.repo_as("second")
    [review] = [r for r in repo.get_pull(vetoed).get_reviews() if r.user.id == MAINTAINER.id]
    assert (review.state, review.user.login) == ("CHANGES_REQUESTED", MAINTAINER.login)
    assert github_markers.strip(review.body) == "Not now."
    assert hub.tally(vetoed)["status"] == "rejected"
    now = repo.get_pull(moved)
    assert now.state == "open" and not now.merged and now.head.sha == sneaked
    assert [e["payload"]["action"] for e in hub.events("dashboard.")] == ["veto"]


def test_on_github_a_token_revoked_between_the_check_and_the_write_ends_the_session(
    hub: Hub,
) -> None:
    """GitHub accepts the token when the dashboard asks who it is, and refuses it for the
    write itself (the maintainer revoked it in between): a 401 that says to log in again."""
    checked = hub.writes.forge_for

    def revoked_after_the_check(session: sessions.Session) -> Any:
        forge = checked(session)  # GET /user answered: still theirs
        hub.server.revoke(token_of("maintainer"))
        return forge

    hub.writes = dataclasses.replace(hub.writes, forge_for=revoked_after_the_check)
    number = hub.pulls["approve"]
    with hub.client() as http:
        csrf = log_in(hub, http, token_of("maintainer"))
        response = http.post(
            f"/inbox/decisions/{hub.ids['approve']}/approve", data={"csrf": csrf, "body": "ok"}
        )
        assert response.status_code == 401, response.text
        said = text_of(response.text)
        assert "refused your token" in said and "log in again" in said
        assert token_of("maintainer") not in response.text
        assert hub.writes.sessions.find(http.cookies.get(sessions.COOKIE)) is None
    pull = hub.repo_as("second").get_pull(number)
    assert [r for r in pull.get_reviews() if r.user.id == MAINTAINER.id] == []
    assert hub.events("dashboard.") == []
