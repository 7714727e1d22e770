"""Every command, every option, hostile values: a clear error and a documented exit code.

The table walks the real click tree, so a new command or option is fuzzed too (and a
command without a base invocation here fails the walk). Each value is fed in place of
one parameter of an otherwise valid invocation, in-process through `aito`'s entry
point, against the session's real Postgres and Redis and a real git repo. A value the
parameter's type cannot take must be a usage error (exit 2) naming it; a value it
takes must end in one of the command's documented exit codes. Never exit 70, never a
traceback.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

from aito.cli import main, types

# A value the parameter will not take (exit 2) is "rejected"; None means "taken".
HOSTILE = {
    "empty": "",
    "negative": "-5",
    "huge": "9" * 40,
    "long": "x" * 100_001,
    "unicode": "Ünïcødé ✓ 🚀 مرحبا",
    "nul": "a\x00b",
    "surrogate": "bad\udcffbytes",  # what Python makes of argv bytes that are not UTF-8
    "missing": "{tmp}/missing/file.md",  # does not exist
    "uncreatable": "{tmp}/a-file/sub",  # under a regular file: can never exist
}

DOCUMENTED: dict[tuple[str, ...], frozenset[int]] = {
    ("validate",): frozenset({0, 1, 2}),
    ("render",): frozenset({0, 1, 2}),
    ("schema",): frozenset({0, 2}),
    ("init",): frozenset({0, 2, 3}),
    ("agent", "run"): frozenset({0, 1, 2, 3, 6, 8, 9, 10, 11}),
    ("decide",): frozenset({0, 1, 2, 3, 4, 5, 6}),
}


@dataclasses.dataclass(frozen=True)
class Base:
    """A valid invocation of one command: positional arguments, then options."""

    args: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    needs_pr: bool = False  # propose decision #1 first
    heavy: bool = False  # runs for long (a simulated day, a daemon): only rejections are tried


BASES: dict[tuple[str, ...], Base] = {
    ("demo",): Base(heavy=True),
    ("up",): Base(),
    ("validate",): Base(),
    ("render",): Base(options=("--check",)),
    ("schema",): Base(args=("agent",)),
    ("init",): Base(args=("{tmp}/new-org",)),
    ("org", "show"): Base(),
    ("services", "up"): Base(),
    ("services", "status"): Base(),
    ("services", "down"): Base(),
    ("agent", "show"): Base(args=("cmo",)),
    ("agent", "run"): Base(args=("cmo",)),
    ("agent", "daemon"): Base(args=("ceo",), heavy=True),
    ("agent", "runs"): Base(),
    ("agent", "replay"): Base(args=("cmo:manual:none",)),
    ("agent", "logs"): Base(args=("cmo:manual:none",)),
    ("agent", "tools"): Base(args=("cmo:manual:none",)),
    ("decide", "propose"): Base(
        options=("--as", "cto", "--tier", "major", "--title", "New CDN", "--body", "x")
    ),
    ("decide", "review"): Base(args=("1",), options=("--as", "ceo", "--approve"), needs_pr=True),
    ("decide", "tally"): Base(args=("1",), options=("--dry-run",), needs_pr=True),
    ("decide", "status"): Base(),
    ("decide", "hold"): Base(args=("1",), needs_pr=True),
    ("decide", "unhold"): Base(args=("1",), needs_pr=True),
    ("decide", "new"): Base(
        options=("--as-human", "shiba-maintainer", "--tier", "major", "--title", "By hand")
    ),
    ("decide", "merge"): Base(args=("1",), options=("--as", "shiba-maintainer"), needs_pr=True),
    ("decide", "close"): Base(args=("1",), options=("--as", "shiba-maintainer"), needs_pr=True),
    ("memory", "history"): Base(args=("cmo",)),
    ("memory", "recall"): Base(args=("cmo", "campaign")),
    ("memory", "state"): Base(args=("cmo",)),
    ("bus", "send"): Base(options=("--to", "cmo")),
    ("bus", "tail"): Base(args=("cmo",)),
    ("bus", "pending"): Base(args=("cmo",)),
    ("bus", "dead-letters"): Base(),
    ("budget",): Base(),
    ("dashboard",): Base(heavy=True),  # a server: only rejections are tried
    ("github", "apps", "record"): Base(args=("cmo",), options=("--slug", "shiba-cmo")),
    ("github", "doctor"): Base(),
    ("worker", "exec"): Base(),
    ("orchestrator", "status"): Base(),
    ("notify", "test"): Base(),
    ("mcp", "list"): Base(),
    ("mcp", "serve"): Base(args=("rss",), heavy=True),  # a server: only rejections are tried
}


def leaf_commands() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    def walk(
        command: click.Command, path: tuple[str, ...]
    ) -> Iterator[tuple[tuple[str, ...], click.Command]]:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                yield from walk(sub, (*path, name))
        else:
            yield path, command

    yield from walk(main.cli, ())


def expected(param: click.Parameter, kind: str) -> int | None:
    """2 when the parameter's type must refuse this kind of value, None when it takes it."""
    kind_type = param.type
    if isinstance(param, click.Argument) and kind == "negative":
        return 2  # "-5" reads as an unknown option
    if kind in ("nul", "surrogate", "long"):
        return 2
    if isinstance(kind_type, types.Text):
        return 2 if kind == "empty" and not kind_type.blank else None
    if isinstance(kind_type, types.Reviewer):
        return 2  # no agent, no maintainer
    if isinstance(kind_type, types.Name):
        return None if kind == "huge" else 2  # forty digits make a fine name
    if isinstance(kind_type, types.LocalPath):
        if kind == "empty" or kind_type.exists:
            return 2
        return None  # a directory to create: what happens depends on the command
    return 2  # agents, choices, numbers, amounts, times, carried files: nothing here fits


