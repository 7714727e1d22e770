"""Tasks as a board: one column per status, most urgent first, each paged."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from aito.org.records import TaskStatus
from aito.views import paging, ports

STATUSES = tuple(s.value for s in TaskStatus)


class TaskCard(BaseModel):
    id: str
    title: str
    assigned_to: str
    created_by: str
    status: str
    priority: int
    due_date: dt.datetime | None
    decision_id: str | None
    pr_number: int | None


class Column(BaseModel):
    status: str
    count: int
    page: paging.Page[TaskCard]


def column(
    memory: ports.Memory, *, status: str, limit: int = 25, cursor: str | None = None
) -> paging.Page[TaskCard]:
    after: ports.TaskKey | None = None
    if cursor:
        priority, task_id = paging.decode(cursor, int, str)
        assert isinstance(priority, int) and isinstance(task_id, str)
        after = (priority, task_id)
    limit = paging.clamp(limit)
    found = memory.tasks_page(status=status, after=after, limit=limit + 1)
    return paging.page_of(found, limit=limit, item=_card, key=lambda t: (t.priority, t.id))


def board(
    memory: ports.Memory, *, limit: int = 25, cursors: dict[str, str] | None = None
) -> list[Column]:
    """Every status's column (in the order work moves), each ``limit`` cards at a time."""
    counts = memory.status_counts("tasks")
    cursors = cursors or {}
    return [
        Column(
            status=status,
            count=counts.get(status, 0),
            page=column(memory, status=status, limit=limit, cursor=cursors.get(status)),
        )
        for status in STATUSES
    ]


def _card(row: dict[str, Any]) -> TaskCard:
    return TaskCard(
        id=row["id"],
        title=row["title"],
        assigned_to=row["assigned_to"],
        created_by=row["created_by"],
        status=row["status"],
        priority=int(row["priority"]),
        due_date=row.get("due_date"),
        decision_id=row.get("decision_id"),
        pr_number=row.get("pr_number"),
    )
