"""Load `org/` and `profiles/` into an :class:`Organization`, collecting every problem.

Loading never stops at the first problem: a user fixing an org wants the whole
list, each with file and line. :func:`load` returns what could be read plus the
problems; :func:`load_valid` raises :class:`OrgDefinitionError` instead.
"""

from __future__ import annotations

import dataclasses
import difflib
import gc
import os
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from aito.errors import OrgDefinitionError, Problem
from aito.org import agents as agent_models
from aito.org import organization, profiles, records, schedules, yamlfiles

ORG_FILE = Path("org/org.yaml")
AGENTS_DIR = Path("org/agents")
DECISIONS_DIR = Path("org/decisions")
TASKS_DIR = Path("org/tasks")

Model = TypeVar("Model", bound=pydantic.BaseModel)


@dataclasses.dataclass(frozen=True)
class Organization:
    """Everything in one governance repo, validated."""

    root: Path
    org: organization.OrgFile
    agents: dict[str, agent_models.AgentSpec]
    decisions: dict[str, records.Decision]
    tasks: dict[str, records.Task]
    profiles: dict[str, profiles.Profile]

    def agent_file(self, agent_id: str) -> Path:
        return self.root / AGENTS_DIR / f"{agent_id}.yaml"

    def schedule(self, agent_id: str) -> schedules.Schedule | None:
        loop = self.agents[agent_id].loop
        return schedules.parse_schedule(loop.schedule) if loop else None

    def model_of(self, agent_id: str) -> str:
        return self.agents[agent_id].model or self.org.defaults.model

    def container_of(self, agent_id: str) -> organization.ContainerLimits:
        return self.agents[agent_id].container or self.org.defaults.container

    def repos_of(self, agent_id: str) -> list[str]:
        """The `owner/name` repositories the agent's git access covers."""
        return resolve_repos(self.org, self.agents[agent_id].git.repo)

    def by_layer(self, layer: agent_models.Layer) -> list[agent_models.AgentSpec]:
        return [a for a in self.agents.values() if a.layer is layer]

    def groups(self) -> dict[str, list[str]]:
        """Message groups: `all` (every non-worker agent), `head` and `clevel`."""
        layers = agent_models.Layer
        return {
            "all": sorted(a.id for a in self.agents.values() if a.layer is not layers.WORKER),
            "head": sorted(a.id for a in self.by_layer(layers.HEAD)),
            "clevel": sorted(a.id for a in self.by_layer(layers.C_LEVEL)),
        }

    def the(self, agent_type: str) -> agent_models.AgentSpec:
        """The single agent of ``agent_type`` (``ceo`` or ``dao``)."""
        return next(a for a in self.agents.values() if a.type == agent_type)


def resolve_repos(org: organization.OrgFile, reference: str) -> list[str]:
    """`owner/name` for a repo reference (a `repos` key, a full name, or `*`); [] if unknown."""
    if reference == "*":
        return sorted(set(org.repos.values()))
    if reference in org.repos:
        return [org.repos[reference]]
    if reference in org.repos.values():
        return [reference]
    return []


@dataclasses.dataclass
class LoadResult:
    """What :func:`load` could read, and every problem found."""

    organization: Organization | None
    problems: list[Problem]


def load(root: Path) -> LoadResult:
    """Read and validate the organization under ``root`` (schema and cross-references)."""
    # Loading allocates many small acyclic objects; the cyclic collector would rescan
    # the growing heap again and again (a third of the time for 10,000 files).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load(root)
    finally:
        if collecting:
            gc.enable()


def _load(root: Path) -> LoadResult:
    from aito.org import validating  # the cross-reference rules build on this module

    root = root.resolve()
    problems: list[Problem] = []
    org_path = root / ORG_FILE
    if not org_path.is_file():
        problems.append(
            Problem(org_path, 1, "no org/org.yaml here; run `aito init DIR` or pass --repo")
        )
        org_file = None
    else:
        org_file = _load_model(org_path, organization.OrgFile, problems)

    listings = [
        _yaml_files(root / folder, problems) for folder in (AGENTS_DIR, DECISIONS_DIR, TASKS_DIR)
    ]
    contents = iter(_read_all([path for paths in listings for path in paths]))
    agent_specs = _load_dir(listings[0], contents, agent_models.AgentSpec, problems)
    decisions = _load_dir(listings[1], contents, records.Decision, problems)
    tasks = _load_dir(listings[2], contents, records.Task, problems)
    if org_file is None:
        return LoadResult(None, sorted(problems))

    loaded_profiles: dict[str, profiles.Profile] = {}
    max_bytes = org_file.defaults.profile_max_bytes
    parsed: dict[Path, profiles.Profile | None] = {}
    for agent_id, spec in agent_specs.items():
        profile = _load_profile(root, agent_id, spec, max_bytes, problems, parsed)
        if profile is not None:
            loaded_profiles[agent_id] = profile

    org = Organization(
        root=root,
        org=org_file,
        agents=agent_specs,
        decisions=decisions,
        tasks=tasks,
        profiles=loaded_profiles,
    )
    # Files that exist but could not be read already have their problem; references to
    # their ids elsewhere are not reported again as unknown.
    problems.extend(
        validating.cross_check(
            org,
            unreadable_agents=_unreadable(root / AGENTS_DIR, agent_specs),
            unreadable_decisions=_unreadable(root / DECISIONS_DIR, decisions),
        )
    )
    return LoadResult(org, sorted(set(problems)))


