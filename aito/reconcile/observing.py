"""One reconcile pass's view of the organization: its heartbeats and the orchestrator's
own record (Redis), its containers (the runtime, by label), its open decisions and their
stored verdicts (the forge, Postgres), and what needs a human (escalated or critical
decisions waiting, open alert issues)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import Any

from aito.agent import executing
from aito.bus import models as bus_models
from aito.bus import worker_queue
from aito.bus.services import BusServices
from aito.decisions import sweeping
from aito.forge.base import Forge
from aito.memory.postgres import PostgresMemory
from aito.org import loading
from aito.org.agents import Layer
from aito.reconcile import observed as seen_
from aito.reconcile import steps
from aito.runtime import reaping, specs
from aito.runtime.base import Runtime
from aito.workflows import rendering


@dataclasses.dataclass
class Sources:
    """Where a pass looks (the orchestrator's wired services)."""

    bus: BusServices
    memory: PostgresMemory
    forge: Forge
    runtime: Runtime | None
    web_url: str | None = None
    """GitHub's web address (on GitHub): a notice about an agent links its runs."""


def looping_agents(org: loading.Organization) -> list[str]:
    return sorted(a.id for a in org.agents.values() if a.layer is not Layer.WORKER and a.loop)


def observe(org: loading.Organization, sources: Sources, *, now: dt.datetime) -> seen_.Observed:
    ids = looping_agents(org)
    state = sources.bus.orchestrator()
    statuses = sources.bus.statuses(ids)
    restarts = state.restarts(ids)
    errors = state.errors()
    generations = state.generations(ids)
    containers = _containers(org, sources.runtime, now=now)
    daemons = {c.agent for c in containers if c.kind == "daemon" and c.running}
    grace = org.org.orchestrator.heartbeat_grace_minutes
    agents = {}
    for agent_id in ids:
        schedule = org.schedule(agent_id)
        beat = statuses.get(agent_id, {}).get("last_heartbeat")
        # the slot whose wake-up should be over by now, its timeout and the grace past
        due = now - dt.timedelta(minutes=org.timeout_of(agent_id) + grace)
        agents[agent_id] = seen_.AgentSeen(
            agent_id,
            slot=schedule.last_slot(due, stagger_key=agent_id) if schedule else None,
            last_heartbeat=dt.datetime.fromisoformat(beat) if beat else None,
            daemon_running=agent_id in daemons,
            restarts=restarts.get(agent_id, ()),
            error_since=errors.get(agent_id),
            generation=generations.get(agent_id, 0),
        )
    asked, running = _worker_queue(org, sources, now=now)
    decisions, causes = _decisions(sources)
    causes += _alerts(sources.forge)
    notified = state.done(steps.notify_key(c.key) for c in causes)
    return seen_.Observed(
        agents=agents,
        containers=tuple(containers),
        decisions=tuple(decisions),
        worker_requests=tuple(asked),
        workers_dead=tuple(_dead_requests(sources, now=now)),
        workers_running=running,
        causes=tuple(causes),
        notified=frozenset(notified),
        agent_links=_agent_links(org, sources.web_url, ids),
        lead=state.lead(default=_of_type(org, "ceo") or "ceo"),
    )


def _agent_links(org: loading.Organization, web_url: str | None, ids: list[str]) -> dict[str, str]:
    if web_url is None:  # the local forge has no page to show
        return {}
    repo = org.org.governance_repo.repo
    return {
        agent_id: f"{web_url.rstrip('/')}/{repo}/actions/workflows/"
        f"{rendering.agent_workflow(agent_id)}"
        for agent_id in ids
    }


def _of_type(org: loading.Organization, kind: str) -> str | None:
    return next((a.id for a in org.agents.values() if a.type == kind), None)


def _containers(
    org: loading.Organization, runtime: Runtime | None, *, now: dt.datetime
) -> list[seen_.ContainerSeen]:
    if runtime is None:
        return []
    found = []
    for item in runtime.list({specs.ORG: specs.org_label(org)}):
        labels = item.labels
        deadline = labels.get(specs.DEADLINE)
        found.append(
            seen_.ContainerSeen(
                id=item.id,
                kind=labels.get(specs.KIND, ""),
                agent=labels.get(specs.AGENT, ""),
                run=labels.get(specs.RUN, ""),
                running=item.running,
                deadline=dt.datetime.fromisoformat(deadline) if deadline else None,
                parent=labels.get(specs.PARENT),
                launcher_alive=reaping.launcher_alive(labels.get(specs.LAUNCHER, "")),
            )
        )
    return found


def _worker_queue(
    org: loading.Organization, sources: Sources, *, now: dt.datetime
) -> tuple[list[seen_.WorkerAsked], dict[str, int]]:
    """The requests waiting for a worker (one that is not a valid request, or names no
    agent of the organization, has no parent: the plan expires it), and the workers
    running per requester. The one write of the observe step: claims that lapsed (their
    runner died) are returned to their queue first, so they are seen waiting."""
    queue = sources.bus.worker_queue()
    queue.requeue_expired(now)  # a lapsed claim's runner died: its request waits again
    kinds = [a.id for a in org.agents.values() if a.layer is Layer.WORKER]
    asked = [_asked(record, now) for record in queue.waiting(kinds)]
    running = Counter(
        request.requester
        for record in queue.running()
        if (request := worker_queue.spawn_request(record)) is not None
    )
    return asked, dict(running)


def _dead_requests(sources: Sources, *, now: dt.datetime) -> list[seen_.WorkerAsked]:
    return [_asked(record, now) for record in sources.bus.worker_queue().dead()]


def _asked(record: bus_models.TaskRecord, now: dt.datetime) -> seen_.WorkerAsked:
    """A queued request as the plan sees it (no parent: not a valid request)."""
    request = worker_queue.spawn_request(record)
    return seen_.WorkerAsked(
        record.task.task_id,
        request.requester if request is not None else "",
        record.task.agent,
        request.task if request is not None else "",
        record.enqueued_at or now,
        attempts=record.attempts,
    )


def _decisions(sources: Sources) -> tuple[list[seen_.DecisionSeen], list[seen_.Cause]]:
    numbers = sweeping.open_decisions(sources.forge)
    stored = sources.memory.verdicts(numbers)
    decisions: list[seen_.DecisionSeen] = []
    causes: list[seen_.Cause] = []
    for number in numbers:
        row = stored.get(number)
        if row is None:  # never tallied: the governance workflow tallies it on open
            continue
        verdict: dict[str, Any] = row["verdict"] or {}
        deadline = verdict.get("deadline")
        decision_id = str(row["decision_id"])
        decisions.append(
            seen_.DecisionSeen(
                decision_id,
                number,
                dt.datetime.fromisoformat(deadline) if deadline else None,
                row["tallied_at"],
            )
        )
        link = sources.forge.pull(number).url
        stage, tier = str(verdict.get("stage", "")), str(verdict.get("tier", ""))
        if stage == "escalated":
            causes.append(
                seen_.Cause(
                    f"escalated:{decision_id}",
                    f"Decision {decision_id} is deadlocked: a maintainer decides",
                    f"The voters did not agree within the rounds allowed. Review pull request "
                    f"#{number} and approve or request changes (or merge or close it).",
                    link,
                    "warning",
                )
            )
        elif tier == "critical" and str(verdict.get("status", "")) == "pending":
            causes.append(
                seen_.Cause(
                    f"critical:{decision_id}:{verdict.get('round', 1)}",
                    f"A critical decision waits: {decision_id}",
                    f"Pull request #{number} is a critical decision in round "
                    f"{verdict.get('round', 1)}; it needs the CEO's and the DAO's votes.",
                    link,
                    "critical",
                )
            )
    return decisions, causes


def _alerts(forge: Forge) -> list[seen_.Cause]:
    """Open issues that ask a human to act (a budget exhausted, a loop stopped, …)."""
    return [
        seen_.Cause(
            f"issue:{issue.number}",
            issue.title,
            "An agent asked for a human (see the issue).",
            issue.url,
            "warning",
        )
        for issue in forge.issues(state="open", labels=[executing.HUMAN_ACTION_LABEL])
    ]
