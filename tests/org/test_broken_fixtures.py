"""Broken variants of the shipped example organization, and what `loading.load` says.

Each case copies `org/` and `profiles/` of this repository into a temporary
directory, applies one small edit (rarely two), and checks that loading reports
the mistake in the right file, on the right line, with a message that says what
is wrong. Expected lines are computed from the edited text, so the cases keep
working when the example organization changes.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aito.errors import OrgDefinitionError, Problem
from aito.org import loading

REPO = Path(__file__).resolve().parents[2]

AGENTS = "org/agents"
CMO = f"{AGENTS}/cmo.yaml"
CEO = f"{AGENTS}/ceo.yaml"
ORG = "org/org.yaml"
CMO_PROFILE = "profiles/cmo.md"


# -- building broken organizations ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Edit:
    """One change to one file of the copied organization.

    With ``old``: replace that text (it must occur exactly once) by ``new``.
    Without ``old``: write ``new`` as the whole file, or delete the file if ``new`` is None.
    """

    file: str
    old: str | None = None
    new: str | bytes | None = None


def replace(file: str, old: str, new: str) -> Edit:
    return Edit(file, old, new)


def write(file: str, content: str | bytes) -> Edit:
    return Edit(file, None, content)


def delete(file: str) -> Edit:
    return Edit(file, None, None)


def copy_example(root: Path) -> Path:
    """A fresh copy of the example organization under ``root``; returns the resolved root."""
    root = root.resolve()
    shutil.copytree(REPO / "org", root / "org")
    shutil.copytree(REPO / "profiles", root / "profiles")
    return root


def apply(root: Path, edit: Edit) -> None:
    path = root / edit.file
    if edit.old is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if edit.new is None:
            path.unlink()
        elif isinstance(edit.new, bytes):
            path.write_bytes(edit.new)
        else:
            path.write_text(edit.new, encoding="utf-8")
        return
    assert isinstance(edit.new, str)
    text = path.read_text(encoding="utf-8")
    assert text.count(edit.old) == 1, f"{edit.file}: {edit.old!r} must occur exactly once"
    path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")


def line_of(path: Path, marker: str) -> int:
    """The 1-based line of the only line of ``path`` that contains ``marker``."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    found = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(found) == 1, f"{marker!r} is on lines {found} of {path}; make the marker unique"
    return found[0]


def render(problems: list[Problem], root: Path) -> str:
    return "\n".join(problem.render(root) for problem in problems) or "(no problems)"


# -- the cases ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Expect:
    """A problem that must be reported: in ``file``, on the line holding ``marker``
    (line 1 if None), with every one of ``message`` in its text."""

    file: str
    marker: str | None
    message: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    edits: tuple[Edit, ...]
    expect: tuple[Expect, ...]


def case(name: str, edits: Edit | tuple[Edit, ...], *expect: Expect) -> Case:
    return Case(name, edits if isinstance(edits, tuple) else (edits,), expect)


def at(file: str, marker: str | None, *message: str) -> Expect:
    return Expect(file, marker, message)


CEO_YAML = (REPO / CEO).read_text(encoding="utf-8")
CMO_PROFILE_BYTES = (REPO / CMO_PROFILE).read_bytes()

DECISION = """\
id: raise-marketing-budget
title: Raise the marketing budget
proposed_by: cxo
tier: major
"""

TASK = """\
id: write-launch-thread
title: Write the launch thread
assigned_to: writer
created_by: cmo
"""

