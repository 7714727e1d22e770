"""`aito github apps` and `aito github apps record`: least-privilege manifests, and a
created App's bot written into org/org.yaml (comments kept, the org still valid)."""

from __future__ import annotations

import difflib
import html
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_github import FakeGitHub, start_fake_github
from support.fake_github_admin import manifest_code
from support.fake_github_apps import add_app

from aito.org import loading

AGENT = {"contents": "write", "issues": "write", "metadata": "read", "pull_requests": "write"}
ADMIN = "ghp_admin_for_records"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={ADMIN: ("shiba-maintainer", 90000001)})
    monkeypatch.setenv("AITO_GITHUB_API_URL", fake.url)
    try:
        yield fake
    finally:
        fake.stop()


def apps_json(run_aito: Any, repo: Path, pages: Path) -> dict[str, Any]:
    result = run_aito("--repo", str(repo), "github", "apps", "--pages", str(pages), "--json")
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def test_one_least_privilege_app_per_bot(example_repo: Path, run_aito: Any, tmp_path: Path) -> None:
    data = apps_json(run_aito, example_repo, tmp_path / "pages")
    org = loading.load_valid(example_repo)
    looping = sorted(a.id for a in org.agents.values() if a.loop is not None)
    assert [a["bot"] for a in data["apps"]] == ["governance", *looping]
    assert data["create_url"] == (
        "https://github.com/organizations/og-shibaclassic/settings/apps/new"
    )
    by_bot = {a["bot"]: a for a in data["apps"]}
    for bot in looping:
        app = by_bot[bot]
        assert app["permissions"] == AGENT  # never workflows, administration or statuses
        assert app["manifest"]["default_permissions"] == AGENT
        assert app["id_variable"] == f"AITO_APP_ID_{bot.upper()}"
        assert app["key_secret"] == f"AITO_APP_KEY_{bot.upper()}"
        assert app["environment"] is None
        assert app["login"] == org.org.bots[bot].login  # the App org.yaml already expects
    governance = by_bot["governance"]
    assert governance["permissions"] == AGENT | {"statuses": "write"}
    assert (governance["id_variable"], governance["key_secret"], governance["environment"]) == (
        "AITO_GOVERNANCE_APP_ID",
        "AITO_GOVERNANCE_APP_KEY",
        "governance",
    )
    assert governance["repos"] == ["og-shibaclassic/aito-governance"]
    assert by_bot["cmo"]["repos"] == [
        "og-shibaclassic/aito-governance",
        "og-shibaclassic/shiba-social",
    ]
    for app in data["apps"]:
        manifest = app["manifest"]
        assert manifest["hook_attributes"]["active"] is False and manifest["default_events"] == []
        assert manifest["public"] is False
        assert manifest["redirect_url"] == "https://github.com/og-shibaclassic/aito-governance"


def test_each_page_posts_its_manifest_to_the_org(
    example_repo: Path, run_aito: Any, tmp_path: Path
) -> None:
    data = apps_json(run_aito, example_repo, tmp_path / "pages")
    for app in data["apps"]:
        page = Path(app["page"]).read_text(encoding="utf-8")
        form = re.search(r'<form action="([^"]+)" method="post">', page)
        assert form is not None
        assert html.unescape(form.group(1)).startswith(data["create_url"] + "?state=")
        field = re.search(r'<input type="hidden" name="manifest" value="([^"]*)">', page)
        assert field is not None
        assert json.loads(html.unescape(field.group(1))) == app["manifest"]


