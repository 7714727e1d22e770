"""Every action is checked in code against the agent's definition before it runs.

Pure: the action, the agent's context (what it was shown), the organization and
what this run already did go in; a refusal reason (or None) comes out. Nothing the
model wrote (titles, bodies, PR texts it read) can widen what is allowed: repos and
paths come from `org/agents/<id>.yaml`, voters from the governance engine's reading
of the decision, targets and worker kinds from the organization. Paths are matched
with gitignore semantics (:mod:`aito.org.paths`), and the protected automation paths
(workflows, CODEOWNERS, CI files; `org/` and `profiles/` in the governance repo) are
refused to `open_pr` whatever the agent's path filters say.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections.abc import Collection

from aito.agent import actions, world_writing
from aito.agent.context import Context
from aito.org import loading, paths
from aito.org.agents import Layer, Permission
from aito.org.messages import GROUP_TARGETS
from aito.org.records import TaskStatus

INTERNAL_STATE_PREFIX = "aito."
"""State keys the loop keeps for itself (cooldowns, counters); agents cannot write them."""


@dataclasses.dataclass(frozen=True)
class Caps:
    """Per-run limits; the defaults keep one wake-up small and reviewable."""

    open_pr: int = 3
    propose_decision: int = 2
    create_task: int = 5
    send_message: int = 12
    request_human_action: int = 2
    spawn_worker: int = 3
    propose_initiative: int = 1
    alert: int = 3
    mcp_write: int = 3
    tasks_in_progress: int = 2
    schedule_days: int = 30

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class RunCounts:
    """What this run has done so far (executed actions only)."""

    by_type: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    started_tasks: int = 0
    finished_tasks: int = 0


def check(
    action: actions.ActionModel,
    *,
    context: Context,
    org: loading.Organization,
    counts: RunCounts,
    caps: Caps,
) -> str | None:
    """Why ``action`` is refused, or None when it may run."""
    agent_id = context.agent.id
    spec = org.agents[agent_id]
    kind = str(action.model_dump()["type"])
    refused = layer_refusal(org, agent_id, kind)
    if refused is not None:
        return refused
    cap = getattr(caps, kind, None)
    if isinstance(cap, int) and counts.by_type[kind] >= cap:
        return f"cap reached: at most {cap} {kind} action(s) per run"
    cited = getattr(action, "cites", [])
    known = {fact.id for fact in context.facts}
    unknown = [c for c in cited if c not in known]
    if unknown:
        return (
            f"cites unknown fact(s) {', '.join(unknown)}; cite only the verified facts "
            f"you were given ({', '.join(sorted(known))})"
        )
    match action:
        case actions.OpenPr():
            return _open_pr(action, org=org, agent_id=agent_id)
        case actions.ProposeDecision():
            if spec.layer is Layer.WORKER:
                return "workers cannot propose decisions; report to the agent that spawned you"
            bad = [
                p
                for p in action.files
                if p.startswith("org/decisions/") or paths.unsafe_reason(p) is not None
            ]
            return f"files not allowed in a decision: {_listed(bad)}" if bad else None
        case actions.CastVote():
            return _vote(action, context=context)
        case actions.CreateTask():
            return create_task_refusal(action, org=org, agent_id=agent_id)
        case actions.UpdateTask():
            return _update_task(action, context=context, counts=counts, caps=caps)
        case actions.CompleteTask():
            return completion_refusal(action.task, mine={t.id for t in context.tasks})
        case actions.SendMessage():
            return _message(action, context=context, org=org, agent_id=agent_id)
        case actions.SpawnWorker():
            if action.kind not in spec.workers:
                allowed = ", ".join(spec.workers) or "none"
                return f"you may not spawn worker kind {action.kind!r} (yours: {allowed})"
            if action.task not in {t.id for t in context.tasks + context.delegated}:
                return f"task {action.task!r} is not one of your open or delegated tasks"
            return None
        case actions.ScheduleEvent():
            return _schedule(action, context=context, org=org, agent_id=agent_id, caps=caps)
        case actions.UpdateState():
            if action.key.startswith(INTERNAL_STATE_PREFIX):
                return f"state keys starting with {INTERNAL_STATE_PREFIX!r} are kept by AITO itself"
            return None
        case actions.ProposeInitiative():
            if spec.layer is Layer.WORKER:
                return "workers cannot propose initiatives"
            return None
        case actions.McpWrite():
            return world_writing.refusal(action, org=org, agent_id=agent_id)
        case _:
            return None


def layer_refusal(org: loading.Organization, agent_id: str, kind: str) -> str | None:
    """Workers may take only :data:`actions.WORKER_ACTIONS`."""
    if org.agents[agent_id].layer is Layer.WORKER and kind not in actions.WORKER_ACTIONS:
        allowed = ", ".join(sorted(actions.WORKER_ACTIONS))
        return f"workers may only {allowed}; {kind} is for the agent that spawned you"
    return None


def may_assign(org: loading.Organization, agent_id: str, assignee: str) -> bool:
    """Yourself, agents you manage, and (head agents) any agent of the organization."""
    spec = org.agents[agent_id]
    if assignee not in org.agents:
        return False
    return assignee == agent_id or assignee in spec.manages or spec.layer is Layer.HEAD


def _open_pr(action: actions.OpenPr, *, org: loading.Organization, agent_id: str) -> str | None:
    spec = org.agents[agent_id]
    if (
        Permission.WRITE not in spec.git.permissions
        and Permission.ADMIN not in spec.git.permissions
    ):
        return "your git permissions are read-only; propose a decision instead"
    repo_key = action.repo or spec.git.repo
    if repo_key == "*" or repo_key not in org.org.repos:
        return f"repo {repo_key!r} is not a repos key of org.yaml; name one of your repos"
    allowed = org.repos_of(agent_id)
    if org.org.repos[repo_key] not in allowed:
        return f"repo {repo_key!r} is outside your git access ({', '.join(allowed) or 'none'})"
    unsafe = [p for p in action.files if paths.unsafe_reason(p) is not None]
    if unsafe:
        why = paths.unsafe_reason(sorted(unsafe)[0])
        return (
            f"path(s) outside your path filters {spec.git.paths}: {_listed(unsafe)} "
            f"(not a plain path inside the repo: it {why})"
        )
    # GitHub repository names ignore case: `Org/Governance` is the governance repo too.
    governance = org.org.repos[repo_key].lower() == org.org.governance_repo.repo.lower()
    for path in sorted(action.files):
        protected = paths.protected_reason(path, governance=governance)
        if protected is not None:
            return (
                f"{_listed([path])}: {protected}; no agent writes it with open_pr, whatever "
                "its path filters: propose a critical decision instead"
            )
    outside = [p for p in action.files if not path_allowed(p, spec.git.paths)]
    if outside:
        return f"path(s) outside your path filters {spec.git.paths}: {_listed(outside)}"
    return None


def _vote(action: actions.CastVote, *, context: Context) -> str | None:
    found = {d.id: d for d in context.decisions}
    decision = found.get(action.decision)
    if decision is None:
        return f"{action.decision!r} is not an open decision"
    if decision.my_role is None:
        return (
            f"{action.decision} does not await you in round {decision.round} ({decision.stage}); "
            f"it awaits: {', '.join(decision.missing) or 'nobody'}"
        )
    if decision.my_role == "analysis" and action.vote is not actions.VoteChoice.ANALYSIS:
        return f"round {decision.round} of {action.decision} asks advisors for analysis, not votes"
    if decision.my_role == "vote" and action.vote is actions.VoteChoice.ANALYSIS:
        return f"{action.decision} asks you for a vote (approve, veto or abstain)"
    return None


def create_task_refusal(
    action: actions.CreateTask, *, org: loading.Organization, agent_id: str
) -> str | None:
    """Why ``agent_id`` may not create this task (the run-time check, and the governance
    tally's check of a task record's pull request, :mod:`aito.agent.task_settling`)."""
    if not may_assign(org, agent_id, action.assigned_to):
        return (
            f"you may assign tasks to yourself and to agents you manage "
            f"({', '.join(org.agents[agent_id].manages) or 'none'}), not {action.assigned_to!r}"
        )
    if action.decision is not None and action.decision not in org.decisions:
        return f"decision {action.decision!r} is not a recorded decision"
    return None


def _update_task(
    action: actions.UpdateTask, *, context: Context, counts: RunCounts, caps: Caps
) -> str | None:
    mine = {t.id: t for t in context.tasks}
    delegated = {t.id: t for t in context.delegated}
    refused = update_refusal(action.task, action.status, mine=mine, delegated=delegated)
    if refused is not None:
        return refused
    task = mine.get(action.task) or delegated[action.task]
    if action.status is TaskStatus.IN_PROGRESS:
        in_progress = sum(t.status == TaskStatus.IN_PROGRESS for t in context.tasks)
        in_progress += counts.started_tasks - counts.finished_tasks
        if task.status != TaskStatus.IN_PROGRESS and in_progress >= caps.tasks_in_progress:
            return (
                f"finish before you start: {in_progress} task(s) already in progress "
                f"(at most {caps.tasks_in_progress})"
            )
    return None


def update_refusal(
    task_id: str, status: TaskStatus, *, mine: Collection[str], delegated: Collection[str]
) -> str | None:
    """Who may set an open task's status: its assignee (``mine``: the open tasks assigned
    to the agent) or its creator (``delegated``: the open tasks it created for others);
    only the assignee starts it. Shared by the run-time check and the governance tally's
    check of a task record's pull request (:mod:`aito.agent.task_settling`)."""
    if task_id not in mine and task_id not in delegated:
        return f"task {task_id!r} is neither assigned to you nor delegated by you"
    if status is TaskStatus.IN_PROGRESS and task_id not in mine:
        return "only the assignee starts a task"
    return None


