"""The human inbox and the maintainer's writes, through HTTP, over a real organization.

An agent world (a committed example organization on the local forge, the session's
Postgres and Redis) makes what needs a human happen for real: the CMO's run stops on its
exhausted budget, the CTO asks the maintainers for help (an issue), a human member's
decision deadlocks through `aito decide` reviews and tallies, and a critical proposal
waits for a maintainer after the CEO and the DAO approved it. The dashboard is built
with the same wiring `aito dashboard --maintainer LOGIN` uses
(:func:`dashboard_commands.maintainer_writes`); each write is read back from the forge.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support import agent_world, fake_github, fake_github_oauth
from support.agent_world import ScriptedModel, World
from support.browser import axe_source, screenshots
from support.dashboard_day import head_of, serving
from support.humans import CAROL, MAINTAINER, OUTSIDER, SECOND_MAINTAINER, with_people

from aito.bus import budgets
from aito.cli import dashboard_commands
from aito.dashboard import app, inbox, sessions
from aito.forge.base import Forge, Identity, PullState, ReviewState
from aito.forge.local import LocalForge
from aito.views import inbox as views_inbox

HUMAN_ASK = (
    "request_human_action",
    {"title": "Renew the CDN contract", "body": "It ends on Friday; only you can sign."},
)


def summary() -> tuple[str, dict[str, Any]]:
    return ("summary", {"text": "Done."})


def organization(repo: Path) -> None:
    """The example, with human members and a second maintainer, and a CMO whose budget
    is too small for any model call."""
    with_people(repo)

    def tiny(data: dict[str, Any]) -> None:
        data["budget"]["daily_usd"] = 0.001

    agent_world.edit_agent(repo, "cmo", tiny)


class Org:
    """The world, its decisions (by name) and the dashboard's pieces over it."""

    def __init__(self, world: World, decide: Callable[..., Any]) -> None:
        self.world = world
        self.decide = decide
        self.memory = world.runtime.memory
        self.pulls: dict[str, int] = {}
        self.ids: dict[str, str] = {}

    def forge(self) -> LocalForge:
        return LocalForge(repo=self.world.repo, store=self.world.settings.data_dir / "forge")

    def writes(self) -> inbox.Writes:
        found = dashboard_commands.maintainer_writes(
            self.world.settings,
            app.Reloading(lambda: self.world.org, seconds=0),
            self.world.runtime,
            True,
            None,
        )
        assert found is not None
        return found

    def client(self, writes: inbox.Writes | None) -> TestClient:
        source = app.Source(
            organization=lambda: self.world.org,
            memory=self.memory,
            ledger=budgets.BudgetLedger(self.world.runtime.bus),
        )
        return TestClient(app.create_app(source, writes), follow_redirects=False)

    def events(self, prefix: str) -> list[dict[str, Any]]:
        return [e for e in self.memory.events(limit=1000) if e["event_type"].startswith(prefix)]

    def status(self, name: str) -> str:
        row = self.memory.decision(self.ids[name])
        assert row is not None
        return str(row["status"])


@pytest.fixture
def org(
    make_world: Callable[..., World],
    postgres_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    run_aito: Any,
    tmp_path: Path,
) -> Org:
    world = make_world(ScriptedModel([HUMAN_ASK, summary()]), edit=organization)
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)

    def decide(*args: str) -> Any:
        done = run_aito("--repo", str(world.repo), "decide", *args)
        assert done.code == 0, done.err
        return json.loads(done.out) if "--json" in args else done

    found = Org(world, decide)
    # an exhausted budget stops the CMO's run before the model; the CTO asks for help
    assert world.run("cmo").status == "budget_exhausted"
    assert world.run("cto").status == "completed"
    # two deadlocked decisions (a human member's), as the voters leave them
    for name in ("campaign", "fair"):
        carried = tmp_path / f"{name}.md"
        carried.write_text(f"# {name}\n")
        info = decide(
            "propose", "--as-human", CAROL.login, "--tier", "major", "--title", f"Carol's {name}",
            "--body", "why", "--file", f"content/{name}.md={carried}", "--json",
        )  # fmt: skip
        found.pulls[name], found.ids[name] = info["pr"], info["decision_id"]
        escalate(decide, str(info["pr"]))
    # a critical change the CEO and the DAO approved: it waits for a maintainer
    profile = tmp_path / "cto.md"
    profile.write_text("# CTO\nSharper.\n")
    info = decide(
        "propose", "--as", "cto", "--tier", "critical", "--title", "Sharper CTO profile",
        "--body", "clearer", "--file", f"profiles/cto.md={profile}", "--json",
    )  # fmt: skip
    found.pulls["profile"], found.ids["profile"] = info["pr"], info["decision_id"]
    for voter in ("ceo", "dao"):
        decide("review", str(info["pr"]), "--as", voter, "--approve")
    tallied = decide("tally", str(info["pr"]), "--json")
    assert (tallied["status"], tallied["stage"]) == ("pending", "maintainer")
    return found