def test_github_enterprise_urls_come_from_the_api_url(
    example_repo: Path, run_aito: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AITO_GITHUB_API_URL", "https://ghe.example.com/api/v3")
    data = apps_json(run_aito, example_repo, tmp_path / "pages")
    assert data["create_url"] == (
        "https://ghe.example.com/organizations/og-shibaclassic/settings/apps/new"
    )
    assert data["apps"][0]["manifest"]["url"].startswith("https://ghe.example.com/")


def _diff(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_record_from_the_manifest_code(
    example_repo: Path, run_aito: Any, server: FakeGitHub, tmp_path: Path
) -> None:
    org_yaml = example_repo / "org/org.yaml"
    before = org_yaml.read_text()
    code = manifest_code(server, "shiba-cmo-2", permissions=AGENT)
    key_file = tmp_path / "keys" / "cmo.pem"
    result = run_aito(
        "--repo", str(example_repo), "github", "apps", "record", "cmo", "--code", code,
        "--key-file", str(key_file), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    data = json.loads(result.out)
    bot = server.users["shiba-cmo-2[bot]"]
    assert (data["login"], data["id"], data["slug"]) == (bot.login, bot.id, "shiba-cmo-2")
    assert _diff(before, org_yaml.read_text()) == [
        '-  cmo: {login: "shiba-cmo[bot]", id: 190000003}',
        f'+  cmo: {{login: "shiba-cmo-2[bot]", id: {bot.id}}}',
    ]
    assert loading.load_valid(example_repo).org.bots["cmo"].id == bot.id
    pem = key_file.read_text()
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in result.out + result.err
    assert data["key_secret"] == "AITO_APP_KEY_CMO"
    assert (
        f"gh variable set AITO_APP_ID_CMO --repo og-shibaclassic/aito-governance --body "
        f"{data['app_id']}"
    ) in data["next"]
    assert run_aito("--repo", str(example_repo), "validate").code == 0
    text = org_yaml.read_text()
    again = run_aito(
        "--repo", str(example_repo), "github", "apps", "record", "cmo", "--code", code
    )  # a code works once
    assert again.code == 6 and "once" in again.err
    assert org_yaml.read_text() == text


def test_record_the_governance_bot_by_slug_into_an_org_without_one(
    run_aito: Any, server: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "mine"
    assert run_aito("init", str(repo), "--no-git").code == 0
    app = add_app(server, "example-governance", permissions=AGENT | {"statuses": "write"})
    monkeypatch.setenv("AITO_GITHUB_ADMIN_TOKEN", ADMIN)
    before = (repo / "org/org.yaml").read_text()
    result = run_aito(
        "--repo", str(repo), "github", "apps", "record", "governance", "--slug",
        "example-governance",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "--env governance" in result.out and "AITO_GOVERNANCE_APP_KEY" in result.out
    assert _diff(before, (repo / "org/org.yaml").read_text()) == [
        f'+  bot: {{login: "example-governance[bot]", id: {app.bot.id}}}'
    ]
    bot = loading.load_valid(repo).org.governance_repo.bot
    assert bot is not None and (bot.login, bot.id) == (app.bot.login, app.bot.id)


def test_a_record_that_would_make_the_org_invalid_changes_nothing(
    example_repo: Path, run_aito: Any, server: FakeGitHub
) -> None:
    add_app(server, "shiba-ceo", permissions=AGENT)
    run_aito("--repo", str(example_repo), "github", "apps", "record", "ceo", "--slug", "shiba-ceo")
    before = (example_repo / "org/org.yaml").read_text()
    # the CEO's App recorded as the CMO's bot: two agents with one account
    result = run_aito(
        "--repo", str(example_repo), "github", "apps", "record", "cmo", "--slug", "shiba-ceo"
    )
    assert result.code == 1 and "bot id" in result.err
    assert (example_repo / "org/org.yaml").read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["content-writer", "--slug", "x"], "has no App"),
        (["cmo"], "exactly one of --code or --slug"),
        (["cmo", "--code", "c", "--slug", "x"], "exactly one of --code or --slug"),
        (["cmo", "--slug", "Not A Slug!"], "is not a name"),
    ],
)
def test_record_refuses_bad_input(
    example_repo: Path, run_aito: Any, args: list[str], message: str
) -> None:
    before = (example_repo / "org/org.yaml").read_text()
    result = run_aito("--repo", str(example_repo), "github", "apps", "record", *args)
    assert result.code == 2 and message in result.err
    assert (example_repo / "org/org.yaml").read_text() == before