CASES = [
    # --- YAML syntax -------------------------------------------------------------------
    case(
        "yaml-unclosed-bracket",
        replace(ORG, "runner_labels: [self-hosted, aito]", "runner_labels: [self-hosted, aito"),
        at(ORG, "runner_labels:", "invalid YAML", "[ ] list that starts on this line"),
    ),
    case(
        "yaml-unclosed-quote",
        replace(CMO, "name: Chief Marketing Officer", 'name: "Chief Marketing Officer'),
        at(CMO, "name:", "invalid YAML", "closing quote missing"),
    ),
    case(
        "yaml-tab-indent",
        replace(CMO, "  schedule: 4h", "\tschedule: 4h"),
        at(CMO, "\tschedule:", "invalid YAML", "not tabs"),
    ),
    case(
        "yaml-duplicate-key",
        replace(CMO, "department: marketing\n", "department: marketing\ndepartment: sales\n"),
        at(CMO, "department: sales", "duplicate key 'department'", "keep only one"),
    ),
    case(
        "yaml-control-character",
        replace(CMO, "department: marketing", "department: market\x01ing"),
        at(CMO, "department:", "invalid YAML", "0x01 is not allowed"),
    ),
    case(
        "yaml-second-document",
        replace(CMO, "department: marketing\n", "department: marketing\n---\n"),
        at(CMO, "---", "a second YAML document starts here", "remove '---'"),
    ),
    case(
        "yaml-boolean-key",
        replace(CMO, "department: marketing\n", "department: marketing\ntrue: please\n"),
        at(CMO, "true: please", "key True is a boolean, not text", "quote it"),
    ),
    case(
        # YAML 1.2 (as GitHub reads it): `yes` is text, so it is just an unknown field.
        "yaml-1.2-yes-is-text",
        replace(CMO, "department: marketing\n", "department: marketing\nyes: please\n"),
        at(CMO, "yes: please", "unknown field 'yes'"),
    ),
    case(
        "yaml-boolean-value",
        replace(CMO, "department: marketing", "department: false"),
        at(
            CMO,
            "department: false",
            "department: Input should be a valid string",
            "quote the value",
        ),
    ),
    case("empty-file", write(CMO, ""), at(CMO, None, "the file is empty")),
    case(
        "list-instead-of-mapping",
        write(CMO, "- id: cmo\n- type: cmo\n"),
        at(CMO, None, "the file is a list", "must be a mapping"),
    ),
    case(
        "binary-garbage",
        write(CMO, b"\x89PNG\r\n\x1a\n\x00\xff\xfe"),
        at(CMO, None, "not UTF-8 text"),
    ),
    case(
        "yml-extension",
        write(f"{AGENTS}/intern.yml", "id: intern\n"),
        at(f"{AGENTS}/intern.yml", None, "rename to .yaml"),
    ),
    # --- schema ------------------------------------------------------------------------
    case(
        "unknown-field-typo",
        replace(CMO, "department: marketing", "departmnet: marketing"),
        at(CMO, "departmnet:", "unknown field 'departmnet'", "did you mean 'department'"),
    ),
    case(
        "unknown-nested-field",
        replace(CMO, "  schedule: 4h", "  schedule: 4h\n  timeout: 30"),
        at(CMO, "timeout: 30", "unknown field 'timeout' in loop", "timeout_minutes"),
    ),
    case(
        "wrong-type-org-budget",
        replace(ORG, "  daily_usd: 60\n", "  daily_usd: lots\n"),
        at(ORG, "daily_usd: lots", "budget.daily_usd", "valid number", "'lots'"),
    ),
    case(
        "wrong-type-agent-budget",
        replace(CMO, "  daily_usd: 6\n", "  daily_usd: lots\n"),
        at(CMO, "daily_usd: lots", "budget.daily_usd", "valid number", "'lots'"),
    ),
    case(
        "missing-required-field",
        replace(CMO, "name: Chief Marketing Officer\n", ""),
        # A missing field has no line of its own: the mapping it belongs to starts at `id:`.
        at(CMO, "id: cmo", "missing required field 'name'"),
    ),
    case(
        "agent-id-not-file-name",
        replace(CMO, "id: cmo", "id: cmoo"),
        at(CMO, "id: cmoo", "id 'cmoo' does not match the file name", "cmoo.yaml"),
    ),
    # --- reporting lines -----------------------------------------------------------------
    case(
        "dangling-reports-to",
        replace(CMO, "reports_to: ceo", "reports_to: chief"),
        at(CMO, "reports_to:", "reports_to 'chief' is not an agent", "known agents:"),
    ),
    case(
        "reporting-cycle",
        (
            replace(CMO, "reports_to: ceo", "reports_to: cto"),
            replace(f"{AGENTS}/cto.yaml", "reports_to: ceo", "reports_to: cmo"),
        ),
        at(CMO, "reports_to:", "reporting cycle: cmo → cto → cmo"),
    ),
    case(
        "dangling-manages",
        replace(CEO, "- cco\n", "- cxo\n"),
        at(CEO, "- cxo", "manages 'cxo' is not an agent"),
    ),
    case(
        "two-ceos",
        write(f"{AGENTS}/ceo2.yaml", CEO_YAML.replace("id: ceo\n", "id: ceo2\n")),
        at(f"{AGENTS}/ceo2.yaml", "type: ceo", "exactly one CEO", "found 2: ceo, ceo2"),
    ),
    case(
        "no-dao",
        delete(f"{AGENTS}/dao.yaml"),
        # No file holds the missing agent: the problem names the directory it belongs in.
        at(AGENTS, None, "exactly one DAO", "found 0", "org/agents/dao.yaml"),
    ),
    case(
        "unknown-notify-target",
        replace(CMO, "  - cfo\n", "  - cfoo\n"),
        at(CMO, "- cfoo", "notify target 'cfoo' is not an agent", "or a group"),
    ),
    # --- bots and maintainers ------------------------------------------------------------
    case(
        "duplicate-bot-id",
        replace(ORG, '"shiba-cmo[bot]", id: 190000003', '"shiba-cmo[bot]", id: 190000001'),
        at(ORG, "shiba-cmo[bot]", "duplicate bot id 190000001"),
        at(ORG, "shiba-ceo[bot]", "duplicate bot id 190000001"),
    ),
    case(
        "duplicate-bot-login",
        replace(ORG, '"shiba-cmo[bot]"', '"Shiba-CEO[bot]"'),
        at(ORG, "Shiba-CEO[bot]", "duplicate bot login 'shiba-ceo[bot]'"),
    ),
    case(
        "maintainer-is-a-bot",
        replace(ORG, "- login: shiba-maintainer", "- login: shiba-cmo[bot]"),
        at(ORG, "- login: shiba-cmo[bot]", "maintainer 'shiba-cmo[bot]' is also an agent's bot"),
    ),
    # --- human members (issue 11) ----------------------------------------------------------
    case(
        "human-has-a-maintainers-id",
        replace(ORG, "humans: []", "humans:\n  - {login: carol, id: 90000001}"),
        at(ORG, "login: carol", "duplicate id 90000001", "unique across bots, maintainers"),
    ),
    case(
        "human-is-also-a-maintainer",
        replace(ORG, "humans: []", "humans:\n  - {login: Shiba-Maintainer, id: 5}"),
        at(ORG, "login: Shiba-Maintainer", "duplicate login 'Shiba-Maintainer'"),
    ),
    case(
        "human-is-a-bot",
        replace(ORG, "humans: []", "humans:\n  - {login: someone, id: 190000003}"),
        at(ORG, "login: someone", "human member 'someone' is also a bot account"),
    ),
    case(
        "human-login-is-an-agent-id",
        replace(ORG, "humans: []", "humans:\n  - {login: cfo, id: 5}"),
        at(ORG, "login: cfo,", "'cfo' is also an agent id"),
    ),
    case(
        "human-ceiling-is-no-tier",
        replace(ORG, "humans: []", "humans:\n  - {login: carol, id: 5, may_propose: huge}"),
        at(ORG, "may_propose: huge", "may_propose"),
    ),
    case(
        "decision-by-an-unknown-person",
        write(
            "org/decisions/by-hand.yaml", "id: by-hand\ntitle: T\nproposed_by: Carol\ntier: minor\n"
        ),
        at("org/decisions/by-hand.yaml", "proposed_by:", "nor a maintainer or human member"),
    ),
    # --- schedules ------------------------------------------------------------------------
    case(
        "cron-minute-out-of-range",
        replace(CMO, "schedule: 4h", 'schedule: "61 * * * *"'),
        at(CMO, "schedule:", "cron minute 61 is out of range 0-59"),
    ),
    case(
        "interval-not-dividing-a-day",
        replace(CMO, "schedule: 4h", "schedule: 5h"),
        at(CMO, "schedule:", "interval '5h' does not divide an hour or a day evenly"),
    ),
    # --- git access -----------------------------------------------------------------------
    case(
        "path-filter-leaves-repo",
        replace(CMO, "- campaigns/**", "- ../secrets/**"),
        at(CMO, "../secrets/**", "path filter '../secrets/**' leaves the repo"),
    ),
    case(
        "path-filter-absolute",
        replace(CMO, "- campaigns/**", "- /etc/**"),
        at(CMO, "- /etc/**", "path filter '/etc/**' is absolute"),
    ),
    case(
        "git-repo-not-in-org",
        replace(CMO, "  repo: social", "  repo: socials"),
        at(CMO, "repo: socials", "repo 'socials' is not in org.yaml `repos`", "social"),
    ),
    # --- models ---------------------------------------------------------------------------
    case(
        "model-without-price",
        replace(f"{AGENTS}/analyst.yaml", "model: claude-haiku-4-5", "model: claude-haiku-9"),
        at(f"{AGENTS}/analyst.yaml", "model:", "model 'claude-haiku-9' has no price"),
    ),
    # --- decisions and tasks --------------------------------------------------------------
    case(
        "decision-unknown-proposer",
        write("org/decisions/raise-marketing-budget.yaml", DECISION),
        at(
            "org/decisions/raise-marketing-budget.yaml",
            "proposed_by:",
            "proposed_by 'cxo' is not an agent",
        ),
    ),
    case(
        "task-unknown-assignee",
        write("org/tasks/write-launch-thread.yaml", TASK),
        at("org/tasks/write-launch-thread.yaml", "assigned_to:", "assigned_to 'writer' is not"),
    ),
    case(
        "task-unknown-decision",
        write(
            "org/tasks/write-launch-thread.yaml",
            TASK.replace("writer", "content-writer") + "decision: no-such-decision\n",
        ),
        at(
            "org/tasks/write-launch-thread.yaml",
            "decision:",
            "decision 'no-such-decision' does not exist",
        ),
    ),
    # --- profiles -------------------------------------------------------------------------
    case(
        "missing-profile-file",
        delete(CMO_PROFILE),
        at(CMO, "profile:", "profile 'profiles/cmo.md' does not exist"),
    ),
    case(
        "profile-outside-repo",
        replace(CMO, "profile: profiles/cmo.md", "profile: ../profiles/cmo.md"),
        at(CMO, "profile:", "'../profiles/cmo.md' must be a path inside the repo"),
    ),
    case(
        "profile-missing-section",
        replace(CMO_PROFILE, "## Mission\n", ""),
        # A missing section has no line of its own: the problem points at the title.
        at(CMO_PROFILE, None, "missing section '## Mission'"),
    ),
    case(
        "profile-misspelt-section",
        replace(CMO_PROFILE, "## Mission\n", "## Misson\n"),
        at(CMO_PROFILE, "## Misson", "did you mean '## Mission'"),
    ),
    case(
        "profile-interval-disagrees",
        replace(CMO_PROFILE, "**Interval:** Every 4 hours", "**Interval:** Every 6 hours"),
        at(CMO_PROFILE, "**Interval:**", "the profile says every 6h", "loop.schedule '4h'"),
    ),
    case(
        "profile-reports-to-disagrees",
        replace(CMO_PROFILE, "**Reports To:** CEO", "**Reports To:** CFO"),
        at(CMO_PROFILE, "**Reports To:**", "Reports To 'CFO'", "reports_to 'ceo'"),
    ),
    case(
        "profile-over-size-budget",
        replace(CMO_PROFILE, "## Mission\n", "## Mission\n\n" + "Grow the pack. " * 600 + "\n"),
        at(CMO_PROFILE, None, "-byte budget", "defaults.profile_max_bytes"),
    ),
    case(
        "profile-not-utf8",
        write(CMO_PROFILE, CMO_PROFILE_BYTES.replace(b"Every 4 hours", b"Every 4 h\xf6urs")),
        at(CMO_PROFILE, "**Interval:**", "not UTF-8 text", "0xf6"),
    ),
]


