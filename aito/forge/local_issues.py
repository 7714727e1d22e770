"""Issues on the local forge: one JSON file each under ``<store>/issues/``.

:class:`IssueMethods` is the part of :class:`aito.forge.local.LocalForge` that opens,
lists and closes issues; issues and pull requests share one number sequence, as on
GitHub, so ``#7`` names one thing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aito.errors import PermanentAdapterError
from aito.forge import local_git, local_store
from aito.forge.base import ISSUE_STATES, Identity, Issue
from aito.forge.local_store import LocalStore

SERVICE = local_git.SERVICE


class IssueMethods(LocalStore):
    """Issues of :class:`aito.forge.local.LocalForge`."""

    def open_issue(
        self, *, title: str, body: str, labels: Sequence[str], author: Identity
    ) -> Issue:
        with self._locked():
            record: dict[str, Any] = {
                "number": self._next_number(),
                "title": title,
                "body": body,
                "state": "open",
                "author": local_store.identity_json(author),
                "labels": sorted(set(labels)),
                "created_at": self._clock().isoformat(),
                "closed_by": None,
                "closed_at": None,
            }
            local_store.write_json(self._issue_path(int(record["number"])), record)
        return self._to_issue(record)

    def issues(self, *, state: str | None = "open", labels: Sequence[str] = ()) -> list[Issue]:
        if state is not None and state not in ISSUE_STATES:
            raise ValueError(f"an issue is open or closed, not {state!r}")
        paths = sorted((self.store / "issues").glob("*.json"), key=lambda p: int(p.stem))
        found = [self._to_issue(json.loads(path.read_text())) for path in paths]
        wanted = set(labels)
        return [
            issue
            for issue in found
            if (state is None or issue.state == state) and wanted <= issue.labels
        ]

    def close_issue(self, number: int, *, actor: Identity) -> None:
        with self._locked():
            path = self._issue_path(number)
            if not path.exists():
                raise PermanentAdapterError(SERVICE, f"no issue #{number} in {self.store}")
            record: dict[str, Any] = json.loads(path.read_text())
            if record["state"] != "open":
                return
            record.update(
                state="closed",
                closed_by=local_store.identity_json(actor),
                closed_at=self._clock().isoformat(),
            )
            local_store.write_json(path, record)

    def _issue_path(self, number: int) -> Path:
        return self.store / "issues" / f"{number}.json"

    def _to_issue(self, record: dict[str, Any]) -> Issue:
        number = int(record["number"])
        return Issue(
            number=number,
            title=record["title"],
            body=record["body"],
            state=record["state"],
            author=Identity(**record["author"]),
            labels=frozenset(record["labels"]),
            created_at=dt.datetime.fromisoformat(record["created_at"]),
            url=self._issue_path(number).as_uri(),
        )
