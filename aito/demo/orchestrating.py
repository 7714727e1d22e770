"""The orchestrator in the simulated day: the same observe → plan → apply passes as
`aito orchestrator`, on the demo's clock, after each step.

The day includes a crash, said in the demo repo's first commit: the CEO's process is
down from 17:00 to 22:00 (its wake-ups, scheduled, on messages or restarts, do not
happen). The orchestrator restarts it within its budget, then marks it error, tells the
humans once and gives the DAO the temporary lead; the DAO's next wake-up runs the CEO's
status loop; when the CEO is back its next slot's heartbeat gives the lead back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from aito import bootstrap
from aito.agent import acting, delegating, scheduling
from aito.agent.ports import LoopPorts
from aito.org import loading
from aito.reconcile import applying, looping, observing, steps, working

CEO_DOWN = (dt.time(17, 0), dt.time(22, 0))
"""When the CEO's process is down in the simulated day (UTC)."""


def crashed(org: loading.Organization, agent_id: str, at: dt.datetime) -> bool:
    spec = org.agents.get(agent_id)
    return spec is not None and spec.type == "ceo" and CEO_DOWN[0] <= at.time() < CEO_DOWN[1]


def seed_heartbeats(wired: bootstrap.Runtime, org: loading.Organization, at: dt.datetime) -> None:
    """The organization ran before the day began: each agent's last heartbeat is the start."""
    for agent_id in observing.looping_agents(org):
        wired.bus.heartbeat(
            agent_id=agent_id, status="idle", run_id="before-the-demo", at=at, ttl_seconds=172_800
        )


@dataclasses.dataclass
class Watch:
    """The demo's orchestrator, and what it told the humans."""

    orchestrator: looping.Orchestrator
    notices: list[steps.Notify] = dataclasses.field(default_factory=list)
    lines: list[str] = dataclasses.field(default_factory=list)

    def step(self, at: dt.datetime, echo: Callable[[str], None]) -> None:
        for item in self.orchestrator.once().applied:
            line = describe(item)
            if line:
                self.lines.append(f"{at:%H:%M} {line}")
                echo(f"{at:%H:%M} orchestr. {line}")


def describe(item: applying.Applied) -> str:
    step = item.step
    failed = f" (failed: {item.error})" if item.error else ""
    if isinstance(step, steps.Restart):
        return f"{step.agent} missed its schedule: restart {step.attempt}{failed}"
    if isinstance(step, steps.MarkError):
        return f"{step.agent} is down past its restart budget: marked error{failed}"
    if isinstance(step, steps.ClearError):
        return f"{step.agent} is healthy again{failed}"
    if isinstance(step, steps.ChangeLead):
        return f"the lead goes to {step.to}: {step.reason}{failed}"
    if isinstance(step, steps.Notify):
        return f"notified the humans ({step.severity}): {step.subject}{failed}"
    if isinstance(step, steps.SpawnWorker):
        return f"started a queued {step.kind} worker for {step.parent}{failed}"
    if isinstance(step, steps.ExpireWorker):
        return f"a worker request of {step.parent or 'nobody'} expired unstarted{failed}"
    if isinstance(step, steps.Tally):
        return f"#{step.pr} {step.decision}: its round deadline passed, tallied{failed}"
    return ""


def watch(
    wired: bootstrap.Runtime,
    org: loading.Organization,
    ports: LoopPorts,
    runner: scheduling.Waking,
    *,
    spawn: acting.RunWorker,
    on_run: Callable[[object], None],
) -> Watch:
    sources = observing.Sources(
        bus=wired.bus, memory=wired.memory, forge=ports.governance, runtime=None
    )
    notices: list[steps.Notify] = []

    def wake(agent_id: str, run_id: str) -> None:
        if crashed(org, agent_id, ports.clock()):
            return  # the restart dies with the process
        on_run(runner.run(agent_id, trigger="restart", run_id=run_id))

    workers = working.QueuedWorkers(
        delegating.Delegation(wired.bus.worker_queue(), wired.memory, ports.clock),
        spawn=spawn,
        background=False,  # the simulated clock stands still while a worker runs
    )
    applier = applying.Applier(sources, wake=wake, send=notices.append, workers=workers)
    return Watch(looping.Orchestrator(org, sources, applier, clock=ports.clock), notices)
