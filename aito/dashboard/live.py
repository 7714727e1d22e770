"""Live pages: the org chart and worker logs pushed as server-sent events, and the
workers' pages.

Routes:

- ``GET /live/organization``: ``text/event-stream``; an ``organization`` event whenever
  the chart's changing state changes (checked every :data:`INTERVAL` s: heartbeats,
  the run in progress, today's spend, who holds the lead), one at once on connect, a
  comment every :data:`KEEPALIVE` s otherwise. Its data is JSON: ``{"now": ISO,
  "lead": ID, "agents": {ID: {"heartbeat_at": ISO|null, "heartbeat": "5 s ago",
  "running_run": ID|null, "running": TEXT, "spent": TEXT, "burn": "12%",
  "burn_width": PX, "over": BOOL, "lead": BOOL}}}``.
- ``GET /workers``: running and recent worker runs (kind, requester, status, started).
- ``GET /workers/RUN_ID``: one worker run and its container's log.
- ``GET /live/workers/RUN_ID``: ``text/event-stream``; a ``log`` event whenever the run's
  record changes (``{"status", "logs", "container", "error", "finished"}``), then
  ``end`` once the run is finished. A worker's log is kept with its run record when its
  container ends (see :mod:`aito.views.workers`): while it runs, the stream sends its
  status, and the log as soon as it is recorded.
- ``GET /static/...``: ``live.js``, the few lines of vanilla JavaScript that apply the
  events (no library, nothing from the internet).

DOM hooks (what ``live.js`` updates, and what a browser test may wait on):

- the organization table's ``<tbody data-live="/live/organization">``; each agent's
  row ``<tr id="agent-ID" data-agent="ID">``; in it the cells ``data-field=`` ``heartbeat``
  (with ``data-at``, the heartbeat's ISO time, re-aged every second), ``running``,
  ``spent``, ``burn`` (its gauge's bar ``data-field="burn-bar"``, its text
  ``data-field="burn-text"``) and ``lead``; the page's ``<span data-field="lead"
  id="lead">`` names who leads.
- the element holding ``data-live`` gets ``data-live-state="open"`` once the first
  event is applied, and ``data-live-updated`` (a counter) after each one.
- a worker page's ``<section data-live="/live/workers/RUN_ID">`` holds
  ``data-field="status"`` and ``<pre data-field="log">``.

Without JavaScript the pages are the same, rendered once: a ``<noscript>`` line says to
reload for news.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from aito.bus import budgets as bus_budgets
from aito.views import live as live_views
from aito.views import workers

if TYPE_CHECKING:
    from aito.dashboard.app import Source

INTERVAL = 1.0
"""Seconds between two looks at what changed (an update reaches the page within ~1 s)."""
KEEPALIVE = 15.0
"""Seconds of silence after which a comment keeps proxies from closing the stream."""
RETRY_MS = 2000
"""How soon a browser reconnects after the stream dropped."""

Render = Callable[..., Response]


def routes(source: Source, render: Render, *, page_size: int = 25) -> list[BaseRoute]:
    """The live routes over ``source``; pages are drawn by ``render``."""

    def organization_state() -> tuple[str, dict[str, Any]]:
        _, state = live_views.chart(
            source.organization(), source.memory, source.heartbeats, now=source.clock()
        )
        return state.fingerprint(), payload(state)

    async def organization_stream(request: Request) -> Response:
        return _events(request, "organization", organization_state)

    def workers_page(request: Request) -> Response:
        org = source.organization()
        cursor = request.query_params.get("after") or None
        return render(
            request,
            "workers.html",
            running=workers.running(org, source.memory),
            page=workers.recent(org, source.memory, limit=page_size, cursor=cursor),
            kinds=workers.kinds(org),
        )

    def worker_log(run_id: str) -> workers.WorkerLog:
        found = workers.log(source.organization(), source.memory, run_id)
        if found is None:
            raise HTTPException(404, f"no worker run {run_id!r}")
        return found

    def worker_page(request: Request) -> Response:
        return render(request, "worker.html", log=worker_log(request.path_params["run_id"]))

    async def worker_stream(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        await anyio.to_thread.run_sync(worker_log, run_id)  # 404 before the stream opens

        def read() -> tuple[str, dict[str, Any]]:
            found = worker_log(run_id)
            return found.fingerprint(), {
                "status": found.run.status,
                "logs": found.logs,
                "container": found.container,
                "error": found.error,
                "finished": found.finished,
            }

        return _events(request, "log", read, last=lambda data: bool(data["finished"]))

    return [
        Route("/live/organization", organization_stream, name="live_organization"),
        Route("/workers", workers_page, name="workers"),
        Route("/workers/{run_id}", worker_page, name="worker"),
        Route("/live/workers/{run_id}", worker_stream, name="live_worker"),
        Mount("/static", StaticFiles(packages=[("aito.dashboard", "static")]), name="static"),
    ]


def payload(state: live_views.LiveState) -> dict[str, Any]:
    """The organization event's data: each row's cells as the page shows them."""
    from aito.dashboard import app  # the page's own formats (app imports this module)

    agents: dict[str, Any] = {}
    for agent in state.agents:
        age = (
            None
            if agent.heartbeat_at is None
            else max(0, int((state.now - agent.heartbeat_at).total_seconds()))
        )
        agents[agent.id] = {
            "heartbeat_at": agent.heartbeat_at.isoformat() if agent.heartbeat_at else None,
            "heartbeat": app.age(age),
            "running_run": agent.running_run,
            "running": f"since {app.when(agent.running_since)}" if agent.running_run else "no",
            "spent": f"{bus_budgets.money(agent.spent_today_usd)} of "
            f"{bus_budgets.money(agent.daily_limit_usd)}",
            "burn": f"{agent.burn:.0%}",
            "burn_width": app.bar_width(agent.burn),
            "over": agent.burn >= 1,
            "lead": agent.lead,
        }
    return {"now": state.now.isoformat(), "lead": state.lead, "agents": agents}


def _events(
    request: Request,
    event: str,
    read: Callable[[], tuple[str, dict[str, Any]]],
    *,
    last: Callable[[dict[str, Any]], bool] = lambda _: False,
) -> StreamingResponse:
    """An event stream sending ``read()``'s data as ``event`` whenever its key changed
    (the key leaves out the clock), looked at every :data:`INTERVAL` s; ``end`` once
    ``last`` says so."""

    async def stream() -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        sent: str | None = None
        quiet = 0.0
        while not await request.is_disconnected():
            key, data = await anyio.to_thread.run_sync(read)
            if key != sent:
                sent, quiet = key, 0.0
                yield f"event: {event}\ndata: {json.dumps(data)}\n\n"
                if last(data):
                    yield "event: end\ndata: {}\n\n"
                    return
            elif quiet >= KEEPALIVE:
                quiet = 0.0
                yield ": keepalive\n\n"
            await anyio.sleep(INTERVAL)
            quiet += INTERVAL

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
