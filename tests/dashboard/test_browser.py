"""The dashboard in a real headless Chromium (the system's, driven by Playwright) over a
simulated day, served by uvicorn as `aito dashboard` serves it: every page loads with no
console error and passes axe-core's WCAG 2 A/AA checks; a screenshot of each is written
as a test artifact (``$AITO_TEST_ARTIFACTS``, default ``.aito/artifacts``, under
``dashboard/``)."""

from __future__ import annotations

import datetime as dt
import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from support.browser import axe_source, screenshots
from support.dashboard_day import Day, serving, source_of

from aito.dashboard import app


@pytest.fixture(scope="module")
def served(day: Day) -> Iterator[str]:
    """The dashboard over the day, served as `aito dashboard` serves it."""
    with serving(app.create_app(source_of(day))) as base:
        yield base


def pages(day: Day) -> dict[str, str]:
    """Every page, by a short name, with real ids from the day."""
    [(run_id,)] = day.query(
        "SELECT run_id FROM agent_runs WHERE agent_id = 'cmo' ORDER BY run_id LIMIT 1"
    )
    [(decision_id,)] = day.query("SELECT id FROM decisions ORDER BY id LIMIT 1")
    [(worker_run,)] = day.query(
        "SELECT run_id FROM agent_runs WHERE trigger = 'spawn' ORDER BY run_id LIMIT 1"
    )
    return {
        "organization": "/",
        "agent": "/agents/cmo",
        "run": f"/runs/{run_id}",
        "decisions": "/decisions",
        "decision": f"/decisions/{decision_id}",
        "tasks": "/tasks",
        "events": "/events",
        "costs": "/costs",
        "inbox": "/inbox",
        "workers": "/workers",
        "worker": f"/workers/{urllib.parse.quote(worker_run, safe=':')}",
    }


def test_every_page_loads_without_a_console_error_and_passes_axe(
    day: Day, served: str, chromium: Any
) -> None:
    axe = axe_source()
    shots = screenshots()
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        for name, path in pages(day).items():
            response = page.goto(served + path)
            assert response is not None and response.status == 200, (name, path)
            assert page.locator("main h1").count() == 1, name
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            page.add_script_tag(content=axe)
            found = page.evaluate(
                "async () => (await axe.run(document, {runOnly: "
                "{type: 'tag', values: ['wcag2a', 'wcag2aa']}})).violations"
                ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
            )
            assert found == [], f"{name} ({path}): {found}"
            assert problems == [], f"{name} ({path}): {problems}"
        written = {shot.name for shot in shots.glob("*.png")}
        assert {f"{name}.png" for name in pages(day)} <= written
    finally:
        context.close()


def test_the_navigation_is_reachable_by_keyboard(day: Day, served: str, chromium: Any) -> None:
    """Tab from the top of a page reaches each section of the navigation, in order, and
    Enter follows the focused link."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(served + "/")
        reached: list[str] = []
        for _ in range(12):
            page.keyboard.press("Tab")
            href = page.evaluate("document.activeElement.getAttribute('href')")
            if href:
                reached.append(href)
            if "/costs" in reached:
                break
        sections = [h for h in reached if re.fullmatch(r"/(decisions|tasks|events|costs)", h)]
        assert sections == ["/decisions", "/tasks", "/events", "/costs"], reached
        while page.evaluate("document.activeElement.getAttribute('href')") != "/decisions":
            page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        page.wait_for_url(served + "/decisions")
        assert page.locator("main h1").inner_text().strip() != ""
    finally:
        context.close()


def test_the_org_chart_shows_a_new_heartbeat_within_two_seconds(
    day: Day, served: str, chromium: Any, run_aito: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page stays open; the CMO wakes up (a real run, its heartbeat on the bus); the
    CMO's row shows the new heartbeat within 2 s, without a reload."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(served + "/")
        page.wait_for_selector("[data-live-state=open]", timeout=10_000)
        cell = '[data-agent="cmo"] [data-field="heartbeat"]'
        before = page.get_attribute(cell, "data-at")
        page.evaluate("window.loadedOnce = true")  # gone if the page reloads
        monkeypatch.setenv("POSTGRES_URL", day.url)
        monkeypatch.setenv("REDIS_URL", day.redis_url)
        woke = run_aito(
            "--repo", str(day.report.repo), "agent", "run", "cmo", "--trigger", "manual"
        )
        assert woke.code == 0, woke.err
        beat = _moment(day.bus.statuses(["cmo"])["cmo"]["last_heartbeat"])
        assert before is None or _moment(before) != beat
        started = time.monotonic()
        page.wait_for_function(  # the run's last heartbeat, shown without a reload
            f"Date.parse(document.querySelector('{cell}').getAttribute('data-at')) === "
            f"{int(beat.timestamp() * 1000)}",
            timeout=2_000,
        )
        assert time.monotonic() - started <= 2.0
        assert page.evaluate("window.loadedOnce") is True
    finally:
        context.close()


def _moment(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
