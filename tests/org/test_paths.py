"""One glob semantics (gitignore, through pathspec) for the action checks, the tier
judgment and validation: the same pattern means the same thing in all three."""

from __future__ import annotations

from pathlib import Path

import pytest

from aito.agent import checking
from aito.governance import authority
from aito.org import loading, paths, validating
from aito.org.organization import Tier

# (pattern, path, covered) — the cases where hand-written globs used to disagree.
CASES = [
    ("content/*", "content/a.md", True),
    ("content/*", "content/a/b.md", True),  # a matched folder covers what is inside it
    ("content/", "content/a/b.md", True),
    ("content/**", "content/a/b/c.md", True),
    ("content/**", "contents/x.md", False),
    ("content/**", "x/content/a.md", False),  # a pattern with a slash is anchored
    ("faq/*.md", "faq/q.md", True),
    ("faq/*.md", "faq/sub/q.md", False),
    ("*.md", "docs/deep/readme.md", True),  # no slash: any depth, as in .gitignore
    ("reports/q?.md", "reports/q1.md", True),
    ("reports/q?.md", "reports/q10.md", False),
    ("reports/[ab].md", "reports/a.md", True),
    ("**", ".github/workflows/x.yml", True),
]


@pytest.mark.parametrize(("pattern", "path", "covered"), CASES)
def test_the_action_check_and_the_module_agree(pattern: str, path: str, covered: bool) -> None:
    assert paths.matches(path, [pattern]) is covered
    assert checking.path_allowed(path, [pattern]) is covered


@pytest.fixture
def org(example_repo: Path) -> loading.Organization:
    return loading.load_valid(example_repo)


@pytest.mark.parametrize(("pattern", "path", "covered"), CASES)
def test_the_tier_judgment_reads_patterns_the_same_way(
    org: loading.Organization, pattern: str, path: str, covered: bool
) -> None:
    cmo = org.agents["cmo"]
    git = cmo.git.model_copy(update={"paths": [pattern]})
    agents = dict(org.agents) | {"cmo": cmo.model_copy(update={"git": git})}
    changed = loading.Organization(
        root=org.root,
        org=org.org,
        agents=agents,
        decisions=org.decisions,
        tasks=org.tasks,
        profiles=org.profiles,
    )
    requirement = authority.required_tier(changed, proposer="cmo", paths=[path], amount_usd=0)
    if paths.protected_reason(path) is not None:
        assert requirement.tier is Tier.CRITICAL  # protected whatever the pattern says
    else:
        assert (requirement.tier is Tier.OPERATIONAL) is covered


def test_negation_excludes_a_sub_folder() -> None:
    patterns = ["content/**", "!content/legal/**"]
    assert paths.matches("content/posts/a.md", patterns)
    assert not paths.matches("content/legal/terms.md", patterns)
    assert not checking.path_allowed("content/legal/terms.md", patterns)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "is empty"),
        ("/etc/**", "is absolute"),
        ("../x/**", "leaves the repo"),
        ("content\\x", "backslash"),
        ("#notes", "comment"),
        ("content/** ", "trailing spaces"),
        ("a[b", "unclosed"),
        ("!", "not a valid gitignore pattern"),
    ],
)
def test_validation_refuses_patterns_the_matcher_would_misread(pattern: str, problem: str) -> None:
    found = validating.path_filter_problem(pattern)
    assert found is not None and problem in found


def test_validation_accepts_what_the_matcher_reads() -> None:
    for pattern, _, _ in CASES:
        assert validating.path_filter_problem(pattern) is None
    assert validating.path_filter_problem("!content/legal/**") is None
    assert paths.list_problem(["!content/**"]) is not None  # only exclusions: allows nothing


@pytest.mark.parametrize(
    "path",
    [
        ".github/workflows/deploy.yml",
        ".GitHub/Workflows/deploy.yml",  # case variants are the same folder on macOS
        ".github/dependabot.yml",
        ".github/CODEOWNERS",
        "CODEOWNERS",
        "docs/CODEOWNERS",
        "tools/release/action.yml",
        "action.yaml",
        ".gitlab-ci.yml",
        ".circleci/config.yml",
        "Jenkinsfile",
        ".pre-commit-config.yaml",
        ".husky/pre-commit",
        ".devcontainer/devcontainer.json",
        ".gitmodules",
        # the same file on a Windows checkout: a dotless i and a long s upper-case to I and S,
        # and trailing dots and spaces are dropped from every name
        ".g\u0131thub/workflows/deploy.yml",
        ".hu\u017fky/pre-commit",
        ".github./workflows/deploy.yml",
        "CODEOWNERS ",
        "docs/CODEOWNERS.",
    ],
)
def test_automation_paths_are_protected(path: str) -> None:
    assert paths.protected_reason(path) is not None


@pytest.mark.parametrize("path", ["content/github/notes.md", "src/actions.py", "Makefile"])
def test_ordinary_files_are_not_protected(path: str) -> None:
    assert paths.protected_reason(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/abs.md",
        "a/../b.md",
        "a//b.md",
        "./a.md",
        "a\\b.md",
        ".git/config",
        "sub/.GIT/hooks/post-checkout",
        ".git./config",  # .git on Windows
        "content/x\n<!-- aito:mark -->.md",
        "x" * 1100,
    ],
)
def test_paths_that_are_not_plain_repo_paths_are_unsafe(path: str) -> None:
    assert paths.unsafe_reason(path) is not None


def test_odd_but_plain_file_names_are_safe() -> None:
    assert paths.unsafe_reason("content/<!-- aito:mark v2 x -->.md") is None
    assert paths.unsafe_reason("content/ünïcode name.md") is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("content/a.md", "content/a.md"),
        ("content/\x1b[2J\x1b[31mAPPROVED.md", "content/\\x1b[2J\\x1b[31mAPPROVED.md"),
        ("content/\u202edm.evorppa", "content/\\u202edm.evorppa"),
        ("x\n<!-- y -->", "x\\n<!-- y -->"),
        ("x" * 500, "x" * 119 + "…"),
    ],
)
def test_paths_are_shown_short_and_inert(path: str, expected: str) -> None:
    # Printed by `aito decide tally`: a file name must never drive the terminal.
    assert paths.shown(path) == expected
