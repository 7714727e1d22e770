"""Write a bot's login and numeric id into `org/org.yaml`, keeping every comment and line.

`aito github apps record` sets ``bots.<agent>`` or ``governance_repo.bot`` to
``{login: "<slug>[bot]", id: N}``. AITO has no round-trip YAML library (PyYAML drops
comments), so this is a targeted text edit located by PyYAML's own node positions:
the existing value, flow or block, is replaced from its key to its end; a missing entry
is added as a line after its mapping's last entry, with the siblings' indentation. The
result is parsed again and must equal the old data with exactly that one change, or
nothing is written (:class:`OrgDefinitionError`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from aito.errors import OrgDefinitionError, Problem
from aito.org import yamlfiles


def flow_entry(login: str, bot_id: int) -> str:
    return f"{{login: {json.dumps(login)}, id: {bot_id}}}"


def record_bot(text: str, *, path: Path, keys: tuple[str, ...], login: str, bot_id: int) -> str:
    """``text`` (org.yaml) with the mapping at ``keys`` (``("bots", "cmo")`` or
    ``("governance_repo", "bot")``) set to the bot; its parent mapping must exist."""
    root = _compose(text, path)
    parent: yaml.Node = root
    for key in keys[:-1]:
        found = _value(parent, key)
        if found is None:
            raise _problem(path, 1, f"org.yaml has no `{key}:`; add it, then record again")
        parent = found
    if not isinstance(parent, yaml.MappingNode):
        line = parent.start_mark.line + 1
        raise _problem(path, line, f"`{'.'.join(keys[:-1])}` is not a mapping")
    entry = flow_entry(login, bot_id)
    edited = _replace(text, parent, keys[-1], entry) or _insert(
        text, parent, keys[-1], entry, path=path
    )
    _verify(text, edited, path=path, keys=keys, value={"login": login, "id": bot_id})
    return edited


def _compose(text: str, path: Path) -> yaml.Node:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _problem(path, 1, f"cannot parse org.yaml: {exc}") from exc
    if not isinstance(node, yaml.MappingNode):
        raise _problem(path, 1, "org.yaml is not a mapping")
    return node


def _value(mapping: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    return next((v for k, v in mapping.value if k.value == key), None)


def _end(node: yaml.Node) -> int:
    """Where ``node``'s own text ends (a block mapping's end mark lies past trailing
    comments and blank lines; its last value's end does not)."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _end(node.value[-1])
    return int(node.end_mark.index)


def _replace(text: str, parent: yaml.MappingNode, key: str, entry: str) -> str | None:
    for key_node, value_node in parent.value:
        if key_node.value == key:
            start, end = key_node.end_mark.index, _end(value_node)
            return f"{text[:start]}: {entry}{text[end:]}"
    return None


def _insert(text: str, parent: yaml.MappingNode, key: str, entry: str, *, path: Path) -> str:
    if parent.flow_style or not parent.value:  # `bots: {}` or `bots: {ceo: …}`
        close = int(parent.end_mark.index) - 1
        if text[close] != "}":
            raise _problem(path, parent.start_mark.line + 1, "cannot find this mapping's }")
        sep = ", " if parent.value else ""
        return f"{text[:close]}{sep}{key}: {entry}{text[close:]}"
    indent = " " * parent.value[0][0].start_mark.column
    line_end = text.find("\n", _end(parent.value[-1][1]))
    if line_end == -1:
        return f"{text}\n{indent}{key}: {entry}\n"
    return f"{text[:line_end]}\n{indent}{key}: {entry}{text[line_end:]}"


def _verify(
    old: str, new: str, *, path: Path, keys: tuple[str, ...], value: dict[str, Any]
) -> None:
    """The edit did exactly one thing: the data is the old data with ``keys`` set."""
    expected = copy.deepcopy(_load(old, path))
    target = expected
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    if _load(new, path) != expected:
        raise _problem(
            path,
            1,
            f"could not edit `{'.'.join(keys)}` safely (unusual layout); set it by hand to "
            f"{flow_entry(str(value['login']), int(value['id']))}",
        )


def _load(text: str, path: Path) -> Any:
    try:
        return yamlfiles.load_bytes(text.encode("utf-8"), path)
    except yamlfiles.YamlFileError as exc:
        raise OrgDefinitionError([exc.problem]) from exc


def _problem(path: Path, line: int, message: str) -> OrgDefinitionError:
    return OrgDefinitionError([Problem(path, line, message)])
