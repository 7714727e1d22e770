"""No agent, whatever its `git.paths`, writes workflow or automation files with open_pr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.agent_world import seen

from aito.agent import actions, checking
from aito.org import loading

PROTECTED = [
    ".github/workflows/deploy.yml",
    ".github/workflows/sub/dir/x.yaml",
    ".GITHUB/workflows/deploy.yml",
    ".github/actions/setup/action.yml",
    ".github/dependabot.yml",
    ".github/CODEOWNERS",
    "CODEOWNERS",
    "docs/CODEOWNERS",
    "tools/release/action.yaml",
    ".gitlab-ci.yml",
    ".circleci/config.yml",
    "Jenkinsfile",
    ".pre-commit-config.yaml",
    ".gitmodules",
]


@pytest.fixture
def org(example_repo: Path) -> loading.Organization:
    return loading.load_valid(example_repo)


def check(org: loading.Organization, agent: str, files: dict[str, str], repo: str) -> str | None:
    action = actions.OpenPr(title="Tidy CI", body="Small fix.", files=files, repo=repo)
    return checking.check(
        action,
        context=seen(org, agent),
        org=org,
        counts=checking.RunCounts(),
        caps=checking.Caps(),
    )


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize(("agent", "repo"), [("cto", "website"), ("ceo", "treasury")])
def test_agents_with_every_path_cannot_write_automation(
    org: loading.Organization, agent: str, repo: str, path: str
) -> None:
    assert org.agents[agent].git.paths == ["**"]  # the broadest filter there is
    reason = check(org, agent, {"src/app.py": "ok", path: "on: push"}, repo)
    assert reason is not None and "protected" in reason and "critical decision" in reason


def test_the_same_agent_may_write_ordinary_files(org: loading.Organization) -> None:
    files = {"src/app.py": "x", "Makefile": "all:", "docs/ci.md": "how CI works"}
    assert check(org, "cto", files, "website") is None


@pytest.mark.parametrize("case", [str, str.upper], ids=["as-named", "other-case"])
def test_rules_and_profiles_are_protected_in_the_governance_repo(
    org: loading.Organization, case: Callable[[str], str]
) -> None:
    governance = case(org.org.governance_repo.repo)  # GitHub repo names ignore case
    repos = dict(org.org.repos) | {"governance": governance}
    widened = loading.Organization(
        root=org.root,
        org=org.org.model_copy(update={"repos": repos}),
        agents=org.agents,
        decisions=org.decisions,
        tasks=org.tasks,
        profiles=org.profiles,
    )
    for path in ("org/org.yaml", "org/agents/cto.yaml", "org/decisions/x.yaml", "profiles/ceo.md"):
        reason = check(widened, "ceo", {path: "x"}, "governance")
        assert reason is not None and "protected" in reason, path
    # In a department repo an `org/` folder is just a folder.
    assert check(widened, "ceo", {"org/notes.md": "x"}, "treasury") is None
