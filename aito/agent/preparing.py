"""Before a wake-up thinks: what came due, what came back, and what a crash left.

Scheduled events whose time has come become tasks (committed, and added to the
organization the run already read rather than read again); pull requests and
decisions the agent opened that were merged, closed or decided become outcomes it
is shown; an unfinished run's saved exchanges and plan are read back for resuming.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from aito.agent import actions, context, effects
from aito.agent.ports import LoopPorts
from aito.decisions import proposing
from aito.errors import AitoError
from aito.forge.base import PullState
from aito.llm.base import Exchange
from aito.org import loading
from aito.org.records import Task


def materialize_due_events(
    ports: LoopPorts, org: loading.Organization, agent_id: str
) -> loading.Organization:
    """Scheduled events for this agent whose time has come become tasks; returns the
    organization with them."""
    now = ports.clock()
    made: dict[str, Task] = {}
    for item in ports.memory.items(kind="schedule"):
        details = item["details"]
        if details.get("assigned_to") != agent_id or dt.datetime.fromisoformat(details["at"]) > now:
            continue
        at = dt.datetime.fromisoformat(details["at"])
        slug = effects.slug(item["title"], limit=30)
        task_id = f"{at:%Y%m%d}-{slug}-{effects.content_hash(item['ref'])[:6]}"
        if task_id not in org.tasks:
            task = Task(
                id=task_id,
                title=item["title"],
                description=details.get("description", ""),
                assigned_to=agent_id,
                created_by=item["agent_id"],
                priority=3,
                due_date=at,
                created_at=now,
            )
            # Written by the woken agent's own bot (on GitHub its job holds its own token
            # only); who scheduled it is the record's created_by.
            author_id = agent_id if agent_id in org.org.bots else "ceo"
            effects.write_task(
                ports.governance,
                org,
                task,
                author=proposing.identity_for(org, author_id),
                message=f"Task {task_id}: scheduled {item['title']}",
            )
            made[task_id] = task
        ports.memory.close_item(kind="schedule", ref=item["ref"], at=now)
    return with_tasks(org, made) if made else org


def with_tasks(org: loading.Organization, tasks: dict[str, Task]) -> loading.Organization:
    """``org`` as it is once ``tasks`` are written (the shared, loaded object is not changed)."""
    return dataclasses.replace(org, tasks={**org.tasks, **tasks})


def refresh_outcomes(ports: LoopPorts, agent_id: str) -> None:
    """Pull requests the agent opened that were merged or closed since, and its decisions
    that were decided: outcomes for it."""
    now = ports.clock()
    for item in ports.memory.items(kind="pr", agent_id=agent_id):
        repo_key, _, number = str(item["ref"]).rpartition("#")
        try:
            pull = ports.repo_forge(repo_key).pull(int(number))
        except (AitoError, ValueError):
            continue
        if pull.state is PullState.OPEN:
            continue
        verb = "merged" if pull.state is PullState.MERGED else "closed without merging"
        ports.memory.add_outcome(
            agent_id=agent_id,
            kind=f"pr_{pull.state.value}",
            summary=f"PR {item['ref']} ({item['title']}) was {verb}",
            ref=str(item["ref"]),
            dedupe_key=f"pr:{item['ref']}:{pull.state.value}",
            at=now,
        )
        ports.memory.close_item(kind="pr", ref=str(item["ref"]), at=now)
    for item in ports.memory.items(kind="decision", agent_id=agent_id):
        decision = ports.memory.decision(str(item["ref"]))
        if decision is None or decision.get("status") in (None, "pending", "escalated"):
            continue
        ports.memory.add_outcome(
            agent_id=agent_id,
            kind="decision_outcome",
            summary=f"your decision {item['ref']} ({item['title']}) was {decision['status']}",
            ref=str(item["ref"]),
            dedupe_key=f"decision:{item['ref']}:{decision['status']}",
            at=now,
        )
        ports.memory.close_item(kind="decision", ref=str(item["ref"]), at=now)


def worker_view(
    seen: context.Context, org: loading.Organization, request: effects.WorkerRequest
) -> context.Context:
    """A worker sees the one task it was spawned for and its instructions."""
    task = org.tasks.get(request.task)
    tasks = [context.task_view(task)] if task is not None else []
    note = context.InboxItem(
        id=f"spawn:{request.requester_run}#{request.position}",
        type="task",
        sender=request.requester,
        to=request.kind,
        subject=f"Work on task {request.task}",
        body=request.instructions,
        payload={"task": request.task},
        correlation_id=None,
        requires_response=False,
        deadline=None,
        sent_at=seen.now,
    )
    return seen.model_copy(update={"tasks": tasks, "inbox": [note], "decisions": []})


@dataclasses.dataclass(frozen=True)
class Saved:
    """What an unfinished run saved: the context it was shown, the model exchanges so
    far, and the validated plan once there was one."""

    seen: context.Context
    exchanges: list[Exchange]
    planned: list[actions.ActionModel] | None


class UnreadableRun(AitoError):
    """What an unfinished run saved cannot be read back (a damaged row, or one saved by a
    version of AITO whose formats differ): it cannot be resumed, only settled as failed."""


def saved_run(existing: dict[str, Any] | None) -> Saved | None:
    """The saved state of an unfinished run, or None if it had not asked the model yet
    (:class:`UnreadableRun` if it cannot be read back)."""
    if existing is None or not existing.get("exchanges"):
        return None
    try:
        exchanges = [Exchange.model_validate(e) for e in existing["exchanges"]]
        seen = context.Context.model_validate(exchanges[0].request.context)
        planned = None
        if existing.get("actions") is not None:
            planned = actions.parse(
                [
                    (str(a["type"]), {k: v for k, v in a.items() if k != "type"})
                    for a in existing["actions"]
                ]
            )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # pydantic's included
        raise UnreadableRun(
            f"what run {existing.get('run_id')} saved cannot be read back "
            f"({type(exc).__name__}); it is settled as failed, not resumed"
        ) from exc
    return Saved(seen, exchanges, planned)
