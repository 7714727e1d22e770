"""Worker runs: the running and recent ones, and one run's log.

A worker's run is an agent run of its kind with the trigger ``spawn``, named
``{kind}:spawn:{requester's run}#{position}``: its requester is the agent whose run
asked for it. Its container's output is kept with the run record
(``agent_runs.container``, the last 64,000 characters, as `aito agent logs RUN_ID`
prints it): copied there every second while the container runs (status ``running``,
by the trusted side that started it) and written whole when it ends, so a page that
follows the record follows the log.
"""

from __future__ import annotations

import datetime as dt
import heapq
from typing import Any

from pydantic import BaseModel

from aito.org import loading
from aito.org.agents import Layer
from aito.views import paging, ports, runs

SPAWN = "spawn"


class WorkerRun(BaseModel):
    run_id: str
    kind: str
    requester: str | None
    requester_run: str | None
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: str | None


class WorkerLog(BaseModel):
    """One worker run's container record, as far as it is written."""

    run: WorkerRun
    container: dict[str, Any] | None
    logs: str
    error: str | None

    @property
    def finished(self) -> bool:
        return self.run.status != "running"

    def fingerprint(self) -> str:
        return self.model_dump_json()


def kinds(org: loading.Organization) -> list[str]:
    """The organization's worker kinds (the agents of the worker layer)."""
    return sorted(a.id for a in org.agents.values() if a.layer is Layer.WORKER)


def requester_of(run_id: str, kind: str) -> tuple[str | None, str | None]:
    """(requesting agent, requesting run) from a worker run's id."""
    prefix = f"{kind}:{SPAWN}:"
    if not run_id.startswith(prefix):
        return None, None
    requester_run = run_id.removeprefix(prefix).rpartition("#")[0] or None
    agent = requester_run.partition(":")[0] if requester_run else None
    return agent or None, requester_run


def worker_run(row: dict[str, Any]) -> WorkerRun:
    kind = str(row["agent_id"])
    requester, requester_run = requester_of(str(row["run_id"]), kind)
    return WorkerRun(
        run_id=row["run_id"],
        kind=kind,
        requester=requester,
        requester_run=requester_run,
        status=row.get("status") or "running",  # the running runs' rows leave it out
        started_at=row["started_at"],
        finished_at=row.get("finished_at"),
        summary=row.get("summary"),
    )


def running(org: loading.Organization, memory: ports.Memory) -> list[WorkerRun]:
    """Worker runs in progress, oldest first (the partial index of unfinished runs)."""
    wanted = set(kinds(org))
    return [
        worker_run(row)
        for row in memory.running_runs()
        if row["agent_id"] in wanted and row.get("trigger") == SPAWN
    ]


def recent(
    org: loading.Organization,
    memory: ports.Memory,
    *,
    limit: int = 25,
    cursor: str | None = None,
) -> paging.Page[WorkerRun]:
    """Worker runs newest first: each kind's page by keyset over its (agent, time) index,
    merged (worker kinds are few)."""
    after = runs.run_key(cursor)
    limit = paging.clamp(limit)
    pages = [memory.runs_page(agent_id=kind, after=after, limit=limit + 1) for kind in kinds(org)]
    merged = heapq.merge(*pages, key=lambda r: (r["started_at"], r["run_id"]), reverse=True)
    found = [row for row, _ in zip(merged, range(limit + 1), strict=False)]
    return paging.page_of(
        found, limit=limit, item=worker_run, key=lambda w: (w.started_at, w.run_id)
    )


def log(org: loading.Organization, memory: ports.Memory, run_id: str) -> WorkerLog | None:
    """A worker run and its container's log as recorded so far; None if no such worker run."""
    record = memory.run_record(run_id)
    if record is None or record["agent_id"] not in kinds(org):
        return None
    container = record.get("container")
    return WorkerLog(
        run=worker_run(record),
        container=None
        if container is None
        else {k: v for k, v in container.items() if k != "logs"},
        logs=str((container or {}).get("logs") or ""),
        error=record.get("error"),
    )
