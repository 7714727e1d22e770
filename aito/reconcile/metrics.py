"""The orchestrator's Prometheus metrics (`aito orchestrator --metrics-port`): the only
module that imports ``prometheus_client``.

Set each pass from what it observed (heartbeat age, decisions, containers, the bus) and
from Postgres (runs by outcome, model tokens and cost today); counted as it applies
(steps by kind, notifications sent, restarts).
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import start_http_server

from aito.bus import inspecting
from aito.bus.services import BusServices
from aito.memory.postgres import PostgresMemory
from aito.reconcile import applying, observed, steps


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Gauge(
            "aito_runs", "Runs recorded, by agent and outcome", ["agent", "status"], registry=r
        )
        self.tokens = Gauge(
            "aito_model_tokens_today", "Model tokens used today (UTC)", ["agent"], registry=r
        )
        self.cost = Gauge(
            "aito_model_cost_usd_today", "Model cost today in USD (UTC)", ["agent"], registry=r
        )
        self.heartbeat_age = Gauge(
            "aito_heartbeat_age_seconds",
            "Seconds since the agent's last heartbeat",
            ["agent"],
            registry=r,
        )
        self.bus_length = Gauge(
            "aito_bus_inbox_length", "Entries in the agent's inbox stream", ["agent"], registry=r
        )
        self.bus_pending = Gauge(
            "aito_bus_pending",
            "Inbox entries delivered and not acknowledged",
            ["agent"],
            registry=r,
        )
        self.queue_depth = Gauge("aito_worker_queue_depth", "Worker requests waiting", registry=r)
        self.decisions = Gauge(
            "aito_decisions_open",
            "Open decisions, by whether a deadline passed",
            ["due"],
            registry=r,
        )
        self.containers = Gauge(
            "aito_containers", "Containers of the organization, by kind", ["kind"], registry=r
        )
        self.agents_in_error = Gauge(
            "aito_agents_in_error", "Agents marked error (restart budget spent)", registry=r
        )
        self.steps = Counter(
            "aito_orchestrator_steps",
            "Steps applied, by kind and result",
            ["step", "result"],
            registry=r,
        )
        self.notifications = Counter(
            "aito_notifications_sent", "Notifications sent", ["severity"], registry=r
        )
        self.restarts = Counter(
            "aito_restarts", "Agent restarts by the orchestrator", ["agent"], registry=r
        )
        self.passes = Counter("aito_orchestrator_passes", "Reconcile passes", registry=r)

    def observe(
        self,
        seen: observed.Observed,
        *,
        now: dt.datetime,
        memory: PostgresMemory,
        bus: BusServices,
    ) -> None:
        self.passes.inc()
        for (agent, status), count in memory.run_counts().items():
            self.runs.labels(agent=agent, status=status).set(count)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        totals: dict[str, tuple[int, float]] = {}
        for row in memory.usage_summary(since=today):
            tokens, cost = totals.get(row["agent_id"], (0, 0.0))
            totals[row["agent_id"]] = (tokens + int(row["tokens"]), cost + float(row["cost_usd"]))
        for spender, (tokens, cost) in totals.items():
            self.tokens.labels(agent=spender).set(tokens)
            self.cost.labels(agent=spender).set(cost)
        for seen_agent in seen.agents.values():
            name = seen_agent.id
            if seen_agent.last_heartbeat is not None:
                age = (now - seen_agent.last_heartbeat).total_seconds()
                self.heartbeat_age.labels(agent=name).set(max(0.0, age))
            self.bus_length.labels(agent=name).set(inspecting.length(bus, name))
            pending = sum(c.pending for c in inspecting.consumers(bus, name))
            self.bus_pending.labels(agent=name).set(pending)
        self.queue_depth.set(len(seen.worker_requests))
        due = sum(1 for d in seen.decisions if d.deadline is not None and d.deadline <= now)
        self.decisions.labels(due="yes").set(due)
        self.decisions.labels(due="no").set(len(seen.decisions) - due)
        for kind in ("agent", "worker", "daemon"):
            self.containers.labels(kind=kind).set(sum(1 for c in seen.containers if c.kind == kind))
        self.agents_in_error.set(sum(1 for a in seen.agents.values() if a.error_since))

    def applied(self, results: list[applying.Applied]) -> None:
        for item in results:
            step = item.step
            self.steps.labels(
                step=type(step).__name__, result="error" if item.error else "ok"
            ).inc()
            if item.error:
                continue
            if isinstance(step, steps.Notify):
                self.notifications.labels(severity=step.severity).inc()
            elif isinstance(step, steps.Restart):
                self.restarts.labels(agent=step.agent).inc()

    def text(self) -> bytes:
        """The exposition format, as the endpoint serves it."""
        return generate_latest(self.registry)

    def serve(self, port: int, *, host: str = "127.0.0.1") -> None:
        """Serve `/metrics` on ``host:port`` (a daemon thread)."""
        start_http_server(port, addr=host, registry=self.registry)
