"""A search over one agent's memory: the same recall its wake-up uses.

The query is embedded by the organization's embedder (``AITO_EMBEDDINGS``: the offline
model needs no key) and matched by cosine similarity against the agent's history
(:func:`aito.memory.recalling.recall`, as :mod:`aito.agent.gathering` calls it:
similar entries only, no recent ones), so a maintainer reads what the agent would
recall about the same words.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from aito.memory import recalling
from aito.memory.embedding import Embedder

K = 10
"""Results a search shows (the agent's wake-up recalls as many: ``context.RECALL_K``)."""
MAX_QUERY = 2000
"""Characters of the query embedded (the wake-up's query is cut the same way)."""


class MemoryHit(BaseModel):
    action_type: str
    summary: str
    created_at: dt.datetime
    run_id: str | None
    pr_number: int | None
    score: float | None


def search(
    store: recalling.SearchesHistory,
    embedder: Embedder,
    *,
    agent_id: str,
    query: str,
    k: int = K,
) -> list[MemoryHit]:
    """The ``k`` entries of ``agent_id``'s history most similar to ``query``, best first."""
    found = recalling.recall(
        store, embedder, agent_id=agent_id, query=query[:MAX_QUERY], k=k, recent=0
    )
    return [
        MemoryHit(
            action_type=item.action_type,
            summary=item.summary,
            created_at=item.created_at,
            run_id=item.run_id,
            pr_number=item.pr_number,
            score=item.score,
        )
        for item in found
    ]