def documented(path: tuple[str, ...]) -> frozenset[int]:
    for length in (len(path), 1):
        if path[:length] in DOCUMENTED:
            return DOCUMENTED[path[:length]]
    return frozenset({0, 1, 2, 3, 6})


@pytest.fixture
def world(
    governance_repo: Path,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_aito,  # type: ignore[no-untyped-def]
) -> Callable[..., object]:
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("AITO_GITHUB_API_URL", "http://127.0.0.1:9")  # no GitHub: refused at once
    scratch = tmp_path / "cwd"
    scratch.mkdir()
    monkeypatch.chdir(scratch)  # relative paths made by accepted values land here
    (tmp_path / "a-file").write_text("a regular file")
    return run_aito


def _fill(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp))


def _cases(command: click.Command) -> list[click.Parameter]:
    return [
        p
        for p in command.params
        if not (isinstance(p, click.Option) and (p.is_flag or p.count or p.is_eager))
    ]


def test_every_command_has_a_base_invocation() -> None:
    assert {path for path, _ in leaf_commands()} == set(BASES)


@pytest.mark.parametrize("path", sorted(BASES), ids=" ".join)
def test_hostile_values_get_a_clear_error_and_a_documented_code(
    path: tuple[str, ...],
    world,  # type: ignore[no-untyped-def]
    governance_repo: Path,
    tmp_path: Path,
) -> None:
    run = world
    command = dict(leaf_commands())[path]
    base = BASES[path]
    repo = ("--repo", str(governance_repo))
    if base.needs_pr:
        made = run(*repo, "decide", "propose", "--as", "cto", "--tier", "major", "--title", "T")
        assert made.code == 0, made.err
    allowed = documented(path)
    params: list[tuple[tuple[str, ...], click.Parameter]] = [(path, p) for p in _cases(command)]
    if path == ("decide", "status"):  # the global options, on a cheap command
        params += [((), p) for p in _cases(main.cli)]
    failures = []
    for owner, param in params:
        for kind, raw in HOSTILE.items():
            value = _fill(raw, tmp_path)
            want = expected(param, kind)
            if want is None and base.heavy:
                continue
            args = [_fill(a, tmp_path) for a in base.args]
            if owner == ():  # a global option: before the command
                given = [param.opts[0], value]
                before = given if param.name == "repo" else [*repo, *given]
                argv = [*before, *path, *args, *base.options]
            elif isinstance(param, click.Argument):
                position = [p for p in command.params if isinstance(p, click.Argument)].index(param)
                args += ["x"] * (position + 1 - len(args))
                args[position] = value
                argv = [*repo, *path, *args, *base.options]
            else:
                argv = [*repo, *path, *args, *base.options, param.opts[0], value]
            result = run(*argv)
            shown = f"{' '.join(path)} {param.name}={kind}: exit {result.code}\n{result.err[-600:]}"
            if "Traceback" in result.out + result.err or result.code == 70:
                failures.append(f"TRACEBACK {shown}")
            elif want is not None and result.code != want:
                failures.append(f"expected {want}: {shown}")
            elif want is None and result.code not in allowed:
                failures.append(f"undocumented: {shown}")
            elif result.code == 2 and "rror" not in result.err:
                failures.append(f"exit 2 without a message: {shown}")
    assert not failures, "\n\n".join(failures)
