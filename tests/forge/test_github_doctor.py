"""`aito github doctor` on the fake GitHub: a deployment done as docs/deploy.md says
passes; each piece broken in turn is reported with its fix, and only that piece."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_github import FakeGitHub, start_fake_github
from support.fake_github_admin import add_runner, admin_state
from support.fake_github_apps import add_app, app_state, install_app
from support.live_org import ADMIN_TOKEN, Live, deploy

from aito.forge import github_doctor_branch

ORG = "og-shibaclassic"
GOV = "og-shibaclassic/aito-governance"


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={})
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def deployed(
    server: FakeGitHub, example_repo: Path, run_aito: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Live]:
    monkeypatch.setenv("AITO_GITHUB_API_URL", server.url)
    monkeypatch.setenv("AITO_GITHUB_ADMIN_TOKEN", ADMIN_TOKEN)

    def record(bot: str, slug: str) -> None:
        result = run_aito(
            "--repo", str(example_repo), "github", "apps", "record", bot, "--slug", slug
        )
        assert result.code == 0, result.err

    def make(**options: Any) -> Live:
        return deploy(server, example_repo, record=record, **options)

    return make


def doctor(run_aito: Any, root: Path) -> tuple[int, dict[str, Any]]:
    result = run_aito("--repo", str(root), "github", "doctor", "--json")
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def failing(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if not f["ok"]]


def test_a_complete_deployment_passes(deployed: Callable[..., Live], run_aito: Any) -> None:
    live = deployed()
    code, report = doctor(run_aito, live.root)
    assert failing(report) == []
    assert code == 0 and report["ok"] is True and report["problems"] == 0
    checks = {f["check"] for f in report["findings"]}
    assert checks == {
        "repos",
        "maintainers",
        "apps",
        "bots",
        "protection",
        "codeowners",
        "environment",
        "secrets",
        "variables",
        "runners",
        "render",
    }
    text = run_aito("--repo", str(live.root), "github", "doctor")
    assert text.code == 0 and "all" in text.out and "checks hold" in text.out


def test_the_json_shape(deployed: Callable[..., Live], run_aito: Any) -> None:
    live = deployed()
    admin_state(live.server).secrets[GOV].discard("ANTHROPIC_API_KEY")
    code, report = doctor(run_aito, live.root)
    assert code == 1
    assert set(report) == {"ok", "problems", "findings"} and report["ok"] is False
    for finding in report["findings"]:
        assert set(finding) == {"check", "subject", "ok", "message", "fix"}
        assert finding["ok"] or finding["fix"]
    assert report["problems"] == len(failing(report)) == 1


def _drop_installation(live: Live, key: str) -> None:
    state = app_state(live.server)
    for installation_id, installation in list(state.installations.items()):
        if installation.app is live.apps[key]:
            del state.installations[installation_id]


def _narrow_installation(live: Live, key: str) -> None:
    for installation in app_state(live.server).installations.values():
        if installation.app is live.apps[key]:
            installation.repos = [GOV]


def _protect(live: Live, **change: Any) -> None:
    body = json.loads(github_doctor_branch.protection_body(live.org, live.apps["governance"].id))
    for path, value in change.items():
        target = body
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    live.protect(json.dumps(body))


def _stale_workflow(files: dict[str, bytes]) -> None:
    files[".github/workflows/agent-cmo.yml"] += b"# edited by hand\n"


def _codeowners_without_profiles(files: dict[str, bytes]) -> None:
    files[".github/CODEOWNERS"] = b"/org/ @shiba-maintainer\n/.github/ @shiba-maintainer\n"


def _offline_runner(live: Live) -> None:
    for runner in admin_state(live.server).runners[f"org:{ORG}"]:
        runner["status"] = "offline"


def _runner_without_label(live: Live) -> None:
    admin_state(live.server).runners.clear()
    add_runner(live.server, "plain", labels=["self-hosted", "Linux", "X64"], repo=GOV)


def _governance_key_in_repo(live: Live) -> None:
    state = admin_state(live.server)
    state.environments[(GOV, "governance")].secrets.discard("AITO_GOVERNANCE_APP_KEY")
    state.secrets[GOV].add("AITO_GOVERNANCE_APP_KEY")


def _weak_governance_app(live: Live) -> None:
    """The governance App created without statuses: write, and installed in its place."""
    _drop_installation(live, "governance")
    del live.server.users["shiba-governance[bot]"]
    weaker = add_app(
        live.server,
        "shiba-governance",
        permissions={"contents": "write", "pull_requests": "write", "issues": "write"},
    )
    install_app(live.server, weaker, ORG, [GOV])
    live.apps["governance"] = weaker


def _wrong_maintainer_id(live: Live) -> None:
    org_yaml = live.root / "org/org.yaml"
    org_yaml.write_text(org_yaml.read_text().replace("id: 90000001", "id: 90000002"))


# (name, set-up options, break after deploying, failing checks, a piece of the fix)
BROKEN: list[tuple[str, dict[str, Any], Callable[[Live], None] | None, set[str], str]] = [
    (
        "missing App installation",
        {},
        lambda live: _drop_installation(live, "cmo"),
        {"apps"},
        "/apps/shiba-cmo/installations/new",
    ),
    (
        "App not on its agent's repository",
        {},
        lambda live: _narrow_installation(live, "cmo"),
        {"apps"},
        "add og-shibaclassic/shiba-social to the installation",
    ),
    (
        "installation lacks a permission",
        {},
        _weak_governance_app,
        {"apps", "bots", "protection"},
        "statuses: write",
    ),
    (
        "missing branch protection",
        {},
        lambda live: admin_state(live.server).protection.clear(),
        {"protection"},
        "gh api -X PUT repos/og-shibaclassic/aito-governance/branches/main/protection",
    ),
    (
        "status from any source",
        {},
        lambda live: _protect(
            live, required_status_checks__checks=[{"context": "aito/decision", "app_id": -1}]
        ),
        {"protection"},
        '"app_id":',
    ),
    (
        "status from another App",
        {},
        lambda live: _protect(
            live,
            required_status_checks__checks=[
                {"context": "aito/decision", "app_id": live.apps["cmo"].id}
            ],
        ),
        {"protection"},
        "protection",
    ),
    (
        "no code-owner review",
        {},
        lambda live: _protect(
            live, required_pull_request_reviews__require_code_owner_reviews=False
        ),
        {"protection"},
        '"require_code_owner_reviews":true',
    ),
    (
        "governance App may not bypass review",
        {},
        lambda live: _protect(
            live, required_pull_request_reviews__bypass_pull_request_allowances={"apps": []}
        ),
        {"protection"},
        '"apps":["shiba-governance"]',
    ),
    (
        "CODEOWNERS leaves profiles/ unowned",
        {"files": _codeowners_without_profiles},
        None,
        {"codeowners"},
        "/profiles/ @shiba-maintainer",
    ),
    (
        "missing secret",
        {},
        lambda live: admin_state(live.server).secrets[GOV].discard("ANTHROPIC_API_KEY"),
        {"secrets"},
        "gh secret set ANTHROPIC_API_KEY --repo og-shibaclassic/aito-governance",
    ),
    (
        "governance key outside its environment",
        {},
        _governance_key_in_repo,
        {"secrets"},
        "--env governance",
    ),
    (
        "missing variable",
        {},
        lambda live: admin_state(live.server).variables[GOV].pop("AITO_APP_ID_CMO"),
        {"variables"},
        "gh variable set AITO_APP_ID_CMO",
    ),
    (
        "variable holds another App's id",
        {},
        lambda live: (
            admin_state(live.server).variables[GOV].update(AITO_APP_ID_CMO=str(live.apps["ceo"].id))
        ),
        {"apps"},
        "gh variable set AITO_APP_ID_CMO",
    ),
    (
        "environment open to every branch",
        {},
        lambda live: setattr(
            admin_state(live.server).environments[(GOV, "governance")], "branches", None
        ),
        {"environment"},
        "deployment-branch-policies",
    ),
    ("no online runner", {}, _offline_runner, {"runners"}, "start the stopped runner"),
    ("no runner with the aito label", {}, _runner_without_label, {"runners"}, "--labels aito"),
    ("stale render", {"files": _stale_workflow}, None, {"render"}, "aito render"),
    (
        "maintainer's id is not GitHub's",
        {},
        _wrong_maintainer_id,
        {"maintainers"},
        "gh api users/shiba-maintainer --jq .id",
    ),
    (
        "missing department repository",
        {"skip_repos": ("og-shibaclassic/shiba-legal",)},
        None,
        {"repos", "apps"},
        "gh repo create og-shibaclassic/shiba-legal --private",
    ),
]


@pytest.mark.parametrize(
    ("options", "breaks", "checks", "fix"), [pytest.param(*case[1:], id=case[0]) for case in BROKEN]
)
def test_each_broken_piece_is_reported_with_its_fix(
    deployed: Callable[..., Live],
    run_aito: Any,
    options: dict[str, Any],
    breaks: Callable[[Live], None] | None,
    checks: set[str],
    fix: str,
) -> None:
    live = deployed(**options)
    if breaks is not None:
        breaks(live)
    code, report = doctor(run_aito, live.root)
    assert code == 1
    problems = failing(report)
    assert {p["check"] for p in problems} == checks, problems
    assert any(fix in (p["fix"] or "") for p in problems), problems
    text = run_aito("--repo", str(live.root), "github", "doctor")
    assert text.code == 1 and "FAIL" in text.out and "fix:" in text.out


def test_without_the_admin_token_the_doctor_says_which_to_set(
    example_repo: Path, run_aito: Any
) -> None:
    result = run_aito("--repo", str(example_repo), "github", "doctor")
    assert result.code == 3
    assert "AITO_GITHUB_ADMIN_TOKEN" in result.err and "gh auth token" in result.err


def test_a_token_that_may_not_read_settings_is_a_finding_not_a_crash(
    deployed: Callable[..., Live], run_aito: Any
) -> None:
    live = deployed()
    live.server.fail_next(
        status=403,
        message="Must have admin rights to Repository.",
        method="GET",
        path="/repos/{owner}/{repo}/actions/secrets",
    )
    code, report = doctor(run_aito, live.root)
    assert code == 1
    problems = failing(report)
    assert [p["check"] for p in problems] == ["secrets"]
    assert "AITO_GITHUB_ADMIN_TOKEN" in problems[0]["fix"]


def test_an_installation_whose_repositories_cannot_be_listed_says_where_to_look(
    deployed: Callable[..., Live], run_aito: Any
) -> None:
    live = deployed()
    live.server.fail_next(
        status=403,
        message="Resource not accessible by personal access token",
        method="GET",
        path="/user/installations/{installation_id}/repositories",
    )
    code, report = doctor(run_aito, live.root)
    assert code == 1
    (problem,) = failing(report)
    assert problem["check"] == "apps" and "cannot be read" in problem["message"]
    assert "/settings/installations/" in problem["fix"]
