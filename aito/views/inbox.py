"""The human inbox: what needs a maintainer now, newest first, a page at a time.

Two listings, each paged by keyset over a partial index (migration 0011):

- **decisions waiting** for a maintainer: escalated (the voters deadlocked: the first
  maintainer's approve/merge or request-changes/close is final) or critical and still
  pending (a maintainer must approve even after the agents do), as the orchestrator
  notifies them;
- **alerts** from the audit log: an agent down past its restart budget (the
  orchestrator's ``agent.error``, marked resolved once ``agent.recovered`` follows), a
  run stopped as a loop or by an exhausted budget (``agent.run``), an agent asking the
  maintainers (``agent.human_action``: its issue).

Each item links to what it concerns: the decision's page and pull request, the agent,
the run, the issue.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

from pydantic import BaseModel

from aito.views import paging

InboxKey = tuple[dt.datetime, str]

KINDS = {
    "agent.error": "agent down",
    "agent.human_action": "help asked",
    "budget_exhausted": "budget exhausted",
    "stopped": "loop stopped",
}


class Reads(Protocol):
    """The memory as the inbox reads it."""

    def inbox_alerts_page(
        self, *, after: InboxKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]: ...

    def waiting_decisions_page(
        self, *, after: InboxKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]: ...


class Alert(BaseModel):
    id: str
    kind: str
    """agent down, budget exhausted, loop stopped, help asked."""
    agent: str | None
    run_id: str | None
    title: str
    link: str | None
    """A web address outside the dashboard (the issue), when there is one."""
    resolved: bool
    at: dt.datetime


class Waiting(BaseModel):
    id: str
    title: str
    proposed_by: str
    tier: str
    status: str
    stage: str | None
    """What the last tally said it waits for (maintainer, vote, analysis, escalated…)."""
    missing: list[str]
    reason: str | None
    pr_number: int | None
    pr_url: str | None
    due: dt.datetime | None
    created_at: dt.datetime
    head: str | None = None
    """The commit the last tally judged: what the maintainer sees and acts on."""

    @property
    def pr_link(self) -> str | None:
        url = self.pr_url or ""
        return url if url.startswith(("https://", "http://")) else None

    @property
    def waits_for(self) -> str:
        if self.status == "escalated":
            return "a maintainer: the voters are deadlocked"
        if self.stage == "maintainer":
            return "a maintainer's approval (the agents approved)"
        return "the agents' votes, then a maintainer's approval"


def alerts(reads: Reads, *, limit: int = 25, cursor: str | None = None) -> paging.Page[Alert]:
    after = _key(cursor, uuid_id=True)
    limit = paging.clamp(limit)
    found = reads.inbox_alerts_page(after=after, limit=limit + 1)
    return paging.page_of(found, limit=limit, item=_alert, key=lambda a: (a.at, a.id))


def waiting(reads: Reads, *, limit: int = 25, cursor: str | None = None) -> paging.Page[Waiting]:
    after = _key(cursor, uuid_id=False)
    limit = paging.clamp(limit)
    found = reads.waiting_decisions_page(after=after, limit=limit + 1)
    return paging.page_of(found, limit=limit, item=_waiting, key=lambda w: (w.created_at, w.id))


def _key(cursor: str | None, *, uuid_id: bool) -> InboxKey | None:
    if not cursor:
        return None
    at, key = paging.decode(cursor, dt.datetime, str)
    assert isinstance(at, dt.datetime) and isinstance(key, str)
    if uuid_id:
        try:
            uuid.UUID(key)
        except ValueError as exc:
            raise paging.BadCursor("not a cursor of this listing") from exc
    return at, key


def _alert(row: dict[str, Any]) -> Alert:
    payload: dict[str, Any] = row.get("payload") or {}
    event_type = str(row["event_type"])
    if event_type == "agent.error":
        agent = row.get("target_agent")
        kind = KINDS[event_type]
        title = f"{agent} is down past its restart budget (marked error)"
        link = None
    elif event_type == "agent.human_action":
        agent = row.get("source_agent")
        kind = KINDS[event_type]
        title = str(payload.get("title") or "an agent asks the maintainers")
        url = str(payload.get("url") or "")
        link = url if url.startswith(("https://", "http://")) else None
        if link is None and payload.get("issue"):
            title = f"{title} (issue #{payload['issue']})"
    else:
        agent = row.get("source_agent")
        status = str(payload.get("status"))
        kind = KINDS.get(status, status)
        title = (
            f"{agent}'s run stopped: its budget is exhausted"
            if status == "budget_exhausted"
            else f"{agent} stopped: it repeats itself"
        )
        link = None
    return Alert(
        id=str(row["id"]),
        kind=kind,
        agent=str(agent) if agent else None,
        run_id=row.get("run_id"),
        title=title,
        link=link,
        resolved=bool(row.get("resolved")),
        at=row["created_at"],
    )


def _waiting(row: dict[str, Any]) -> Waiting:
    verdict: dict[str, Any] = row.get("verdict") or {}
    missing = verdict.get("missing") or []
    return Waiting(
        id=str(row["id"]),
        title=str(row["title"]),
        proposed_by=str(row["proposed_by"]),
        tier=str(row["tier"]),
        status=str(row["status"]),
        stage=str(verdict["stage"]) if verdict.get("stage") else None,
        missing=[str(m) for m in missing] if isinstance(missing, list) else [],
        reason=str(verdict["reason"]) if verdict.get("reason") else None,
        pr_number=row.get("pr_number"),
        pr_url=row.get("pr_url"),
        due=row.get("due"),
        created_at=row["created_at"],
        head=str(row["head_sha"]) if row.get("head_sha") else None,
    )
