"""The orchestrator's planner at scale: an organization of 1,000 agents and 10,000 open
items (decisions, worker requests, causes), planned again and again.

The plan is pure (no I/O): this is its own cost, which a reconcile pass pays once per
interval. Target: at least 100 plans per second on this machine. Printed: plans per
second (median of 5 rounds), ms per plan, and the steps one plan holds.

Then the loop itself on an idle organization (the example, every agent healthy, no open
item) against the embedded Postgres and Redis: CPU seconds the orchestrator's process
spends per hour at the default interval (30 s), from the CPU time of 100 passes
(Postgres' and Redis' own CPU not included).

Run: .venv/bin/python bench/bench_reconcile.py [--agents 1000] [--items 10000]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from support import agent_world  # noqa: E402

from aito.org import loading  # noqa: E402
from aito.org.agents import Layer  # noqa: E402
from aito.reconcile import applying, looping, observing, planning  # noqa: E402
from aito.reconcile.observed import (  # noqa: E402
    AgentSeen,
    Cause,
    ContainerSeen,
    DecisionSeen,
    Observed,
    WorkerAsked,
)
from aito.services import managing  # noqa: E402
from aito.settings import Settings  # noqa: E402

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def organization(size: int) -> loading.Organization:
    """The example organization grown to ``size`` agents (copies of its C-level agents)."""
    org = loading.load_valid(REPO_ROOT)
    agents = dict(org.agents)
    clevel = [a for a in org.agents.values() if a.layer is Layer.C_LEVEL]
    n = 0
    while len(agents) < size:
        base = clevel[n % len(clevel)]
        agents[f"{base.id}-{n}"] = base.model_copy(update={"id": f"{base.id}-{n}"})
        n += 1
    return dataclasses.replace(org, agents=agents)


def observed(org: loading.Organization, items: int) -> Observed:
    looping = [a for a in org.agents.values() if a.loop is not None]
    agents = {}
    for index, spec in enumerate(looping):
        slot = NOW - dt.timedelta(minutes=30 + index % 240)
        beat = slot + dt.timedelta(minutes=1) if index % 50 else None  # 2% missed their slot
        agents[spec.id] = AgentSeen(spec.id, slot=slot, last_heartbeat=beat)
    parents = [a.id for a in looping if a.workers]
    third = items // 3
    decisions = tuple(
        DecisionSeen(f"d{n}", n, NOW + dt.timedelta(minutes=n % 600 - 300), None)
        for n in range(third)
    )
    requests = tuple(
        WorkerAsked(
            f"w{n}",
            parents[n % len(parents)],
            org.agents[parents[n % len(parents)]].workers[0],
            "t",
            NOW - dt.timedelta(minutes=n % 90),
        )
        for n in range(third)
    )
    causes = tuple(Cause(f"c{n}", "s", "b") for n in range(items - 2 * third))
    notified = frozenset(f"notify:c{n}" for n in range(0, len(causes), 2))
    containers = tuple(
        ContainerSeen(f"k{n}", "worker", "w", f"r{n}", True, NOW + dt.timedelta(hours=1), p)
        for n, p in enumerate(parents)
    )
    return Observed(
        agents=agents,
        decisions=decisions,
        worker_requests=requests,
        causes=causes,
        notified=notified,
        containers=containers,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--plans", type=int, default=20, help="plans per round (5 rounds)")
    options = parser.parse_args()
    org = organization(options.agents)
    seen = observed(org, options.items)
    found = planning.plan(org, seen, NOW)
    rates = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(options.plans):
            planning.plan(org, seen, NOW)
        rates.append(options.plans / (time.perf_counter() - started))
    rate = statistics.median(rates)
    kinds: dict[str, int] = {}
    for step in found:
        kinds[type(step).__name__] = kinds.get(type(step).__name__, 0) + 1
    print(f"organization: {len(org.agents):,} agents, {options.items:,} open items")
    print(f"planner: {rate:,.0f} plans/s ({1000 / rate:.1f} ms per plan; target >= 100 plans/s)")
    print("one plan: " + ", ".join(f"{n:,} {k}" for k, n in sorted(kinds.items())))
    idle_cpu(passes=100)


def idle_cpu(*, passes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="aito-bench-reconcile-") as tmp:
        root = Path(tmp)
        services = managing.up(Settings.from_env({"AITO_DATA_DIR": str(root / "services")}))
        with agent_world.open_world(
            root / "governance",
            postgres_url=services.postgres_url,
            redis_url=services.redis_url,
            model=None,
        ) as world:
            for agent_id in observing.looping_agents(world.org):
                world.runtime.bus.heartbeat(
                    agent_id=agent_id,
                    status="idle",
                    run_id="r",
                    at=world.clock(),
                    ttl_seconds=86_400,
                )
            sources = observing.Sources(
                bus=world.runtime.bus,
                memory=world.runtime.memory,
                forge=world.governance,
                runtime=None,
            )
            applier = applying.Applier(sources, wake=lambda *_: None, send=lambda _: None)
            orch = looping.Orchestrator(world.org, sources, applier, clock=world.clock)
            orch.once()  # warm
            started = time.process_time()
            for _ in range(passes):
                if orch.once().applied:
                    raise SystemExit("the idle organization was not idle")
            per_pass = (time.process_time() - started) / passes
    interval = 30
    print(
        f"idle loop: {per_pass * 1000:.1f} ms CPU per pass; {per_pass * 3600 / interval:.1f} "
        f"CPU-seconds per hour at a {interval} s interval"
    )


if __name__ == "__main__":
    main()
