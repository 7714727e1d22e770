"""The audit log, newest first, by type and by agent, a page at a time."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from pydantic import BaseModel

from aito.views import paging, ports


class EventView(BaseModel):
    id: str
    type: str
    source_agent: str | None
    target_agent: str | None
    run_id: str | None
    decision_id: str | None
    payload: dict[str, Any]
    created_at: dt.datetime

    @property
    def payload_text(self) -> str:
        return json.dumps(self.payload, sort_keys=True, default=str)


def page(
    memory: ports.Memory,
    *,
    event_type: str | None = None,
    agent_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> paging.Page[EventView]:
    after: ports.EventKey | None = None
    if cursor:
        at, event_id = paging.decode(cursor, dt.datetime, str)
        assert isinstance(at, dt.datetime) and isinstance(event_id, str)
        try:
            uuid.UUID(event_id)
        except ValueError as exc:
            raise paging.BadCursor("not a cursor of this listing") from exc
        after = (at, event_id)
    limit = paging.clamp(limit)
    found = memory.events_page(
        event_type=event_type, agent_id=agent_id, after=after, limit=limit + 1
    )
    return paging.page_of(found, limit=limit, item=_view, key=lambda e: (e.created_at, e.id))


def _view(row: dict[str, Any]) -> EventView:
    return EventView(
        id=row["id"],
        type=row["event_type"],
        source_agent=row.get("source_agent"),
        target_agent=row.get("target_agent"),
        run_id=row.get("run_id"),
        decision_id=row.get("decision_id"),
        payload=row.get("payload") or {},
        created_at=row["created_at"],
    )
