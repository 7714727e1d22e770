"""Apply a plan: each step once, by its key.

A step is skipped when its key was recorded; its key is recorded only after it was
carried out. An orchestrator killed between the two carries the step out again next
pass, and every effect is safe to repeat: a restart's wake-up is named after its attempt
(a run id runs once), a tally of a decision already tallied applies nothing new, a
container already removed is not an error, a lead already set is set again. A
notification cannot be taken back, so it is claimed first (once, ever) and then sent: an
orchestrator killed between the two loses that one notice rather than sending it twice
(the `orchestrator.notifying` event shows it was being sent).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence

from aito.bus import keys
from aito.decisions import recording, sweeping
from aito.errors import ConfigError
from aito.reconcile import steps, working
from aito.reconcile.observing import Sources

log = logging.getLogger(__name__)

Wake = Callable[[str, str], None]
"""Wake an agent (id, run id): a wake-up named after the restart."""
Send = Callable[[steps.Notify], None]
"""Tell the humans (every configured channel)."""


@dataclasses.dataclass(frozen=True)
class Applied:
    step: steps.Step
    error: str | None = None


@dataclasses.dataclass
class Applier:
    sources: Sources
    wake: Wake
    send: Send
    start_daemon: Callable[[str], object] | None = None
    """`wake: daemon`: (re)start the agent's daemon container (the launcher's)."""
    workers: working.QueuedWorkers | None = None
    """Runs queued worker requests (:mod:`aito.reconcile.working`)."""

    def pending(self, planned: Sequence[steps.Step]) -> list[steps.Step]:
        """The planned steps not applied yet."""
        done = self.sources.bus.orchestrator().done(s.key for s in planned)
        return [s for s in planned if s.key not in done]

    def apply(self, planned: Sequence[steps.Step], *, now: dt.datetime) -> list[Applied]:
        state = self.sources.bus.orchestrator()
        results = []
        for step in self.pending(planned):
            try:
                self._one(step, now=now)
            except Exception as exc:  # one step failing never stops the others
                log.exception("orchestrator: %s failed", step.key)
                results.append(Applied(step, f"{type(exc).__name__}: {exc}"))
                continue
            state.mark_done(step.key, at=now)
            results.append(Applied(step))
        return results

    def _one(self, step: steps.Step, *, now: dt.datetime) -> None:
        sources = self.sources
        state = sources.bus.orchestrator()
        memory = sources.memory
        if isinstance(step, steps.Restart):
            if step.daemon and self.start_daemon is None:
                raise ConfigError(
                    "org.yaml `orchestrator.wake: daemon` keeps daemon containers: run the "
                    "orchestrator with AITO_RUNTIME=docker"
                )
            state.add_restart(step.agent, at=now, attempt=step.attempt)
            if step.daemon and self.start_daemon is not None:
                self.start_daemon(step.agent)
            else:
                self.wake(step.agent, f"{step.agent}:restart:{now:%Y%m%d}-{step.attempt}")
            self._event("agent.restarted", step.agent, {"attempt": step.attempt})
        elif isinstance(step, steps.MarkError):
            state.set_error(step.agent, since=step.since)
            self._event("agent.error", step.agent, {"since": step.since.isoformat()})
        elif isinstance(step, steps.ClearError):
            state.clear_error(step.agent, generation=step.generation)
            self._event("agent.recovered", step.agent, {})
        elif isinstance(step, steps.ChangeLead):
            state.set_lead(step.to)
            self._event("orchestrator.lead_changed", step.to, {"reason": step.reason})
        elif isinstance(step, steps.Tally):
            swept = sweeping.tally_open(
                sources.forge,
                now=now,
                numbers=[step.pr],
                recorder=recording.ServicesRecorder(memory=memory, bus=sources.bus),
                lock=lambda decision_id: sources.bus.lock(keys.decision_lock(decision_id)),
            )
            if swept.problems:
                raise swept.problems[0].error
        elif isinstance(step, steps.Reap):
            if sources.runtime is not None:
                sources.runtime.stop(step.container)
        elif isinstance(step, steps.Notify):
            if not state.claim(step.key, at=now):
                return  # claimed by an earlier pass that died sending it: never twice
            facts: dict[str, object] = {"cause": step.cause, "subject": step.subject}
            self._event("orchestrator.notifying", None, facts)
            try:
                self.send(step)
            except Exception:
                state.release(step.key)  # a channel that failed: tried again next pass
                raise
            self._event("orchestrator.notified", None, facts)
        elif isinstance(step, steps.SpawnWorker):
            if self.workers is None:
                raise ConfigError("this orchestrator runs no workers (no worker runtime)")
            self.workers.start(step)
        elif isinstance(step, steps.ReportDeadWorker):
            if self.workers is None:
                raise ConfigError("this orchestrator runs no workers (no worker runtime)")
            self.workers.report_dead(step)
            self._event("worker.dead", step.parent or None, {"request": step.request})
        elif isinstance(step, steps.ExpireWorker):
            if self.workers is None:
                raise ConfigError("this orchestrator runs no workers (no worker runtime)")
            if self.workers.expire(step, minutes=step.minutes):
                self._event("worker.expired", step.parent or None, {"request": step.request})

    def _event(self, kind: str, agent: str | None, payload: dict[str, object]) -> None:
        self.sources.memory.append_event(event_type=kind, payload=dict(payload), target_agent=agent)
