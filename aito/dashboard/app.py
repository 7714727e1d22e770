"""The dashboard's ASGI app: one route per page, each a view rendered by a template.

Handlers are plain functions (Starlette runs them in its thread pool), so the views'
blocking reads never stall the event loop. Only a maintainer's session writes (approve,
veto, merge, close from the inbox, through the forge as that maintainer:
:mod:`aito.dashboard.inbox`).
No page renders settings or the environment: secrets never reach a template.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from aito.bus import budgets as bus_budgets
from aito.dashboard import inbox, live
from aito.memory import recalling
from aito.memory.embedding import Embedder
from aito.org import loading
from aito.views import (
    budgets,
    decisions,
    events,
    organization,
    paging,
    ports,
    run_context,
    runs,
    tasks,
)
from aito.views import costs as cost_views
from aito.views import live as live_views
from aito.views import memory as memory_views

PAGE = 25
"""Rows per page of every listing."""


@dataclasses.dataclass(frozen=True)
class Source:
    """Where the pages read from: the organization, the memory, the budget ledger, a clock."""

    organization: Callable[[], loading.Organization]
    memory: ports.Memory
    ledger: ports.Reservations
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    heartbeats: live_views.Heartbeats | None = None
    """The bus's heartbeats and lead (the live chart); None: Postgres's wake-ups only."""
    history: recalling.SearchesHistory | None = None
    """The agents' memory as recall searches it (the agent page's search)."""
    embedder: Callable[[], Embedder] | None = None
    """The embedder the agents recall with, made on first use."""


class Reloading:
    """The organization from its repo, loaded again at most every ``seconds`` (decisions
    merge and agents change while the dashboard stays open)."""

    def __init__(self, load: Callable[[], loading.Organization], *, seconds: float = 10.0):
        self._load = load
        self._seconds = seconds
        self._lock = threading.Lock()
        self._loaded: tuple[float, loading.Organization] | None = None

    def __call__(self) -> loading.Organization:
        with self._lock:
            now = time.monotonic()
            if self._loaded is None or now - self._loaded[0] > self._seconds:
                self._loaded = (now, self._load())
            return self._loaded[1]


def create_app(source: Source, writes: inbox.Writes | None = None) -> Starlette:
    """The dashboard over ``source``; ``writes``: how maintainers log in and write (None:
    read-only, no login)."""
    env = _environment()

    def render(request: Request, template: str, http_status: int = 200, **values: Any) -> Response:
        page = env.get_template(template).render(
            request=request, path=request.url.path, now=source.clock(), **values
        )
        return HTMLResponse(page, status_code=http_status)

    def org_page(request: Request) -> Response:
        chart, _ = live_views.chart(
            source.organization(), source.memory, source.heartbeats, now=source.clock()
        )
        lead = live_views.lead_of(source.organization(), source.heartbeats)
        return render(request, "organization.html", chart=chart, lead=lead)

    def agent_page(request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        found = organization.agent_page(
            source.organization(),
            source.memory,
            source.ledger,
            agent_id=agent_id,
            now=source.clock(),
            cursor=_cursor(request),
            limit=PAGE,
        )
        if found is None:
            raise HTTPException(404, f"no agent {agent_id!r} in this organization")
        query = request.query_params.get("q", "").strip()
        hits: list[memory_views.MemoryHit] | None = None
        if query and source.history is not None and source.embedder is not None:
            hits = memory_views.search(
                source.history, source.embedder(), agent_id=agent_id, query=query
            )
        return render(
            request,
            "agent.html",
            page=found,
            q=query,
            hits=hits,
            searchable=source.history is not None and source.embedder is not None,
        )

    def run_page(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        found = runs.detail(source.memory, run_id)
        if found is None:
            raise HTTPException(404, f"no run {run_id!r}")
        record = source.memory.run_record(run_id) or {"run_id": run_id}
        return render(request, "run.html", run=found, context=run_context.of(record))

    def decisions_page(request: Request) -> Response:
        status = request.query_params.get("status") or None
        if status is not None and status not in decisions.STATUSES:
            raise HTTPException(
                400, f"no status {status!r}; one of {', '.join(decisions.STATUSES)}"
            )
        found = decisions.listing(source.memory, status=status, limit=PAGE, cursor=_cursor(request))
        return render(
            request,
            "decisions.html",
            page=found,
            status=status,
            statuses=decisions.STATUSES,
            counts=decisions.counts(source.memory),
        )

    def decision_page(request: Request) -> Response:
        decision_id = request.path_params["decision_id"]
        found = decisions.detail(source.memory, decision_id, now=source.clock())
        if found is None:
            raise HTTPException(404, f"no decision {decision_id!r}")
        return render(request, "decision.html", decision=found)

    def tasks_page(request: Request) -> Response:
        cursors = {
            status: value
            for status in tasks.STATUSES
            if (value := request.query_params.get(f"after_{status}"))
        }
        board = tasks.board(source.memory, limit=PAGE, cursors=cursors)
        return render(request, "tasks.html", board=board)

    def events_page(request: Request) -> Response:
        event_type = request.query_params.get("type") or None
        agent_id = request.query_params.get("agent") or None
        found = events.page(
            source.memory,
            event_type=event_type,
            agent_id=agent_id,
            limit=PAGE * 2,
            cursor=_cursor(request),
        )
        query = urllib.parse.urlencode(
            [(k, v) for k, v in (("type", event_type), ("agent", agent_id)) if v]
        )
        return render(
            request,
            "events.html",
            page=found,
            event_type=event_type,
            agent=agent_id,
            base=f"/events?{query}" if query else "/events",
        )

    def costs_page(request: Request) -> Response:
        text = request.query_params.get("days", "14")
        if not text.isdigit() or not 1 <= int(text) <= 92:
            raise HTTPException(400, "days is a whole number from 1 to 92")
        org = source.organization()
        found = budgets.report(
            org, source.memory, source.ledger, now=source.clock(), days=int(text)
        )
        daily = budgets.daily_page(
            budgets.daily_costs(org, found), limit=PAGE * 2, cursor=_cursor(request)
        )
        charts = cost_views.charts(org, found)
        return render(
            request,
            "costs.html",
            report=found,
            daily=daily,
            charts=charts,
            base=f"/costs?days={int(text)}",
        )

    def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    def failed(request: Request, exc: Exception) -> Response:
        if isinstance(exc, paging.BadCursor):
            code, detail = 400, "this page link is not valid any more; start from the first page"
        else:
            assert isinstance(exc, HTTPException)
            code, detail = exc.status_code, exc.detail
        return render(request, "error.html", http_status=code, code=code, detail=detail)

    return Starlette(
        routes=[
            Route("/", org_page, name="organization"),
            Route("/agents/{agent_id}", agent_page, name="agent"),
            Route("/runs/{run_id}", run_page, name="run"),
            Route("/decisions", decisions_page, name="decisions"),
            Route("/decisions/{decision_id}", decision_page, name="decision"),
            Route("/tasks", tasks_page, name="tasks"),
            Route("/events", events_page, name="events"),
            Route("/costs", costs_page, name="costs"),
            Route("/healthz", health, name="health"),
            *inbox.routes(source.organization, source.memory, writes, render),
            *live.routes(source, render, page_size=PAGE),
        ],
        middleware=[Middleware(inbox.SessionScope, writes=writes)],
        exception_handlers={HTTPException: failed, paging.BadCursor: failed},
    )


def _cursor(request: Request) -> str | None:
    return request.query_params.get("after") or None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aito.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = bus_budgets.money
    env.filters["segment"] = lambda value: urllib.parse.quote(str(value), safe=":@._~-")
    env.filters["age"] = age
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.filters["percent"] = lambda share: f"{share:.0%}" if share is not None else "—"
    env.globals["bar_width"] = bar_width
    return env


def age(seconds: int | None) -> str:
    """``42 s``, ``5 min``, ``3 h``, ``2 d`` ago; ``never``."""
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def duration(seconds: int) -> str:
    """``2 d 3 h``, ``3 h 12 min``, ``5 min 10 s``, ``42 s``."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def when(moment: dt.datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def bar_width(share: float | None, *, width: int = 200) -> int:
    """Pixels of a ``width``-pixel bar for ``share`` of its limit (capped at the bar)."""
    if not share or share < 0:
        return 0
    return min(width, max(1, round(share * width)))