def escalate(decide: Callable[..., Any], pr: str) -> None:
    for voter, choice in (("ceo", "--approve"), ("dao", "--veto")):
        decide("review", pr, "--as", voter, choice)
    assert decide("tally", pr, "--json")["round"] == 2
    for advisor in ("cmo", "cto", "cfo", "coo", "cco"):
        decide("review", pr, "--as", advisor, "--comment", "--body", "analysis")
    assert decide("tally", pr, "--json")["round"] == 3
    for voter, choice in (
        ("ceo", "--approve"), ("cto", "--approve"), ("dao", "--veto"), ("cfo", "--veto"),
        ("cmo", "--abstain"), ("coo", "--abstain"), ("cco", "--abstain"),
    ):  # fmt: skip
        decide("review", pr, "--as", voter, choice)
    assert decide("tally", pr, "--json")["status"] == "escalated"


def text_of(page: str) -> str:
    without = re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(without))


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page carries the session's CSRF token"
    return found.group(1)


@pytest.fixture
def logged_in(org: Org) -> Iterator[tuple[TestClient, inbox.Writes]]:
    writes = org.writes()
    token = writes.sessions.one_time_token(MAINTAINER)
    with org.client(writes) as http:
        assert http.post("/login", data={"token": token}).status_code == 303
        yield http, writes


def reviews_by(forge: Forge, number: int, who: Identity) -> list[ReviewState]:
    return [r.state for r in forge.reviews(number) if r.user == who]


# -- the inbox -----------------------------------------------------------------------------


def test_the_inbox_lists_decisions_waiting_and_alerts_with_their_links(org: Org) -> None:
    with org.client(None) as http:
        response = http.get("/inbox")
    assert response.status_code == 200
    page = response.text
    seen = text_of(page)
    for name in ("campaign", "fair", "profile"):
        assert f'href="/decisions/{org.ids[name]}"' in page
        assert f"#{org.pulls[name]}" in seen
    assert "the voters are deadlocked" in seen
    assert "a maintainer's approval (the agents approved)" in seen
    # the CMO's run out of budget, with its agent and run
    [stopped] = [e for e in org.events("agent.run") if e["payload"]["status"] == "budget_exhausted"]
    assert "budget exhausted" in seen
    assert 'href="/agents/cmo"' in page and f'href="/runs/{stopped["run_id"]}"' in page
    # the CTO's question to the maintainers, with its issue
    [asked] = org.events("agent.human_action")
    assert "Renew the CDN contract" in seen and asked["source_agent"] == "cto"
    assert 'href="/agents/cto"' in page
    # read-only: no form, no token, a way to the login
    assert 'name="csrf"' not in page and '<form class="act"' not in page
    assert 'href="/inbox"' in page  # in the navigation


def test_the_inbox_pages_newest_first(org: Org) -> None:
    with org.client(None) as http:
        first = views_inbox.waiting(org.memory, limit=2)
        assert [d.id for d in first.items] == [org.ids["profile"], org.ids["fair"]]
        assert first.next is not None
        response = http.get(f"/inbox?after_decisions={first.next}")
        assert response.status_code == 200
        assert f'href="/decisions/{org.ids["campaign"]}"' in response.text
        assert f'href="/decisions/{org.ids["profile"]}"' not in response.text
        assert http.get("/inbox?after_alerts=garbage").status_code == 400


# -- logging in ------------------------------------------------------------------------------


def test_the_printed_token_logs_in_once_as_its_maintainer_only(org: Org) -> None:
    writes = org.writes()
    token = writes.sessions.one_time_token(MAINTAINER)
    with org.client(writes) as first, org.client(writes) as second:
        shown = first.get(f"/login?token={token}")
        assert shown.status_code == 200 and MAINTAINER.login in text_of(shown.text)
        response = first.post("/login", data={"token": token})
        assert response.status_code == 303 and response.headers["location"] == "/inbox"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=3600" in cookie
        assert token not in cookie
        page = first.get("/inbox").text
        assert f"Logged in as {MAINTAINER.login}" in text_of(page)
        assert 'action="/inbox/decisions/' in page
        # the same token again, from another browser: refused, no session
        again = second.post("/login", data={"token": token})
        assert again.status_code == 403 and "set-cookie" not in again.headers
        assert "Logged in" not in second.get("/inbox").text
        assert second.post("/login", data={"token": "made-up"}).status_code == 403
        # logging out ends the session; the token stays spent
        logout = first.post("/logout", data={"csrf": csrf_of(page)})
        assert logout.status_code == 303
        assert "Logged in" not in first.get("/inbox").text
        assert first.post("/login", data={"token": token}).status_code == 403