def load_valid(root: Path) -> Organization:
    """The organization under ``root``; raises :class:`OrgDefinitionError` if anything is wrong."""
    result = load(root)
    if result.problems or result.organization is None:
        raise OrgDefinitionError(result.problems)
    return result.organization


def _read_all(paths: list[Path]) -> list[Any]:
    """Each file's data, or the :class:`Problem` that stopped it from being read."""
    results: list[Any] = []
    for path in paths:
        try:
            results.append(yamlfiles.read_yaml(path))
        except yamlfiles.YamlFileError as exc:
            results.append(exc.problem)
    return results


def _yaml_files(directory: Path, problems: list[Problem]) -> list[Path]:
    """The `*.yaml` files of ``directory``, sorted; a stray `*.yml` is a problem."""
    if not directory.is_dir():
        return []
    names = sorted(entry.name for entry in os.scandir(directory))  # faster than glob for 10k files
    for name in names:
        if name.endswith(".yml"):
            problems.append(
                Problem(directory / name, 1, "rename to .yaml: only *.yaml files are read here")
            )
    return [directory / name for name in names if name.endswith(".yaml")]


def _load_dir(
    paths: list[Path], contents: Iterator[Any], model: type[Model], problems: list[Problem]
) -> dict[str, Model]:
    """Validate each file's content (``contents`` yields them in the order of ``paths``)."""
    loaded: dict[str, Model] = {}
    for path in paths:
        item = _load_model(path, model, problems, next(contents))
        if item is None:
            continue
        item_id = str(getattr(item, "id"))  # noqa: B009 - every record model has an id
        if item_id != path.stem:
            problems.append(
                Problem(
                    path,
                    yamlfiles.locate(path, ["id"]),
                    f"id {yamlfiles.shown(item_id)} does not match the file name; rename the "
                    f"file to {_cut(item_id, 80)}.yaml or set `id: {_cut(path.stem, 80)}` "
                    "(ids must be unique)",
                )
            )
            continue
        loaded[item_id] = item
    return loaded


def _unreadable(directory: Path, loaded: dict[str, Model]) -> frozenset[str]:
    """Ids (file names) of the files in ``directory`` that could not be loaded."""
    if not directory.is_dir():
        return frozenset()
    stems = {p.stem for pattern in ("*.yaml", "*.yml") for p in directory.glob(pattern)}
    return frozenset(stems - loaded.keys())


_UNREAD: Any = object()
_KINDS = {list: "a list", str: "a single text value", int: "a number", float: "a number"}


def _load_model(
    path: Path, model: type[Model], problems: list[Problem], data: Any = _UNREAD
) -> Model | None:
    if data is _UNREAD:
        try:
            data = yamlfiles.read_yaml(path)
        except yamlfiles.YamlFileError as exc:
            problems.append(exc.problem)
            return None
    if isinstance(data, Problem):
        problems.append(data)
        return None
    if not isinstance(data, dict):
        kind = "empty" if data is None else _KINDS.get(type(data), f"a {type(data).__name__}")
        problems.append(Problem(path, 1, f"the file is {kind}; it must be a mapping of fields"))
        return None
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems.extend(_problems_from_validation(path, model, exc))
        return None


