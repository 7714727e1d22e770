"""A real headless Chromium for the dashboard's browser tests, driven by Playwright.

The browser is the system's (Debian's ``chromium``; ``AITO_CHROMIUM`` names another
executable): Playwright's own browser downloads are never used, so nothing is fetched at
test time. When no Chromium is installed the test is skipped with the reason, or fails
when ``AITO_REQUIRE_BROWSER=1`` (CI sets it, after ``scripts/ci-browser`` installed one).

:func:`axe_source` is axe-core (from the npm registry, installed by
``scripts/fetch-github-specs`` into ``.aito/cache/npm``), injected into a page to run the
accessibility checks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.act import REPO_ROOT

ARTIFACTS = Path(os.environ.get("AITO_TEST_ARTIFACTS") or REPO_ROOT / ".aito" / "artifacts")
"""Where the browser tests write their screenshots (under ``dashboard/``)."""
AXE = REPO_ROOT / ".aito" / "cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"


def require_browser() -> bool:
    return os.environ.get("AITO_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if require_browser():
        pytest.fail(f"{reason} (AITO_REQUIRE_BROWSER=1: a browser test may not be skipped)")
    pytest.skip(reason)


def chromium_path() -> str:
    """The Chromium to drive, or skip/fail saying how to get one."""
    named = os.environ.get("AITO_CHROMIUM")
    found = named or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        _unavailable(
            "no Chromium installed (Debian/Ubuntu: sudo apt-get install chromium, or "
            "scripts/ci-browser; AITO_CHROMIUM names another executable)"
        )
    assert found is not None
    return found


def launched() -> Iterator[Any]:
    """A headless Chromium for the session (a Playwright ``Browser``)."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # root in a container cannot use Chromium's sandbox; the pages are our own
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        try:
            yield browser
        finally:
            browser.close()


def axe_source() -> str:
    """axe-core's script, or skip/fail saying how to fetch it."""
    if not AXE.is_file():
        _unavailable(f"axe-core is not installed at {AXE} (run scripts/fetch-github-specs)")
    return AXE.read_text(encoding="utf-8")


def screenshots() -> Path:
    """The directory for the dashboard's screenshots (made if missing)."""
    found = ARTIFACTS / "dashboard"
    found.mkdir(parents=True, exist_ok=True)
    return found
