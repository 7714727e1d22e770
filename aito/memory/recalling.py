"""What an agent remembers on waking: its last N actions plus what is similar to the matter
at hand (the seed's recommendation: the last 50 actions + retrieval for older context)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from aito.memory.base import RecallItem
from aito.memory.embedding import Embedder

RECENT = 50


class SearchesHistory(Protocol):
    def recall(
        self,
        *,
        agent_id: str,
        query: Sequence[float],
        k: int = 10,
        recent: int = 50,
        action_types: Sequence[str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        exact: bool = False,
    ) -> list[RecallItem]: ...


def recall(
    store: SearchesHistory,
    embedder: Embedder,
    *,
    agent_id: str,
    query: str,
    k: int = 10,
    recent: int = RECENT,
    action_types: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[RecallItem]:
    """The ``k`` entries most similar to ``query`` and the last ``recent``, with scores and
    provenance (run id, PR number), filtered by action type and time window."""
    [vector] = embedder.embed([query])
    return store.recall(
        agent_id=agent_id,
        query=vector,
        k=k,
        recent=recent,
        action_types=action_types,
        since=since,
        until=until,
    )