def _problems_from_validation(
    path: Path, model: type[pydantic.BaseModel], exc: pydantic.ValidationError
) -> list[Problem]:
    errors = exc.errors(include_url=False)
    # A misspelt field is both unknown and missing; report it once, as the unknown one.
    misspelt: set[tuple[tuple[str | int, ...], str]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            suggestion = _suggestion(model, error["loc"])
            if suggestion is not None:
                misspelt.add((tuple(error["loc"][:-1]), suggestion))
    found = []
    for error in errors:
        location = [step for step in error["loc"] if step != "[key]"]
        if error["type"] == "missing" and (tuple(location[:-1]), location[-1]) in misspelt:
            continue
        found.append(_problem_for(path, model, location, error))
    return found


def _suggestion(model: type[pydantic.BaseModel], location: Sequence[str | int]) -> str | None:
    """The allowed field closest to the unknown one at ``location``, if one is close."""
    allowed = _allowed_fields(model, location[:-1])
    close = difflib.get_close_matches(str(location[-1]), allowed, n=1, cutoff=0.7)
    return close[0] if close else None


def _problem_for(
    path: Path,
    model: type[pydantic.BaseModel],
    location: Sequence[str | int],
    error: Any,
) -> Problem:
    dotted = _dotted(location)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = location[:-1]
        allowed = _allowed_fields(model, parent)
        where = f" in {_dotted(parent)}" if parent else ""
        suggestion = _suggestion(model, location)
        guess = f"; did you mean {suggestion!r}?" if suggestion else ""
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        message = f"unknown field {yamlfiles.shown(location[-1])}{where}{guess}{hint}"
        return Problem(path, yamlfiles.locate(path, location), message)
    if kind == "missing":
        parent = location[:-1]
        where = f" in {_dotted(parent)}" if parent else ""
        message = f"missing required field {location[-1]!r}{where}"
        return Problem(path, yamlfiles.locate(path, parent), message)
    shown = error.get("input")
    if kind == "invalid_key":
        # pydantic's location holds the key as a number (True is 1): use the key itself.
        parent = location[:-1]
        where = f" in {_dotted(parent)}" if parent else ""
        message = (
            f"key {yamlfiles.shown(shown)}{where} is a {_yaml_kind(shown)}, not text; quote it "
            "(YAML reads yes, no, on, off, true, false and numbers as other types)"
        )
        return Problem(path, yamlfiles.locate(path, [*parent, shown]), message)
    text = _cut(str(error["msg"]).removeprefix("Value error, "))
    got = "" if isinstance(shown, dict | list) else f" (got {yamlfiles.shown(shown)})"
    if kind == "string_type" and isinstance(shown, bool):
        got += "; YAML reads yes, no, on, off, true and false as booleans: quote the value"
    prefix = f"{dotted}: " if dotted else ""
    return Problem(path, yamlfiles.locate(path, location), f"{prefix}{text}{got}")


def _dotted(location: Sequence[str | int]) -> str:
    """A field's path for a message; keys come from the file, so it is kept short."""
    return _cut(".".join(str(step) for step in location), 120)


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _yaml_kind(value: object) -> str:
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else _KINDS.get(type(value), "value").split()[-1]


def _allowed_fields(model: type[pydantic.BaseModel], location: Sequence[str | int]) -> list[str]:
    """Field names of the model found at ``location`` inside ``model``, best effort."""
    current: Any = model
    for step in location:
        current = _step_type(current, step)
        if current is None:
            return []
    current = _unwrap(current)  # e.g. `loop: Loop | None`
    if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _step_type(annotation: Any, step: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        field = annotation.model_fields.get(str(step))
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(options[0]) if len(options) == 1 else annotation
    return annotation


def _load_profile(
    root: Path,
    agent_id: str,
    spec: agent_models.AgentSpec,
    max_bytes: int,
    problems: list[Problem],
    parsed: dict[Path, profiles.Profile | None],
) -> profiles.Profile | None:
    agent_path = root / AGENTS_DIR / f"{agent_id}.yaml"
    line: Callable[[], int] = lambda: yamlfiles.locate(agent_path, ["profile"])  # noqa: E731
    relative = Path(spec.profile)
    try:
        path = (root / relative).resolve()
    except (OSError, RuntimeError, ValueError):  # a NUL byte, a symlink loop
        path = None
    if path is None or relative.is_absolute() or not path.is_relative_to(root):
        what = "is not a usable file path" if path is None else "must be a path inside the repo"
        problems.append(
            Problem(
                agent_path, line(), f"profile {spec.profile!r} {what}, e.g. profiles/{agent_id}.md"
            )
        )
        return None
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        problems.append(
            Problem(
                agent_path,
                line(),
                f"profile {spec.profile!r} {what}; write it (see profiles/ceo.md "
                "for the format) or fix the path",
            )
        )
        return None
    if path in parsed:  # shared by several agents: parsed and reported once
        return parsed[path]
    parsed[path] = None
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(path, 1, f"cannot read file: {exc.strerror}"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(yamlfiles.not_utf8(path, data, exc))
        return None
    profile, found = profiles.parse_profile(path, text)
    parsed[path] = profile
    problems.extend(found)
    if profile.size_bytes > max_bytes:
        problems.append(
            Problem(
                path,
                1,
                f"profile is {profile.size_bytes} bytes, over the {max_bytes}-byte budget "
                "(defaults.profile_max_bytes); long profiles slow and derail every loop: "
                "shorten it",
            )
        )
    return profile
