"""Every org-settings endpoint of the fake GitHub (support.fake_github_admin), driven by
`aito github doctor`'s own reader and the manifest code exchange, for the OpenAPI check
in ``tests/forge/test_github_openapi.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import SecretStr
from support.fake_github import FakeGitHub
from support.fake_github_admin import add_runner, manifest_code
from support.live_org import ADMIN_TOKEN, deploy

from aito.forge import github_apps_registering, github_doctor
from aito.forge.github_doctor_reading import GitHubReader

SOURCE = Path(__file__).resolve().parents[2]


def run_admin_session(server: FakeGitHub, root: Path) -> None:
    """Deploy the example organization, run every doctor check, exchange a code."""
    for part in ("org", "profiles", ".github"):
        shutil.copytree(SOURCE / part, root / part)
    live = deploy(server, root, record=lambda bot, slug: None)
    repo = live.org.org.governance_repo.repo
    add_runner(server, "repo-runner", labels=["self-hosted", "aito"], repo=repo)
    reader = GitHubReader(api_url=server.url, token=SecretStr(ADMIN_TOKEN))
    try:
        findings = github_doctor.diagnose(live.org, reader=reader, web=server.url)
    finally:
        reader.close()
    assert {f.check for f in findings if not f.ok} == {"bots"}  # nothing recorded: ids differ
    code = manifest_code(server, "acme-new", permissions={"contents": "write"})
    made = github_apps_registering.convert_code(server.url, code)
    assert made.slug == "acme-new" and made.private_key is not None