def test_a_non_maintainer_can_never_log_in(org: Org, run_aito: Any) -> None:
    for login in (CAROL.login, OUTSIDER.login, "ceo"):
        refused = run_aito("--repo", str(org.world.repo), "dashboard", "--maintainer", login)
        assert refused.code == 5, refused.err
        assert "not a maintainer" in refused.err
    # a token made for someone who is no maintainer (now) opens nothing
    writes = org.writes()
    token = writes.sessions.one_time_token(CAROL)
    with org.client(writes) as http:
        assert http.post("/login", data={"token": token}).status_code == 403
        assert "Logged in" not in http.get("/inbox").text


# -- writing -----------------------------------------------------------------------------------


def test_a_maintainer_approves_and_the_pull_request_shows_their_review(
    org: Org, logged_in: tuple[TestClient, inbox.Writes]
) -> None:
    http, _ = logged_in
    number = org.pulls["profile"]
    csrf = csrf_of(http.get("/inbox").text)
    response = http.post(
        f"/inbox/decisions/{org.ids['profile']}/approve", data={"csrf": csrf, "body": "Fine."}
    )
    assert response.status_code == 303, response.text
    forge = org.forge()
    [review] = [r for r in forge.reviews(number) if r.user == MAINTAINER]
    assert review.state is ReviewState.APPROVED and review.body == "Fine."
    assert review.commit_id == forge.pull(number).head_sha
    [event] = org.events("dashboard.")
    assert event["event_type"] == "dashboard.review" and event["decision_id"] == org.ids["profile"]
    assert event["payload"] == {
        "by": MAINTAINER.login, "user_id": MAINTAINER.id, "pr": number, "action": "approve",
        "forge": "local",
    }  # fmt: skip
    after = http.get(response.headers["location"]).text
    assert f"You approved {org.ids['profile']}" in text_of(after)
    # the next tally counts it as the maintainer's approval (as after `decide review`)
    assert org.decide("tally", str(number), "--json")["status"] == "approved"


def test_a_maintainer_vetoes(org: Org, logged_in: tuple[TestClient, inbox.Writes]) -> None:
    http, _ = logged_in
    number = org.pulls["campaign"]
    csrf = csrf_of(http.get("/inbox").text)
    response = http.post(f"/inbox/decisions/{org.ids['campaign']}/veto", data={"csrf": csrf})
    assert response.status_code == 303
    assert reviews_by(org.forge(), number, MAINTAINER) == [ReviewState.CHANGES_REQUESTED]
    assert org.decide("tally", str(number), "--json")["status"] == "rejected"


def test_a_maintainers_merge_decides_and_is_tallied_at_once(
    org: Org, logged_in: tuple[TestClient, inbox.Writes]
) -> None:
    http, _ = logged_in
    number = org.pulls["campaign"]
    csrf = csrf_of(http.get("/inbox").text)
    response = http.post(f"/inbox/decisions/{org.ids['campaign']}/merge", data={"csrf": csrf})
    assert response.status_code == 303, response.text
    pull = org.forge().pull(number)
    assert pull.state is PullState.MERGED and pull.merged_by == MAINTAINER
    row = org.memory.decision(org.ids["campaign"])
    assert row is not None and row["status"] == "approved"
    assert row["human_decision"] == "approve" and row["decided_by"] == MAINTAINER.login
    assert [e["event_type"] for e in org.events("dashboard.")] == ["dashboard.merge"]
    # decided: it leaves the inbox
    assert f'href="/decisions/{org.ids["campaign"]}"' not in http.get("/inbox").text


def test_a_maintainers_close_rejects(org: Org, logged_in: tuple[TestClient, inbox.Writes]) -> None:
    http, _ = logged_in
    number = org.pulls["fair"]
    csrf = csrf_of(http.get("/inbox").text)
    response = http.post(f"/inbox/decisions/{org.ids['fair']}/close", data={"csrf": csrf})
    assert response.status_code == 303, response.text
    pull = org.forge().pull(number)
    assert pull.state is PullState.CLOSED and pull.closed_by == MAINTAINER
    assert org.status("fair") == "rejected"


