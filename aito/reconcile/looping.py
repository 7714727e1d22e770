"""The orchestrator's loop: observe, plan, apply, every `orchestrator.interval_seconds`,
until told to stop (SIGTERM). One pass at a time per organization (a Redis lock), so a
second orchestrator waits rather than doubling anything."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable

from aito.bus import leasing
from aito.decisions import reading
from aito.errors import ConfigError, GovernanceError
from aito.org import loading
from aito.reconcile import applying, metrics, observed, observing, planning, steps
from aito.runtime import launching

log = logging.getLogger(__name__)
LOCK = "lock:orchestrator"


@dataclasses.dataclass(frozen=True)
class Pass:
    """What one pass saw, planned and did."""

    at: dt.datetime
    seen: observed.Observed
    planned: list[steps.Step]
    applied: list[applying.Applied]


@dataclasses.dataclass
class Orchestrator:
    org: loading.Organization
    sources: observing.Sources
    applier: applying.Applier
    clock: Callable[[], dt.datetime]
    metrics: metrics.Metrics | None = None
    launcher: launching.Launcher | None = None
    """Where daemon containers run (`wake: daemon`); they stop with the orchestrator,
    whose gateways they call through."""

    def look(self) -> tuple[dt.datetime, observed.Observed, list[steps.Step]]:
        """Observe and plan, applying nothing (`aito orchestrator status`)."""
        now = self.clock()
        forge = self.sources.forge
        try:  # the organization as its base branch says now (a merged change counts)
            self.org = reading.base_organization(forge, forge.default_branch)
        except (ConfigError, GovernanceError) as exc:  # keep the last good one
            log.warning("orchestrator: the base branch's organization is unusable: %s", exc)
        seen = observing.observe(self.org, self.sources, now=now)
        return now, seen, self.applier.pending(planning.plan(self.org, seen, now))

    def once(self) -> Pass:
        # A lease, renewed while the pass runs: a killed orchestrator's is taken over at
        # once by the next on the same host, elsewhere once it stops being renewed.
        with leasing.Lease(
            self.sources.bus, LOCK, ttl_seconds=60, owner="orchestrator", wait_seconds=30
        ):
            now, seen, planned = self.look()
            applied = self.applier.apply(planned, now=now)
        if self.metrics is not None:
            self.metrics.observe(seen, now=now, memory=self.sources.memory, bus=self.sources.bus)
            self.metrics.applied(applied)
        return Pass(now, seen, planned, applied)

    def serve(self, stop: threading.Event, *, on_pass: Callable[[Pass], None]) -> int:
        """Pass after pass until ``stop`` is set; returns how many passes ran."""
        interval = self.org.org.orchestrator.interval_seconds
        count = 0
        try:
            while not stop.is_set():
                try:
                    on_pass(self.once())
                    count += 1
                except Exception:  # a service away: the next pass tries again
                    log.exception("orchestrator: the pass failed; trying again in %d s", interval)
                stop.wait(interval)
        finally:
            if self.launcher is not None:
                self.launcher.stop_daemons()
        return count
