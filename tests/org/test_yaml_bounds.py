"""YAML is read with bounded size and no alias expansion bombs; messages stay short."""

from __future__ import annotations

from pathlib import Path

import pytest

from aito.org import loading, yamlfiles

BOMB = """\
id: cmo
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def test_an_alias_bomb_is_refused_before_any_value_is_built(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    with pytest.raises(yamlfiles.YamlFileError) as caught:
        yamlfiles.read_yaml(path)  # 10^8 values once expanded: refused, not built
    problem = caught.value.problem
    assert "alias bomb" in problem.message and problem.line > 1


def test_an_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("id: cmo\nloop: &l [1, *l]\n")
    with pytest.raises(yamlfiles.YamlFileError, match="contains it"):
        yamlfiles.read_yaml(path)


def test_a_few_honest_aliases_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {cpu: 0.5}\nfirst: *b\nsecond: {<<: *b, memory: 1g}\n")
    assert yamlfiles.read_yaml(path)["second"] == {"cpu": 0.5, "memory": "1g"}


def test_a_file_over_the_size_limit_is_refused_by_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("notes: " + "x" * (yamlfiles.MAX_BYTES + 10) + "\n")
    with pytest.raises(yamlfiles.YamlFileError, match="over 1024 KiB"):
        yamlfiles.read_yaml(path)


def test_messages_never_echo_a_huge_key_or_value(example_repo: Path) -> None:
    agent = example_repo / "org/agents/cmo.yaml"
    text = agent.read_text().replace("reports_to: ceo", "reports_to: " + "r" * 50_000)
    agent.write_text(text + ("k" * 1000) + ": 1\n")  # YAML keys stop at 1,024 characters
    problems = loading.load(example_repo).problems
    assert len(problems) >= 2
    for problem in problems:
        assert len(problem.message) < 600, problem.message[:200]
    assert any("50,000 characters" in p.message for p in problems)
    assert any("unknown field 'kkkk" in p.message for p in problems)


def test_a_huge_alias_name_is_cut_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "alias.yaml"
    path.write_text("a: *" + "z" * 100_000 + "\n")
    with pytest.raises(yamlfiles.YamlFileError) as caught:
        yamlfiles.read_yaml(path)
    assert len(caught.value.problem.message) < 600


@pytest.mark.parametrize(
    "text",
    [
        "id: x\nchanges:\n  " + "- " * 50_000 + "x\n",  # 100 kB, 50,000 levels deep
        "id: x\nrounds: " + "[" * 50_000 + "]" * 50_000 + "\n",
        "id: x\n" + "".join(" " * n + f"k{n}:\n" for n in range(1_400)) + " " * 1_400 + "v\n",
    ],
    ids=["block-sequences", "flow-lists", "indentation"],
)
def test_deep_nesting_is_a_clear_error_never_a_crash(text: str) -> None:
    # A parser without a depth limit overflows the stack and kills the process (the
    # tally, `aito validate`): deep documents go to the parser that refuses them.
    with pytest.raises(yamlfiles.YamlFileError, match=r"nesting depth|nested too deeply") as caught:
        yamlfiles.load_bytes(text.encode(), Path("org/decisions/x.yaml"))
    assert len(caught.value.problem.message) < 300


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("id: x\ntitle: !!int abc\n", 2),
        ("id: x\ncreated_at: !!timestamp 2026-13-45\n", 2),
        ("id: x\nrounds:\n  - round: !!float many\n", 3),
        ("id: x\namount_usd: " + "1" * 5_000 + "\n", 2),  # past Python's 4,300 digits
        ("id: x\n? !!int 0b" + "1" * 20_000 + "\n: 1\n? !!int 0b" + "1" * 20_000 + "\n: 2\n", 4),
    ],
    ids=["int-tag", "timestamp-tag", "float-tag", "huge-int", "huge-duplicate-key"],
)
def test_values_yaml_cannot_build_are_errors_at_their_line_never_a_crash(
    text: str, line: int
) -> None:
    # A ValueError out of PyYAML's constructors ended `aito validate` and every tally of
    # `decide tally --all` with a traceback: one bad record stopped all decisions.
    with pytest.raises(yamlfiles.YamlFileError) as caught:
        yamlfiles.load_bytes(text.encode(), Path("org/decisions/x.yaml"))
    assert caught.value.problem.line == line
    assert len(caught.value.problem.message) < 300