def test_a_commit_pushed_after_the_inbox_showed_a_pull_request_is_neither_approved_nor_merged(
    org: Org, logged_in: tuple[TestClient, inbox.Writes]
) -> None:
    http, _ = logged_in
    number, decision_id = org.pulls["profile"], org.ids["profile"]
    forge = org.forge()
    pull = forge.pull(number)
    page = http.get("/inbox").text
    seen = head_of(page, decision_id)
    assert seen == pull.head_sha  # what the CEO and the DAO approved, as the tally judged it
    assert f"#{number} at {seen[:12]}" in text_of(page)
    csrf = csrf_of(page)
    # whoever can push to the branch slips a commit in after the maintainer looked
    sneaked = forge.commit_files(
        branch=pull.head_ref, base=pull.base_ref, files={"profiles/cto.md": b"# CTO\nSneaky.\n"},
        message="one more thing", author=pull.author,
    )  # fmt: skip
    for action in ("approve", "merge"):
        url = f"/inbox/decisions/{decision_id}/{action}"
        response = http.post(url, data={"csrf": csrf, "head": seen, "body": "Fine."})
        assert response.status_code == 409, action
        said = text_of(response.text)
        assert f"#{number} moved to {sneaked[:12]}" in said and "nothing was written" in said
    bad = http.post(
        f"/inbox/decisions/{decision_id}/approve", data={"csrf": csrf, "head": "HEAD~1"}
    )
    assert bad.status_code == 400
    after = org.forge()
    assert reviews_by(after, number, MAINTAINER) == []
    assert after.pull(number).state is PullState.OPEN
    assert org.events("dashboard.") == []
    # once tallied, the inbox shows the new commit, and the maintainer acts on that one
    org.decide("tally", str(number), "--json")
    page = http.get("/inbox").text
    assert head_of(page, decision_id) == sneaked
    response = http.post(
        f"/inbox/decisions/{decision_id}/veto",
        data={"csrf": csrf_of(page), "head": sneaked, "body": "Not this."},
    )
    assert response.status_code == 303, response.text
    [review] = [r for r in org.forge().reviews(number) if r.user == MAINTAINER]
    assert (review.state, review.commit_id) == (ReviewState.CHANGES_REQUESTED, sneaked)


def test_writes_without_a_session_are_refused_and_write_nothing(org: Org) -> None:
    writes = org.writes()
    with org.client(writes) as http:
        for action in ("approve", "veto", "merge", "close"):
            response = http.post(f"/inbox/decisions/{org.ids['campaign']}/{action}", data={})
            assert response.status_code == 403, action
        assert http.post("/logout", data={}).status_code == 403
    with org.client(None) as http:  # a read-only dashboard has no write route that works
        response = http.post(f"/inbox/decisions/{org.ids['campaign']}/approve", data={})
        assert response.status_code == 403
    forge = org.forge()
    assert reviews_by(forge, org.pulls["campaign"], MAINTAINER) == []
    assert forge.pull(org.pulls["campaign"]).state is PullState.OPEN
    assert org.events("dashboard.") == []
    assert org.status("campaign") == "escalated"


