"""Load `org/` and `profiles/` into an :class:`Organization`, collecting every problem.

Loading never stops at the first problem: a user fixing an org wants the whole
list, each with file and line (:mod:`aito.org.explaining` words a file's schema
errors; :mod:`aito.org.validating` checks what no single file can). :func:`load`
returns what could be read plus the problems; :func:`load_valid` raises
:class:`OrgDefinitionError` instead.
"""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from aito.errors import OrgDefinitionError, Problem
from aito.org import agents as agent_models
from aito.org import explaining, organization, profiles, records, schedules, yamlfiles

ORG_FILE = Path("org/org.yaml")
AGENTS_DIR = Path("org/agents")
DECISIONS_DIR = Path("org/decisions")
TASKS_DIR = Path("org/tasks")

Model = TypeVar("Model", bound=pydantic.BaseModel)


WORKER_CLAIM_GRACE_SECONDS = 120.0
"""How much longer than a worker's timeout a claim on its request lasts."""


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

    def timeout_of(self, agent_id: str) -> int:
        """Minutes a run of the agent (or a worker of this kind) may last."""
        spec = self.agents[agent_id]
        found = spec.loop.timeout_minutes if spec.loop else spec.timeout_minutes
        return found or self.org.defaults.timeout_minutes

    def claim_seconds_of(self, kind: str) -> float:
        """How long a claim on a worker request of ``kind`` lasts: its timeout, and a grace
        for its start and its report (the worker queue, :mod:`aito.bus.worker_queue`)."""
        return self.timeout_of(kind) * 60.0 + WORKER_CLAIM_GRACE_SECONDS

    def max_workers_of(self, agent_id: str) -> int:
        found = self.agents[agent_id].max_workers
        return self.org.defaults.max_workers if found is None else found

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
                    f"file to {explaining.cut(item_id, 80)}.yaml or set "
                    f"`id: {explaining.cut(path.stem, 80)}` (ids must be unique)",
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
        kind = (
            "empty"
            if data is None
            else explaining.KINDS.get(type(data), f"a {type(data).__name__}")
        )
        problems.append(Problem(path, 1, f"the file is {kind}; it must be a mapping of fields"))
        return None
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems.extend(explaining.problems_from_validation(path, model, exc))
        return None


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
