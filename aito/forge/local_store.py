"""The local forge's store: pull requests, issues, counters and statuses as JSON files.

One file per pull request under ``<store>/pulls/`` and one per issue under
``<store>/issues/``, readable with any editor or `jq`; every write replaces a whole
file (write, then rename) under one file lock. :class:`LocalStore` is the part of
:class:`aito.forge.local.LocalForge` that reads and writes them, and turns a pull
request's record into the port's :class:`~aito.forge.base.PullRequest`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aito.errors import ConfigError, PermanentAdapterError
from aito.forge import local_git
from aito.forge.base import Identity, PullRequest, PullState

SERVICE = local_git.SERVICE
Clock = Callable[[], dt.datetime]


class LocalStore:
    """The JSON files under ``store`` of the repository at ``repo`` (set by the forge)."""

    repo: Path
    store: Path
    _base: str
    _clock: Clock

    def _anchor_governance_branch(self) -> None:
        """The store belongs to the governance branch it was first opened for.

        The branch name comes from `org/org.yaml` in whatever is checked out; a checkout
        whose org.yaml names another branch (one a proposer pushed, with laxer rules)
        must not make that branch the one whose org judges and into which decisions
        merge."""
        path = self.store / "forge.json"
        try:
            anchored = json.loads(path.read_text()).get("governance_branch")
        except FileNotFoundError:
            write_json(path, {"governance_branch": self._base})
            return
        except (ValueError, AttributeError):
            anchored = None
        if not isinstance(anchored, str):
            raise ConfigError(
                f"{path} does not say which branch governs; write "
                f'{{"governance_branch": "{self._base}"}} into it if that is the one'
            )
        if anchored != self._base:
            raise ConfigError(
                f"{self.store} holds the decisions of governance branch {anchored!r}, but "
                f"org/org.yaml in {self.repo} names {self._base!r}: check out {anchored} "
                f"(or, if the governance branch really moved, set governance_branch in "
                f"{path})"
            )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.store / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _path(self, number: int) -> Path:
        return self.store / "pulls" / f"{number}.json"

    def _load(self, number: int) -> dict[str, Any]:
        path = self._path(number)
        if not path.exists():
            raise PermanentAdapterError(SERVICE, f"no pull request #{number} in {self.store}")
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def _save(self, record: dict[str, Any]) -> None:
        write_json(self._path(int(record["number"])), record)

    def _records(self) -> list[dict[str, Any]]:
        paths = sorted((self.store / "pulls").glob("*.json"), key=lambda p: int(p.stem))
        return [json.loads(p.read_text()) for p in paths]

    def _next_id(self, kind: str) -> int:
        path = self.store / "counters.json"
        counters = json.loads(path.read_text()) if path.exists() else {}
        counters[kind] = counters.get(kind, 0) + 1
        write_json(path, counters)
        return int(counters[kind])

    def _next_number(self) -> int:
        """The next issue or pull request number: one sequence for both, as on GitHub.
        (The counter keeps its first name, "pull", so existing stores number on.)"""
        return self._next_id("pull")

    def _to_pull(self, record: dict[str, Any]) -> PullRequest:
        return PullRequest(
            number=int(record["number"]),
            title=record["title"],
            body=record["body"],
            state=PullState(record["state"]),
            author=Identity(**record["author"]),
            head_ref=record["head_ref"],
            head_sha=record["pushes"][-1]["sha"],
            base_ref=record["base_ref"],
            labels=frozenset(record["labels"]),
            created_at=dt.datetime.fromisoformat(record["created_at"]),
            merged_by=Identity(**record["merged_by"]) if record["merged_by"] else None,
            closed_by=Identity(**record["closed_by"]) if record["closed_by"] else None,
            merge_sha=record["merge_sha"],
            url=self._path(int(record["number"])).as_uri(),
            closed_at=dt.datetime.fromisoformat(record["closed_at"])
            if record.get("closed_at") and record["state"] != "open"
            else None,
        )


def identity_json(identity: Identity) -> dict[str, Any]:
    return {"login": identity.login, "id": identity.id}


def write_json(path: Path, data: Any) -> None:
    # Write then rename: a crash never leaves half a file.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