def test_a_forged_or_missing_csrf_token_is_refused_and_writes_nothing(
    org: Org, logged_in: tuple[TestClient, inbox.Writes]
) -> None:
    http, writes = logged_in
    url = f"/inbox/decisions/{org.ids['campaign']}/merge"
    # another session's token is no better than a made-up one
    other = writes.sessions.open(SECOND_MAINTAINER)
    for form in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": other.csrf}):
        assert http.post(url, data=form).status_code == 403, form
    # a form posted from another site, even carrying the right token
    csrf = csrf_of(http.get("/inbox").text)
    evil = http.post(url, data={"csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    # a forged session cookie
    http.cookies.set(sessions.COOKIE, other.id + ".00")
    assert http.post(url, data={"csrf": other.csrf}).status_code == 403
    assert org.forge().pull(org.pulls["campaign"]).state is PullState.OPEN
    assert org.events("dashboard.") == []


def test_a_get_never_writes(org: Org, logged_in: tuple[TestClient, inbox.Writes]) -> None:
    http, _ = logged_in
    for action in ("approve", "merge"):
        response = http.get(f"/inbox/decisions/{org.ids['campaign']}/{action}")
        assert response.status_code == 405
    assert org.events("dashboard.") == []
    assert org.forge().pull(org.pulls["campaign"]).state is PullState.OPEN


def test_pages_cannot_be_framed_and_logged_in_pages_are_not_cached(
    logged_in: tuple[TestClient, inbox.Writes],
) -> None:
    http, _ = logged_in
    response = http.get("/inbox")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert http.get("/").headers["x-frame-options"] == "DENY"


# -- GitHub: the device flow -----------------------------------------------------------------


def test_on_github_only_a_maintainer_by_numeric_id_logs_in_with_the_device_flow(
    org: Org,
) -> None:
    tokens = {
        "tok-maintainer": (MAINTAINER.login, MAINTAINER.id),
        "tok-outsider": (OUTSIDER.login, OUTSIDER.id),
        # a maintainer's login (other case) on another account: the id decides
        "tok-lookalike": (MAINTAINER.login.upper(), 90000777),
    }
    server = fake_github.start_fake_github(users=tokens)
    try:
        settings = org.world.settings.model_copy(
            update={"forge": "github", "github_api_url": server.url}
        )
        writes = dashboard_commands.maintainer_writes(
            settings, app.Reloading(lambda: org.world.org), org.world.runtime, False,
            fake_github_oauth.CLIENT_ID,
        )  # fmt: skip
        assert writes is not None and writes.kind == "github"
        for token in ("tok-outsider", "tok-lookalike"):
            with org.client(writes) as http:
                code = start_device_login(http)
                fake_github_oauth.enter_code(server, code, token=token)
                refused = http.post("/login/github/poll")
                assert refused.status_code == 403 and "not a maintainer" in refused.text
                assert sessions.COOKIE not in http.cookies
        with org.client(writes) as http:
            code = start_device_login(http)
            waiting = http.post("/login/github/poll")  # not entered yet
            assert waiting.status_code == 200 and "has not seen the code" in waiting.text
            fake_github_oauth.enter_code(server, code, token="tok-maintainer")
            done = http.post("/login/github/poll")
            assert done.status_code == 303 and "tok-maintainer" not in done.headers["set-cookie"]
            page = http.get("/inbox").text
            assert f"Logged in as {MAINTAINER.login}" in text_of(page)
            assert "tok-maintainer" not in page
            session = writes.sessions.find(http.cookies[sessions.COOKIE])
            assert session is not None and session.maintainer == MAINTAINER
            # the session's writes go out with the maintainer's own token
            assert session.token is not None
            assert session.token.get_secret_value() == "tok-maintainer"
            # the device code is spent: continuing again starts nothing
            assert http.post("/login/github/poll").status_code == 400
    finally:
        server.stop()


def start_device_login(http: TestClient) -> str:
    started = http.post("/login/github")
    assert started.status_code == 303 and sessions.DEVICE_COOKIE in http.cookies
    page = http.get("/login").text
    found = re.search(r'<p class="code"[^>]*>([^<]+)</p>', page)
    assert found, "the login page shows the code to enter on GitHub"
    assert "/login/device" in page  # and where to enter it
    return found.group(1).strip()


# -- in a real browser -----------------------------------------------------------------------


def test_in_a_browser_a_maintainer_approves_an_escalated_decision_by_keyboard(
    org: Org, chromium: Any
) -> None:
    """The maintainer opens the link `aito dashboard --maintainer` printed, logs in,
    reaches the escalated decision's review box and its Approve button with the keyboard,
    and approves: the pull request shows their review, with their text. No page logs a
    console error; the logged-in inbox passes axe-core's WCAG 2 A/AA checks."""
    writes = org.writes()
    token = writes.sessions.one_time_token(MAINTAINER)
    source = app.Source(
        organization=lambda: org.world.org,
        memory=org.memory,
        ledger=budgets.BudgetLedger(org.world.runtime.bus),
    )
    number = org.pulls["campaign"]
    with serving(app.create_app(source, writes)) as base:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{base}/login?token={token}")
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base}/inbox")
            assert MAINTAINER.login in page.locator("header").inner_text()
            page.add_script_tag(content=axe_source())
            found = page.evaluate(
                "async () => (await axe.run(document, {runOnly: "
                "{type: 'tag', values: ['wcag2a', 'wcag2aa']}})).violations.map(v => v.id)"
            )
            assert found == []
            page.screenshot(path=str(screenshots() / "inbox-logged-in.png"), full_page=True)
            form = page.locator(f'form[action="/inbox/decisions/{org.ids["campaign"]}/approve"]')
            form.locator("textarea").focus()
            page.keyboard.type("Approved: both analyses agree.")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent.trim()") == "Approve"
            page.keyboard.press("Enter")
            page.wait_for_url(f"{base}/inbox?**")
            assert problems == []
        finally:
            context.close()
    [review] = [r for r in org.forge().reviews(number) if r.user == MAINTAINER]
    assert review.state is ReviewState.APPROVED
    assert "Approved: both analyses agree." in review.body
    [event] = org.events("dashboard.review")
    assert event["payload"]["by"] == MAINTAINER.login and event["payload"]["pr"] == number
