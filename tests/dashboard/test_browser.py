"""The dashboard in a real headless Chromium (the system's, driven by Playwright) over a
simulated day, served by uvicorn as `aito dashboard` serves it: every page loads with no
console error and passes axe-core's WCAG 2 A/AA checks; a screenshot of each is written
as a test artifact (``$AITO_TEST_ARTIFACTS``, default ``.aito/artifacts``, under
``dashboard/``)."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from support.act import REPO_ROOT
from support.browser import axe_source
from support.dashboard_day import Day, source_of

from aito.dashboard import app

ARTIFACTS = Path(os.environ.get("AITO_TEST_ARTIFACTS") or REPO_ROOT / ".aito" / "artifacts")


@pytest.fixture(scope="module")
def served(day: Day) -> Iterator[str]:
    """The dashboard over the day on a free port of 127.0.0.1; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app.create_app(source_of(day)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard did not start within 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def pages(day: Day) -> dict[str, str]:
    """Every page, by a short name, with real ids from the day."""
    [(run_id,)] = day.query(
        "SELECT run_id FROM agent_runs WHERE agent_id = 'cmo' ORDER BY run_id LIMIT 1"
    )
    [(decision_id,)] = day.query("SELECT id FROM decisions ORDER BY id LIMIT 1")
    return {
        "organization": "/",
        "agent": "/agents/cmo",
        "run": f"/runs/{run_id}",
        "decisions": "/decisions",
        "decision": f"/decisions/{decision_id}",
        "tasks": "/tasks",
        "events": "/events",
        "costs": "/costs",
    }


def test_every_page_loads_without_a_console_error_and_passes_axe(
    day: Day, served: str, chromium: Any
) -> None:
    axe = axe_source()
    shots = ARTIFACTS / "dashboard"
    shots.mkdir(parents=True, exist_ok=True)
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
        assert sorted(p.name for p in shots.glob("*.png")) >= sorted(
            f"{name}.png" for name in pages(day)
        )
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
