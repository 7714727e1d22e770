"""Reading YAML files with line numbers kept for error messages.

The happy path parses with libyaml and keeps no marks (fast enough for thousands of
files). When something is wrong, :func:`locate` parses the file again into nodes
and walks the error's path to the line a user should look at.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml

from aito.errors import Problem

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader that refuses duplicate mapping keys (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {seen[key] + 1}); keep only one",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _no_datetimes(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    # Keep timestamps as text: pydantic parses them, and a date-only value stays a date.
    return str(loader.construct_scalar(node))


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _no_datetimes)


class YamlFileError(Exception):
    """A file that is not readable YAML; carries the :class:`Problem`."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.render())


def read_yaml(path: Path) -> Any:
    """The data in ``path``; raises :class:`YamlFileError` with file:line on bad syntax."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(Problem(path, 1, f"not UTF-8 text ({exc.reason})")) from exc
    except OSError as exc:
        raise YamlFileError(Problem(path, 1, f"cannot read file: {exc.strerror}")) from exc
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlFileError(Problem(path, line, f"invalid YAML: {what}")) from exc
    except yaml.YAMLError as exc:
        raise YamlFileError(Problem(path, 1, f"invalid YAML: {exc}")) from exc


def locate(path: Path, location: Sequence[str | int]) -> int:
    """The 1-based line of ``location`` (keys and indexes) in ``path``.

    Walks as deep as the file allows: a missing key points at its parent mapping,
    an unreadable file at line 1.
    """
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_BaseLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
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
            if str(key_node.value) == str(step):
                # The key's own line: for block values it is where the field starts.
                return key_node.start_mark.line, value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item: yaml.Node = node.value[step]
        return item.start_mark.line, item
    return None