def test_the_example_organization_has_no_problems() -> None:
    result = loading.load(REPO)
    assert result.problems == [], render(result.problems, REPO)
    assert result.organization is not None
    assert loading.load_valid(REPO).agents.keys() == result.organization.agents.keys()


def test_a_fresh_copy_has_no_problems(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    result = loading.load(root)
    assert result.problems == [], render(result.problems, root)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("broken", CASES, ids=[c.id for c in CASES])
def test_broken_variant_is_reported_at_file_and_line(broken: Case, tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    for edit in broken.edits:
        apply(root, edit)

    result = loading.load(root)

    shown = render(result.problems, root)
    for expected in broken.expect:
        path = root / expected.file
        line = 1 if expected.marker is None else line_of(path, expected.marker)
        here = [p for p in result.problems if p.file == path and p.line == line]
        assert here, f"nothing reported at {expected.file}:{line}; got:\n{shown}"
        assert any(all(part in p.message for part in expected.message) for p in here), (
            f"no problem at {expected.file}:{line} says {expected.message}; got:\n{shown}"
        )


# -- a mistake is reported once, where it is ----------------------------------------------

UNREADABLE_AGENT_FILE = [
    c
    for c in CASES
    if c.id
    in {
        "yaml-unclosed-quote",
        "yaml-duplicate-key",
        "empty-file",
        "binary-garbage",
        "unknown-field-typo",
        "wrong-type-agent-budget",
        "agent-id-not-file-name",
    }
]


@pytest.mark.parametrize("broken", UNREADABLE_AGENT_FILE, ids=[c.id for c in UNREADABLE_AGENT_FILE])
def test_an_unreadable_agent_file_is_not_reported_again_where_it_is_named(
    broken: Case, tmp_path: Path
) -> None:
    # cmo is named in org.yaml (bots, advisors, voters), by the CEO (manages) and by the
    # content writer (reports_to): none of those should say "'cmo' is not an agent".
    root = copy_example(tmp_path)
    for edit in broken.edits:
        apply(root, edit)

    problems = loading.load(root).problems

    assert problems
    assert {p.file for p in problems} == {root / CMO}, render(problems, root)


def test_a_misspelt_field_is_not_also_reported_as_missing(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    apply(root, replace(CMO, "department: marketing", "departmnet: marketing"))

    problems = loading.load(root).problems

    assert len(problems) == 1, render(problems, root)


# -- several problems -------------------------------------------------------------------


def test_a_file_with_several_schema_problems_reports_each(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    apply(root, replace(CMO, "layer: c-level", "layer: middle"))
    apply(root, replace(CMO, "  daily_usd: 6\n", "  daily_usd: lots\n"))
    apply(root, replace(CMO, "tools:", "toolz:"))

    problems = loading.load(root).problems

    path = root / CMO
    assert {(p.file, p.line) for p in problems} >= {
        (path, line_of(path, "layer: middle")),
        (path, line_of(path, "daily_usd: lots")),
        (path, line_of(path, "toolz:")),
    }, render(problems, root)


def test_a_file_with_several_reference_problems_reports_each(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    apply(root, replace(CMO, "schedule: 4h", 'schedule: "61 * * * *"'))
    apply(root, replace(CMO, "- campaigns/**", "- ../secrets/**"))
    apply(root, replace(CMO, "  repo: social", "  repo: socials"))
    apply(root, replace(CMO, "reports_to: ceo", "reports_to: chief"))

    problems = loading.load(root).problems

    path = root / CMO
    found = {(p.line, p.message.split(" ")[0]) for p in problems if p.file == path}
    assert found == {
        (line_of(path, "schedule:"), "cron"),
        (line_of(path, "../secrets/**"), "path"),
        (line_of(path, "repo: socials"), "repo"),
        (line_of(path, "reports_to:"), "reports_to"),
    }, render(problems, root)


def test_problems_in_several_files_are_all_reported(tmp_path: Path) -> None:
    # Independent mistakes in six files. (An agent file that cannot be read hides its
    # profile's problems, so the profile edited here belongs to another agent.)
    root = copy_example(tmp_path)
    cfo = f"{AGENTS}/cfo.yaml"
    edits_and_markers = [
        (
            replace(ORG, '"shiba-cmo[bot]", id: 190000003', '"shiba-cmo[bot]", id: 190000001'),
            "shiba-cmo[bot]",
        ),
        (replace(CEO, "- cco\n", "- cxo\n"), "- cxo"),
        (replace(cfo, "  daily_usd: 4\n", "  daily_usd: lots\n"), "daily_usd: lots"),
        (
            replace(f"{AGENTS}/analyst.yaml", "model: claude-haiku-4-5", "model: claude-haiku-9"),
            "model:",
        ),
        (replace(CMO_PROFILE, "## Mission\n", "## Misson\n"), "## Misson"),
        (write("org/tasks/write-launch-thread.yaml", TASK), "assigned_to:"),
    ]
    for edit, _ in edits_and_markers:
        apply(root, edit)

    problems = loading.load(root).problems

    reported = {(p.file, p.line) for p in problems}
    for edit, marker in edits_and_markers:
        path = root / edit.file
        assert (path, line_of(path, marker)) in reported, render(problems, root)


# -- hostile input never crashes the loader ---------------------------------------------

GARBAGE = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8\xff\xe0" * 8

HOSTILE = {
    "org-binary": write(ORG, GARBAGE),
    "org-list": write(ORG, "- name: Shiba Classic\n- github_org: x\n"),
    "org-scalar": write(ORG, "just some text\n"),
    "org-empty": write(ORG, ""),
    "org-missing": delete(ORG),
    "org-nul-bytes": write(ORG, "name: \x00\x00\n"),
    "org-bots-list": replace(ORG, "bots:\n", "bots: [ceo, dao]\nold_bots:\n"),
    "org-several-documents": write(ORG, "name: a\n---\nname: b\n"),
    "org-unhashable-key": replace(ORG, "\nname: Shiba Classic\n", "\n? [a, b]\n: c\n"),
    "org-boolean-keys": replace(ORG, "\nname: Shiba Classic\n", "\nname: x\nyes: no\n3: 4\n"),
    "agent-binary": write(CMO, GARBAGE),
    "agent-list": write(CMO, "- a\n- b\n"),
    "agent-number": write(CMO, "42\n"),
    "agent-recursive-alias": replace(CMO, "tools:\n", "tools: &loop [*loop]\nold_tools:\n"),
    "agent-deep-nesting": replace(CMO, "tools:\n", "tools: " + "[" * 2000 + "]" * 2000 + "\nx:\n"),
    "agent-loop-is-text": replace(CMO, "loop:\n  schedule: 4h\n", "loop: 4h\n"),
    "agent-git-null": replace(CMO, "git:\n", "git:\nold_git:\n"),
    "agent-id-number": replace(CMO, "id: cmo", "id: 12"),
    "agent-profile-nul": replace(CMO, "profile: profiles/cmo.md", 'profile: "profiles/cmo\\0.md"'),
    "agent-profile-is-directory": replace(CMO, "profile: profiles/cmo.md", "profile: profiles"),
    "agent-profile-empty": replace(CMO, "profile: profiles/cmo.md", 'profile: ""'),
    "agent-profile-absolute": replace(CMO, "profile: profiles/cmo.md", "profile: /etc/passwd"),
    "agent-file-is-a-directory": write(f"{AGENTS}/intern.yaml/keep", ""),
    "profile-binary": write(CMO_PROFILE, GARBAGE),
    "profile-nul-bytes": write(CMO_PROFILE, "\x00" * 100),
    "profile-empty": write(CMO_PROFILE, ""),
    "profile-only-code-fence": write(CMO_PROFILE, "# CMO\n```\n## Identity\n"),
    "profile-bad-interval": replace(CMO_PROFILE, "Every 4 hours", "Whenever it likes"),
    "decision-binary": write("org/decisions/d.yaml", GARBAGE),
    "decision-list": write("org/decisions/d.yaml", "- 1\n"),
    "decision-bad-votes": write(
        "org/decisions/d.yaml",
        "id: d\ntitle: D\nproposed_by: cmo\ntier: minor\nrounds:\n- round: 1\n"
        "  votes: {ghost: approve, ceo: maybe}\n",
    ),
    "task-binary": write("org/tasks/t.yaml", GARBAGE),
    "task-dates": write(
        "org/tasks/t.yaml",
        "id: t\ntitle: T\nassigned_to: cmo\ncreated_by: ceo\ndue_date: 2024-13-45\n",
    ),
}


@pytest.mark.parametrize("edit", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_is_reported_not_raised(edit: Edit, tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    apply(root, edit)

    result = loading.load(root)

    assert result.problems, "a broken organization must report at least one problem"
    for problem in result.problems:
        assert problem.line >= 1
        assert problem.message.strip()
        assert problem.file.is_relative_to(root), problem.render()
    with pytest.raises(OrgDefinitionError):
        loading.load_valid(root)


def test_an_empty_directory_is_reported_not_raised(tmp_path: Path) -> None:
    result = loading.load(tmp_path)
    assert result.organization is None
    assert [p.message for p in result.problems] == [
        "no org/org.yaml here; run `aito init DIR` or pass --repo"
    ]


ORG_FILES = sorted(
    path.relative_to(REPO).as_posix()
    for folder in ("org", "profiles")
    for path in (REPO / folder).rglob("*")
    if path.is_file()
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, int, str, str]:
    file = draw(st.sampled_from(ORG_FILES))
    line = draw(st.integers(min_value=0, max_value=200))
    how = draw(st.sampled_from(["delete", "duplicate", "truncate", "insert", "dedent"]))
    text = draw(st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
    return file, line, how, text


def _mutate(source: str, line: int, how: str, text: str) -> str:
    lines = source.splitlines(keepends=True)
    if not lines:
        return text
    index = line % len(lines)
    target = lines[index]
    if how == "delete":
        lines[index] = ""
    elif how == "duplicate":
        lines[index] = target * 2
    elif how == "truncate":
        lines[index] = target[: len(target) // 2] + "\n"
    elif how == "insert":
        lines[index] = target[: len(target) // 2] + text + target[len(target) // 2 :]
    else:
        lines[index] = target.lstrip(" ")
    return "".join(lines)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example(tmp_path_factory.mktemp("pristine"))


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
)
@given(mutation=mutations())
def test_random_damage_never_crashes_the_loader(
    pristine: Path, mutation: tuple[str, int, str, str]
) -> None:
    file, line, how, text = mutation
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch).resolve()
        shutil.copytree(pristine / "org", root / "org")
        shutil.copytree(pristine / "profiles", root / "profiles")
        path = root / file
        path.write_text(_mutate(path.read_text(encoding="utf-8"), line, how, text), "utf-8")

        result = loading.load(root)

        for problem in result.problems:
            assert problem.line >= 1
            assert problem.message.strip()


def test_yaml_is_read_as_yaml_1_2_with_and_without_the_fast_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """yes/no/on/off are text and timestamps stay text, whichever parser reads the file."""
    from aito.org import yamlfiles

    path = tmp_path / "f.yaml"
    path.write_text("a: no\nb: on\nc: true\nd: 2026-11-01\ne: ~\nf: 12\ng: 1.5\nh: '7'\n")
    expected = {
        "a": "no",
        "b": "on",
        "c": True,
        "d": "2026-11-01",
        "e": None,
        "f": 12,
        "g": 1.5,
        "h": "7",
    }
    assert yamlfiles.read_yaml(path) == expected
    monkeypatch.setattr(yamlfiles, "yaml_rs", None)
    assert yamlfiles.read_yaml(path) == expected
