"""The plan: from (organization, observed, now) to the steps that bring the organization
back to what its files say. Pure: no I/O, no clock but ``now``, the same input gives the
same steps in the same order.

- **Containers**: one past its deadline or whose launcher is gone is reaped.
- **Health**: an agent whose due slot (the latest whose timeout and grace,
  `orchestrator.heartbeat_grace_minutes`, have passed) left no heartbeat, or whose daemon
  container is gone (`wake: daemon`), is down. It is restarted with a bounded backoff, at most
  `restart_budget.restarts` times per `window_minutes`; past that it is marked `error`
  and the humans are told, once. It is cleared when it is healthy again.
- **Lead**: while the CEO is in error the DAO holds the temporary lead; it goes back when
  the CEO is healthy. (Votes are never moved: the plan has no step that could.)
- **Deadlines**: a decision whose round deadline passed since it was last tallied is
  tallied.
- **Workers**: queued requests start in order, at most `max_workers` per parent running;
  one never started within its kind's timeout expires (one whose runner died is started
  again, to resume its worker's run); one its parent may not make expires at once.
- **Notifications**: every cause not notified yet is, once.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import Counter

from aito.org import loading
from aito.org.agents import Layer
from aito.reconcile import observed as seen_
from aito.reconcile import steps

_FIFO = operator.attrgetter("asked_at", "id")
"""Worker requests in the order they were asked (ties by id)."""
BACKOFF_CAP = dt.timedelta(minutes=15)
"""The longest wait between two restarts of one agent."""


def plan(org: loading.Organization, seen: seen_.Observed, now: dt.datetime) -> list[steps.Step]:
    found: list[steps.Step] = []
    found += _reaps(seen, now)
    health, in_error = _health(org, seen, now, found)
    found += _lead(org, seen, health, in_error)
    found += _tallies(seen, now)
    found += _workers(org, seen, now)
    return _notices(seen, found)


def _reaps(seen: seen_.Observed, now: dt.datetime) -> list[steps.Step]:
    found: list[steps.Step] = []
    for container in seen.containers:
        if not container.launcher_alive:  # its gateway went with it: a daemon's too
            found.append(steps.Reap(container.id, "its launcher is gone"))
        elif container.deadline is not None and container.deadline < now:
            found.append(steps.Reap(container.id, "past its deadline"))
    return found


def down(org: loading.Organization, agent: seen_.AgentSeen, now: dt.datetime) -> bool:
    """Whether the agent's due slot left no heartbeat (or, as a daemon, its container is
    gone)."""
    if org.org.orchestrator.wake == "daemon" and not agent.daemon_running:
        return True
    if agent.slot is None:
        return False
    return agent.last_heartbeat is None or agent.last_heartbeat < agent.slot


def _health(
    org: loading.Organization,
    seen: seen_.Observed,
    now: dt.datetime,
    found: list[steps.Step],
) -> tuple[dict[str, bool], set[str]]:
    """Restarts, errors and clears; returns who is healthy now and who is in error."""
    settings = org.org.orchestrator
    budget = settings.restart_budget
    window = dt.timedelta(minutes=budget.window_minutes)
    healthy: dict[str, bool] = {}
    in_error: set[str] = set()
    for spec in org.agents.values():
        if spec.layer is Layer.WORKER or spec.loop is None:
            continue
        agent = seen.agents.get(spec.id) or seen_.AgentSeen(spec.id)
        is_down = down(org, agent, now)
        healthy[spec.id] = not is_down
        if agent.error_since is not None:
            if not is_down:
                found.append(steps.ClearError(spec.id, agent.generation))
                continue
            in_error.add(spec.id)  # its notice again, if a crash came before it was sent
            link = seen.agent_links.get(spec.id)
            found.append(_down_notice(org, agent, agent.error_since, link=link))
            continue
        if not is_down:
            continue
        recent = [t for t in agent.restarts if t > now - window]
        if len(recent) < budget.restarts:
            wait = _backoff(settings.interval_seconds, len(recent))
            if not recent or now >= recent[-1] + wait:
                daemon = settings.wake == "daemon"
                attempt = len(agent.restarts) + 1
                found.append(steps.Restart(spec.id, attempt, daemon, agent.generation))
            continue
        since = recent[0] if recent else (agent.slot or now)
        found.append(steps.MarkError(spec.id, since, agent.generation))
        in_error.add(spec.id)
        found.append(_down_notice(org, agent, since, link=seen.agent_links.get(spec.id)))
    return healthy, in_error


def _down_notice(
    org: loading.Organization, agent: seen_.AgentSeen, since: dt.datetime, *, link: str | None
) -> steps.Notify:
    agent_id = agent.id
    spec = org.agents[agent_id]
    budget = org.org.orchestrator.restart_budget
    return steps.Notify(
        cause=f"agent-down:{agent_id}:g{agent.generation}:{since.isoformat()}",
        subject=f"{agent_id} is down and its restart budget is spent",
        body=f"{spec.name} ({agent_id}) missed its schedule and the orchestrator's restarts "
        f"({budget.restarts} within {budget.window_minutes} minutes, org.yaml "
        "`orchestrator.restart_budget`) did not bring it back: it is marked error until it "
        "is healthy again. `aito orchestrator status` shows what the orchestrator sees; "
        f"`aito agent runs --agent {agent_id}` its recent runs.",
        link=link,
        severity="critical",
    )


def _backoff(interval_seconds: int, done: int) -> dt.timedelta:
    if done == 0:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=interval_seconds * 2 ** (done - 1)), BACKOFF_CAP)


def _lead(
    org: loading.Organization,
    seen: seen_.Observed,
    healthy: dict[str, bool],
    in_error: set[str],
) -> list[steps.Step]:
    ceo = _of_type(org, "ceo")
    dao = _of_type(org, "dao")
    if ceo is None or dao is None:
        return []
    if seen.lead == ceo and ceo in in_error and dao not in in_error:
        return [steps.ChangeLead(dao, f"{ceo} is down past its restart budget")]
    if seen.lead == dao and ceo not in in_error and healthy.get(ceo, False):
        return [steps.ChangeLead(ceo, f"{ceo} is healthy again")]
    return []


def _of_type(org: loading.Organization, kind: str) -> str | None:
    return next((a.id for a in org.agents.values() if a.type == kind), None)


def _tallies(seen: seen_.Observed, now: dt.datetime) -> list[steps.Step]:
    return [
        steps.Tally(d.id, d.pr, d.deadline)
        for d in seen.decisions
        if d.deadline is not None
        and d.deadline <= now
        and (d.tallied_at is None or d.tallied_at < d.deadline)
    ]


def _workers(org: loading.Organization, seen: seen_.Observed, now: dt.datetime) -> list[steps.Step]:
    running = Counter(
        c.parent for c in seen.containers if c.kind == "worker" and c.running and c.parent
    )
    for requester, count in seen.workers_running.items():  # runs without containers too
        running[requester] = max(running[requester], count)
    deadlines: dict[str, dt.datetime] = {}  # per worker kind: asked before this, stale
    room: dict[str, int] = {}  # per parent: workers it may start now
    found: list[steps.Step] = []
    for asked in sorted(seen.worker_requests, key=_FIFO):
        parent = org.agents.get(asked.parent)
        if parent is None or asked.kind not in parent.workers:
            found.append(steps.ExpireWorker(asked.id, asked.parent))
            continue
        stale = deadlines.get(asked.kind)
        if stale is None:
            stale = deadlines[asked.kind] = now - dt.timedelta(minutes=org.timeout_of(asked.kind))
        if asked.attempts == 0 and asked.asked_at < stale:  # one started once is resumed
            found.append(steps.ExpireWorker(asked.id, asked.parent, org.timeout_of(asked.kind)))
            continue
        left = room.get(asked.parent)
        if left is None:
            left = org.max_workers_of(asked.parent) - running[asked.parent]
        if left > 0:
            found.append(
                steps.SpawnWorker(
                    asked.id,
                    asked.parent,
                    asked.kind,
                    attempt=asked.attempts + 1,
                    claim_seconds=org.claim_seconds_of(asked.kind),
                )
            )
        room[asked.parent] = left - 1
    found += [steps.ReportDeadWorker(dead.id, dead.parent) for dead in seen.workers_dead]
    return found


def _notices(seen: seen_.Observed, planned: list[steps.Step]) -> list[steps.Step]:
    """Every planned or observed cause not notified yet (each once)."""
    keys = set(seen.notified)
    found: list[steps.Step] = []
    for step in planned:
        if type(step) is steps.Notify:
            if step.key in keys:
                continue
            keys.add(step.key)
        found.append(step)
    for cause in seen.causes:
        key = steps.notify_key(cause.key)
        if key not in keys:
            keys.add(key)
            found.append(
                steps.Notify(cause.key, cause.subject, cause.body, cause.link, cause.severity)
            )
    return found