def completion_refusal(task_id: str, *, mine: Collection[str]) -> str | None:
    """Only the assignee completes an open task (``mine``: those assigned to the agent)."""
    if task_id not in mine:
        return f"task {task_id!r} is not an open task assigned to you"
    return None


def _message(
    action: actions.SendMessage, *, context: Context, org: loading.Organization, agent_id: str
) -> str | None:
    spec = org.agents[agent_id]
    if action.to == agent_id:
        return "you cannot message yourself; use update_state to remember something"
    if action.to in GROUP_TARGETS:
        if spec.layer is Layer.WORKER:
            return "workers message the agent they work for, not groups"
        if action.to == "all" and spec.layer is not Layer.HEAD:
            return "only the head agents broadcast to `all`; use `clevel` or `head`"
    elif action.to not in org.agents:
        return f"no agent {action.to!r}"
    elif spec.layer is Layer.WORKER and action.to not in (spec.reports_to, "ceo"):
        return f"workers message their manager ({spec.reports_to}), not {action.to!r}"
    if action.kind is actions.MessageKind.STATUS_RESPONSE:
        asked = {m.id: m for m in context.inbox if m.type == "status_request"}
        request = asked.get(action.correlation_id or "")
        if request is None:
            return "a status_response must answer a status_request in your inbox (correlation_id)"
        if request.sender != action.to:
            return f"answer {request.id} to its sender {request.sender!r}"
    if action.kind is actions.MessageKind.STATUS_REQUEST and spec.layer is Layer.WORKER:
        return "workers do not request status"
    if action.kind is actions.MessageKind.BROADCAST and action.to not in GROUP_TARGETS:
        return "a broadcast goes to `all`, `head` or `clevel`"
    return None


def _schedule(
    action: actions.ScheduleEvent,
    *,
    context: Context,
    org: loading.Organization,
    agent_id: str,
    caps: Caps,
) -> str | None:
    if action.at <= context.now:
        return f"{action.at.isoformat()} is not in the future"
    if action.at > context.now + dt.timedelta(days=caps.schedule_days):
        return f"schedule at most {caps.schedule_days} days ahead"
    if action.assigned_to and not may_assign(org, agent_id, action.assigned_to):
        return f"you may not schedule work for {action.assigned_to!r}"
    return None


def path_allowed(path: str, patterns: list[str]) -> bool:
    """True if ``patterns`` (gitignore semantics, see :mod:`aito.org.paths`) cover ``path``."""
    return paths.matches(path, patterns)


def _listed(items: list[str], limit: int = 5) -> str:
    # Paths come from the model: show a few, each cut short.
    shown = [p if len(p) <= 120 else p[:119] + "…" for p in sorted(items)[:limit]]
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(shown) + more
