"""Reading YAML files, with line numbers for every error.

**Dialect.** Org files are YAML 1.2 (core schema), as GitHub Actions reads YAML:
only `true`/`false` are booleans (`yes`, `no`, `on`, `off` stay text, so a country
code `no` is not `False`); timestamps stay text and pydantic parses them; a duplicate
key is an error instead of silently keeping the last one.

**Speed.** Plain files are parsed by yaml-rs (Rust) when it is installed: an
organization of 10,000 files loads in well under a second. Anything else (a
syntax error, anchors, tags, merge keys, control characters, or no yaml-rs) goes
through PyYAML with the same dialect, which also writes every syntax message. When
something is wrong, :func:`locate` parses the file again into nodes and walks the
error's path to the line a user should look at.

**Bounds.** Every file is read only up to :data:`MAX_BYTES` (org files and decision
records are small; a bigger one is refused with its size), and anchors and aliases
(`&a` … `*a`, merge keys `<<: *a`) may expand to at most :data:`MAX_NODES` nodes, so
an "alias bomb" (a few lines that expand to billions of values) or an alias that
contains itself is refused before any value is built. Messages show at most
:data:`SHOWN_CHARS` characters of any value from the file (:func:`shown`).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import yaml

from aito.errors import Problem

try:  # an accelerator: every file still loads (more slowly) without it
    import yaml_rs
except ImportError:  # pragma: no cover - platforms without a yaml-rs wheel
    yaml_rs = None  # type: ignore[assignment]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 1024 * 1024
"""The largest YAML file read (1 MiB): org files and decision records are far smaller."""
MAX_NODES = 100_000
"""The most values a file may hold once its aliases are expanded."""
SHOWN_CHARS = 80
"""The most characters of a value from a file that a message repeats."""


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters: messages never echo unbounded
    input (a 1 MiB key or value is shown by its start and its length)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    if isinstance(value, int) and value.bit_length() > 4 * limit:
        return f"a {value.bit_length():,}-bit number"  # repr would take long, or fail
    try:
        text = repr(value)
    except ValueError:  # a number past Python's 4,300 digits somewhere inside
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Core12Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader with YAML 1.2 core scalars that refuses duplicate mapping keys."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base`: merged keys may be overridden, not duplicated
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {shown(key)} (first on line {seen[key] + 1}); keep only one",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen[key] = key_node.start_mark.line
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # as SafeConstructor does, before constructing
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's constructors raise plain ValueErrors for values they cannot build (an
        # explicit `!!int abc`, `!!timestamp 2020-13-45`, an integer past Python's 4,300
        # digits): turn them into an error at the value's line, like any other.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({_cut(str(exc), 100)})", node.start_mark
            ) from exc


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("merge", r"^(?:<<)$", "<"),
):
    _Core12Loader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )

# The fast path takes files without control characters (PyYAML rejects them with a
# line number), anchors, merge keys or tags (PyYAML's semantics are the reference), and
# without long lines: yaml-rs has no limit on block nesting and overflows the stack (the
# process dies) past about 10,000 levels, which `- - - …` reaches in 20 kB. A nested
# block node starts to the right of its parent, so lines of at most MAX_FAST_LINE
# characters bound the nesting well below that; PyYAML refuses deep nesting with an error.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_FAST_LINE = 1000
_LONG_LINE = re.compile(rf"[^\n]{{{MAX_FAST_LINE + 1}}}")


def _plain(text: str) -> bool:
    return (
        "&" not in text
        and "<<" not in text
        and "!" not in text
        and not _CONTROL.search(text)
        and not _LONG_LINE.search(text)
    )


def _parse(text: str) -> Any:
    """The data in ``text`` (raises PyYAML's errors for anything not loadable)."""
    if yaml_rs is not None and _plain(text):
        try:
            data = yaml_rs.loads(text, parse_datetime=False)
        except Exception:
            data = None
        if isinstance(data, dict):
            return data
    loader = _Core12Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node) -> None:
    """Refuse aliases that expand past :data:`MAX_NODES` or contain themselves.

    PyYAML shares an aliased node instead of copying it, so the document is small in
    memory, but everything that walks the values (validation, JSON, a dump) walks the
    expansion: count it on the node graph (each distinct node once) before building.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    # Iterative post-order walk: deep nesting never hits Python's recursion limit.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > MAX_NODES:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"anchors and aliases expand to more than {MAX_NODES:,} values "
                    "(an alias bomb?); write the values out or use fewer aliases",
                    node.start_mark,
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise yaml.constructor.ConstructorError(
                None, None, "an alias refers to a value that contains it", node.start_mark
            )
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise yaml.constructor.ConstructorError(
                    None, None, "an alias refers to a value that contains it", child.start_mark
                )
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class YamlFileError(Exception):
    """A file that is not readable YAML; carries the :class:`Problem`."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.render())


