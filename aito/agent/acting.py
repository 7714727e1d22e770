"""Acting: each action of the plan checked, deduplicated and executed once, in order.

An action's row is marked ``started`` before it touches the world and settled
(``executed``, ``refused``, ``failed``) after; its history entries are written before
it is marked executed, with ids made from the run and the position, so a crash at any
point leaves them written exactly once. A resumed plan skips settled actions but
knows again what they made (a task created earlier in the plan) and counts them
against the caps, so every later action is checked as in the original run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aito.agent import actions, checking, context, delegating, executing, runs
from aito.agent.runs import ActionReport, Wake
from aito.errors import AdapterError
from aito.memory.base import HistoryEntry

log = logging.getLogger(__name__)

RunWorker = Callable[[str, str, executing.WorkerRequest], runs.RunOutcome]
"""Runs a worker kind's wake-up (kind, run id, request) to its outcome."""


def act(
    wake: Wake,
    seen: context.Context,
    planned: list[actions.ActionModel],
    *,
    caps: checking.Caps,
    workers: executing.WorkerRunner,
) -> executing.Executor:
    """Carry out ``planned`` (checked against ``seen``, the context it was made from)."""
    ports, outcome = wake.ports, wake.outcome
    executor = executing.Executor(
        ports=ports, org=wake.org, context=seen, workers=workers, tools=wake.tools
    )
    counts = checking.RunCounts()
    done = ports.memory.actions_of(wake.run_id)
    for position, action in enumerate(planned):
        data = action.model_dump(mode="json")
        kind = str(data["type"])
        if isinstance(action, actions.RunSummary):
            outcome.summary = action.text
        row = done.get(position)
        if row is not None and row["status"] != "started":
            outcome.actions.append(
                ActionReport(position, kind, row["status"], row["ref"], row["reason"])
            )
            if row["status"] == "executed":
                _count(counts, action)
                executor.restore(position, action, ref=row["ref"])
            continue
        wake.check()
        reason = checking.check(
            action, context=executor.seen(), org=wake.org, counts=counts, caps=caps
        )
        if reason is None and row is None:
            reason = executor.duplicate(action)
        digest = executing.content_hash(action.content_key())

        def mark(status: str, reason: str | None = None, ref: str | None = None) -> None:
            ports.memory.mark_action(
                run_id=wake.run_id,
                position=position,  # noqa: B023 - used at once, inside this iteration
                agent_id=wake.agent_id,
                action=data,  # noqa: B023
                content_hash=digest,  # noqa: B023
                status=status,
                reason=reason,
                ref=ref,
                at=ports.clock(),
            )

        result = executing.Result("refused", reason=reason)
        if reason is None:
            mark("started")
            result = executor.execute(position, action)
            _write(wake, executor.take_history())
        mark(result.status, result.reason, result.ref)
        if result.status == "executed":
            _count(counts, action)
        else:  # refused or failed: the agent sees why next time
            ports.memory.add_outcome(
                agent_id=wake.agent_id,
                kind=result.status,
                summary=f"{kind} {result.status}: {result.reason}",
                ref=kind,
                dedupe_key=f"{result.status}:{wake.run_id}:{position}",
                at=ports.clock(),
                details={"action": data},
            )
        outcome.actions.append(
            ActionReport(position, kind, result.status, result.ref, result.reason)
        )
    if outcome.summary:
        refused = sum(a.status == "refused" for a in outcome.actions)
        executor.slot = "summary"
        executor.remember(
            "run_summary",
            outcome.summary + (f" ({refused} action(s) refused)" if refused else ""),
            {"trigger": outcome.trigger, "actions": len(outcome.actions)},
        )
        _write(wake, executor.take_history())
    _embed(wake)
    return executor


def worker_runner(run: RunWorker, outcome: runs.RunOutcome) -> executing.WorkerRunner:
    """Spawned workers run to completion, as their own wake-ups (named after the request)."""

    def run_worker(request: executing.WorkerRequest) -> str:
        result = run(request.kind, delegating.worker_run_id(request), request)
        outcome.workers.append(result)
        return delegating.report_of(result)

    return run_worker


def _count(counts: checking.RunCounts, action: actions.ActionModel) -> None:
    counts.by_type[str(action.model_dump()["type"])] += 1
    if isinstance(action, actions.UpdateTask) and action.status.value == "in_progress":
        counts.started_tasks += 1
    if isinstance(action, actions.CompleteTask):
        counts.finished_tasks += 1


def _write(wake: Wake, entries: list[HistoryEntry]) -> None:
    """History now, without embeddings (an entry already written is skipped)."""
    if entries:
        wake.ports.memory.write_history(entries, embeddings=[None] * len(entries), model=None)


def _embed(wake: Wake) -> None:
    """Embed the run's history in one call (rows of a crashed attempt included); if the
    embedder is away, the rows stay without vectors for `aito.memory.writing.backfill`."""
    embedder = wake.ports.embedder
    if embedder is None:
        return
    missing = wake.ports.memory.run_unembedded(wake.run_id)
    if not missing:
        return
    try:
        vectors = embedder.embed([summary for _, summary in missing])
    except (AdapterError, OSError, RuntimeError, ValueError) as exc:
        log.warning(
            "%s: embedding the run's history failed (%s); left to backfill", wake.run_id, exc
        )
        return
    wake.ports.memory.set_embeddings(
        [(row_id, vector) for (row_id, _), vector in zip(missing, vectors, strict=True)],
        model=embedder.model,
    )
