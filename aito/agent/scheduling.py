"""When agents wake: schedule slots (`run --all`) and the daemon loop (`agent daemon`).

A scheduled wake-up is named after its slot (the last time the agent's schedule
fired, on the same staggered cron as its generated workflow), so starting it twice —
from the workflow, from `run --all`, from a daemon — does its work once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from aito.agent import running
from aito.agent.ports import LoopPorts
from aito.errors import AdapterError
from aito.org import loading
from aito.org.agents import Layer

log = logging.getLogger(__name__)


def slot_run_id(org: loading.Organization, agent_id: str, now: dt.datetime) -> str | None:
    """The run id of the agent's current schedule slot (None for agents without one)."""
    schedule = org.schedule(agent_id) if org.agents[agent_id].loop else None
    if schedule is None:
        return None
    slot = schedule.last_slot(now, stagger_key=agent_id)
    return running.run_id_for(agent_id, "schedule", key=f"{slot:%Y%m%dT%H%M}")


def looping_agents(org: loading.Organization) -> list[str]:
    """The agents :func:`run_due` may wake (every non-worker), head agents first."""
    agents = sorted(
        (a for a in org.agents.values() if a.layer is not Layer.WORKER),
        key=lambda a: (a.layer is not Layer.HEAD, a.id),
    )
    return [a.id for a in agents]


class Waking(Protocol):
    """What wakes an agent once: a :class:`~aito.agent.running.Runner` (in-process), or a
    launcher that runs the wake-up in a container (:mod:`aito.runtime.launching`)."""

    @property
    def ports(self) -> LoopPorts: ...

    def run(
        self, agent_id: str, *, trigger: str, run_id: str, force: bool = False
    ) -> running.RunOutcome: ...


def run_due(
    runner: Waking, org: loading.Organization, *, now: dt.datetime
) -> list[running.RunOutcome]:
    """Every non-worker agent's current slot, head agents first; done slots report as done."""
    agents = [org.agents[agent_id] for agent_id in looping_agents(org)]
    outcomes = []
    for spec in agents:
        run_id = slot_run_id(org, spec.id, now)
        if run_id is not None:
            outcomes.append(runner.run(spec.id, trigger="schedule", run_id=run_id))
    return outcomes


class Daemon:
    """One agent, forever: its schedule slots, and its inbox as messages arrive.

    Waits on the agent's pub/sub nudges (a hint only: the stream is what is read),
    re-checking at least every ``poll_seconds``; ``stop`` (set on SIGTERM) ends the
    loop after the run in progress finishes.
    """

    def __init__(
        self,
        *,
        runner: Waking,
        org: loading.Organization,
        agent_id: str,
        stop: threading.Event,
        poll_seconds: float = 2.0,
        on_run: Callable[[running.RunOutcome], None] = lambda outcome: None,
    ) -> None:
        self.runner = runner
        self.org = org
        self.agent_id = agent_id
        self.stop = stop
        self.poll_seconds = poll_seconds
        self.on_run = on_run

    def serve(self) -> int:
        """Run until stopped; the number of runs made."""
        ports = self.runner.ports
        subscription = ports.bus.outbox(groups=self.org.groups()).listen(self.agent_id)
        runs = 0
        try:
            while not self.stop.is_set():
                try:
                    runs += self._once()
                    subscription.get(timeout=self.poll_seconds)
                except AdapterError as exc:  # a service away: wait and try again
                    log.warning("%s daemon: %s; retrying", self.agent_id, exc)
                    self.stop.wait(self.poll_seconds)
        finally:
            subscription.close()
        return runs

    def _once(self) -> int:
        ports = self.runner.ports
        now = ports.clock()
        made = 0
        run_id = slot_run_id(self.org, self.agent_id, now)
        if run_id is not None and ports.memory.run_record(run_id) is None:
            self.on_run(self.runner.run(self.agent_id, trigger="schedule", run_id=run_id))
            made += 1
        while not self.stop.is_set() and ports.bus.has_unread(self.agent_id):
            key = f"{ports.clock():%Y%m%dT%H%M%S%f}"
            outcome = self.runner.run(
                self.agent_id,
                trigger="message",
                run_id=running.run_id_for(self.agent_id, "message", key=key),
            )
            self.on_run(outcome)
            made += 1
            if outcome.status not in ("completed", "skipped"):
                break  # e.g. budget exhausted: do not spin on the same inbox
        return made