def read_yaml(path: Path) -> Any:
    """The data in ``path``; raises :class:`YamlFileError` with file:line on bad syntax."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise YamlFileError(Problem(path, 1, f"cannot read file: {exc.strerror}")) from exc
    return load_bytes(data, path)


def load_bytes(data: bytes, path: Path) -> Any:
    """The data in ``data`` (the content of ``path``, which names it in problems)."""
    if len(data) > MAX_BYTES:
        raise YamlFileError(
            Problem(
                path,
                1,
                f"the file is over {MAX_BYTES // 1024} KiB, the most an org file or record "
                "may hold; split it or shorten it",
            )
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(not_utf8(path, data, exc)) from exc
    try:
        return _parse(text)
    except yaml.MarkedYAMLError as exc:
        raise YamlFileError(_syntax_problem(path, text, exc)) from exc
    except yaml.reader.ReaderError as exc:
        # Its position counts bytes of the encoded text; find the character instead.
        code = exc.character if isinstance(exc.character, int) else None
        index = text.find(chr(code)) if code is not None else -1
        line = text.count("\n", 0, index) + 1 if index >= 0 else 1
        shown = f"character {code:#04x}" if code is not None else "a character"
        message = f"invalid YAML: {shown} is not allowed ({exc.reason})"
        raise YamlFileError(Problem(path, line, message)) from exc
    except yaml.YAMLError as exc:
        raise YamlFileError(Problem(path, 1, f"invalid YAML: {exc}")) from exc
    except RecursionError as exc:
        raise YamlFileError(Problem(path, 1, "invalid YAML: nested too deeply")) from exc


def not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError) -> Problem:
    """The problem for a file that is not UTF-8, at the line of the first bad byte."""
    line = data.count(b"\n", 0, exc.start) + 1
    return Problem(
        path, line, f"not UTF-8 text (byte {data[exc.start]:#04x}); save the file as UTF-8"
    )


# Errors whose context mark is where the broken construct opens: the line to fix. The
# parser only notices later (often at the next key, or at the end of the file).
_OPENERS = {
    "while parsing a flow sequence": ("in the [ ] list", "is a ']' or a ',' missing?"),
    "while parsing a flow mapping": ("in the { } mapping", "is a '}' or a ',' missing?"),
    "while scanning a quoted scalar": ("in the quoted text", "is its closing quote missing?"),
    "while scanning a simple key": ("after the key", "is its ':' missing?"),
}


def _syntax_problem(path: Path, text: str, exc: yaml.MarkedYAMLError) -> Problem:
    """Where and why ``text`` is not YAML, pointing at the line a user should fix."""
    problem = _cut(exc.problem or "cannot parse")
    start, noticed = exc.context_mark, exc.problem_mark
    if problem == "but found another document" and noticed is not None:
        message = "a second YAML document starts here; this file holds one mapping: remove '---'"
        return Problem(path, noticed.line + 1, f"invalid YAML: {message}")
    opener = _OPENERS.get(exc.context or "")
    if opener is not None and start is not None:
        what, hint = opener
        later = ""
        if noticed is not None and noticed.line > start.line:
            later = f" (the parser noticed on line {noticed.line + 1})"
        message = f"{problem} {what} that starts on this line{later}; {hint}"
        return Problem(path, start.line + 1, f"invalid YAML: {message}")
    mark = noticed or start
    line = mark.line + 1 if mark else 1
    message = problem
    if exc.context:
        opened = ""
        if start is not None and mark is not None and start.line != mark.line:
            opened = f" on line {start.line + 1}"
        message = f"{problem} ({_cut(exc.context)}{opened})"
    if problem == "did not find expected key":
        message += "; check this line's indentation"
    lines = text.splitlines()
    if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
        message += "; YAML indents with spaces, not tabs"
    return Problem(path, line, f"invalid YAML: {message}")


def _cut(text: str, limit: int = 200) -> str:
    """PyYAML's messages quote what they found (an alias name, a tag): keep them short."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def locate(path: Path, location: Sequence[str | int]) -> int:
    """The 1-based line of ``location`` (keys and indexes) in ``path``.

    Walks as deep as the file allows: a missing key points at its parent mapping,
    an unreadable file at line 1.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return 1
        node = yaml.compose(data.decode("utf-8"), Loader=_Core12Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return 1
    if node is None:
        return 1
    line: int = node.start_mark.line
    for step in location:
        child = _child(node, step)
        if child is None:
            break
        line, node = child
    return line + 1


def _child(node: yaml.Node, step: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == str(step) or _same_key(key_node, step):
                # The key's own line: for block values it is where the field starts.
                return key_node.start_mark.line, value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item: yaml.Node = node.value[step]
        return item.start_mark.line, item
    return None


def _same_key(key_node: yaml.Node, step: str | int) -> bool:
    """True if a plain key such as `yes` or `3` reads as ``step`` (True, 3) in YAML."""
    if isinstance(step, str) or not isinstance(key_node, yaml.ScalarNode) or key_node.style:
        return False
    try:
        value = yaml.load(str(key_node.value), Loader=_Core12Loader)  # noqa: S506 - safe loader
    except yaml.YAMLError:
        return False
    return type(value) is type(step) and bool(value == step)
