"""What carrying out actions is made of: results, names, and the executor's state.

:class:`Effects` holds one run's state while its actions execute (tasks it created
or rewrote, the title vectors it made, what to remember) and the helpers every
action uses: the acting identity, messages with derived ids, issues found again by a
marker, task records committed through the governance forge. The actions themselves
are in :mod:`aito.agent.changing` and :mod:`aito.agent.telling`, the dispatch and the
dedup gate in :mod:`aito.agent.executing`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from aito.agent import actions
from aito.agent.context import Context, TaskView
from aito.agent.ports import LoopPorts, Tools
from aito.bus import base as bus_base
from aito.decisions import proposing, reading
from aito.errors import GovernanceError
from aito.forge.base import Forge, GovernanceOnly, Identity, MergeConflict, PullState
from aito.memory.base import HistoryEntry
from aito.org import loading
from aito.org.messages import AgentMessage, MessageType, Priority
from aito.org.records import Task, TaskStatus

HUMAN_ACTION_LABEL = "human-action-required"
ALERT_LABEL = "aito/alert"
TASKS_PREFIX = "org/tasks/"


@dataclasses.dataclass(frozen=True)
class Result:
    status: str  # executed, refused, failed
    ref: str | None = None
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class WorkerRequest:
    requester: str
    requester_run: str
    position: int
    kind: str
    task: str
    instructions: str


WorkerRunner = Callable[[WorkerRequest], str]
"""Runs a worker to completion in-process; returns what it reported."""


def content_hash(*parts: str) -> str:
    normalised = "\n".join(" ".join(p.lower().split()) for p in parts)
    return hashlib.sha256(normalised.encode()).hexdigest()[:32]


def slug(text: str, *, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "item"


class Effects:
    """One run's state while its actions execute, and the helpers they share."""

    def __init__(
        self,
        *,
        ports: LoopPorts,
        org: loading.Organization,
        context: Context,
        workers: WorkerRunner | None,
        tools: Tools | None = None,
    ) -> None:
        self.ports = ports
        self.tools = tools
        """The run's MCP servers, open (a write is made through them)."""
        self.org = org
        self.context = context
        self.agent_id = context.agent.id
        self.run_id = context.run_id
        self.workers = workers
        self.slot = "0"
        """The position of the action being carried out (names its history entries)."""
        self.history: list[HistoryEntry] = []
        self.created_tasks: dict[str, TaskView] = {}
        self.written_tasks: dict[str, Task] = {}
        self._vectors: dict[str, list[float]] = {}
        self.outbox = ports.bus.outbox(groups=org.groups(), clock=ports.clock)
        self.identity = (
            proposing.identity_for(org, self.agent_id) if self.agent_id in org.org.bots else None
        )

    def author(self) -> Identity:
        if self.identity is None:
            return proposing.identity_for(self.org, account_of(self.org, self.agent_id))
        return self.identity

    def send(
        self,
        position: int,
        *,
        to: str,
        type: MessageType,
        payload: Mapping[str, Any],
        correlation_id: str | None = None,
        deadline: dt.datetime | None = None,
        priority: Priority = Priority.NORMAL,
        suffix: str = "",
    ) -> str:
        message_id = (
            bus_base.derived_id(self.run_id, str(position), suffix)
            if suffix
            else bus_base.derived_id(self.run_id, str(position))
        )
        message = AgentMessage.model_validate(
            {
                "id": message_id,
                "type": type,
                "from": self.agent_id,
                "to": to,
                "payload": dict(payload),
                "priority": priority,
                "timestamp": self.ports.clock(),
                "requires_response": deadline is not None,
                "response_deadline": deadline,
                "correlation_id": correlation_id,
            }
        )
        self.outbox.send(message)  # wakes the recipients (the bus's waker)
        self.ports.memory.append_event(
            event_type="bus.sent",
            payload={"id": message.id, "type": type.value, "to": to},
            source_agent=self.agent_id,
            run_id=self.run_id,
        )
        return message_id

    def issue(self, title: str, body: str, *, labels: list[str]) -> int:
        forge = self.ports.governance
        marker = f"<!-- aito:{self.run_id}:{content_hash(title)} -->"
        for issue in forge.issues(state=None, labels=labels):
            if marker in issue.body:
                return issue.number
        mentions = " ".join(f"@{m.login}" for m in self.org.org.maintainers)
        issue = forge.open_issue(
            title=title,
            body=f"{body}\n\n---\nFrom `{self.agent_id}` (run `{self.run_id}`). "
            f"{mentions}\n{marker}",
            labels=labels,
            author=self.author(),
        )
        # The audit log's record of it: the dashboard's inbox lists it for the maintainers.
        self.ports.memory.append_event(
            event_type="agent.human_action",
            payload={"issue": issue.number, "title": title[:300], "url": issue.url},
            source_agent=self.agent_id,
            run_id=self.run_id,
        )
        return issue.number

    def task(self, task_id: str) -> Task:
        if task_id in self.written_tasks:
            return self.written_tasks[task_id]
        if task_id in self.org.tasks:
            return self.org.tasks[task_id]
        view = self.created_tasks[task_id]
        return Task(
            id=view.id,
            title=view.title,
            description=view.description,
            assigned_to=view.assigned_to,
            created_by=view.created_by,
            priority=view.priority,
            due_date=view.due,
            decision=view.decision,
        )

    def task_id(self, title: str, *, now: dt.datetime, position: int) -> str:
        stem = f"{now:%Y%m%d}-{slug(title, limit=36)}"
        for task in self.org.tasks.values():
            if (
                task.id.startswith(stem)
                and task.title == title
                and task.created_by == self.agent_id
            ):
                return task.id  # a resumed run finds the task it wrote
        candidate, counter = stem, 2
        while candidate in self.org.tasks or candidate in self.created_tasks:
            candidate, counter = f"{stem}-{counter}", counter + 1
        return candidate

    def write_task(self, task: Task, *, message: str) -> None:
        write_task(self.ports.governance, self.org, task, author=self.author(), message=message)
        self.written_tasks[task.id] = task  # the shared org object stays as loaded

    def item(
        self, kind: str, ref: str, title: str, digest: str, details: dict[str, Any] | None = None
    ) -> None:
        self.ports.memory.add_item(
            kind=kind,
            ref=ref,
            agent_id=self.agent_id,
            title=title,
            content_hash=digest,
            embedding=self.embed(title),
            at=self.ports.clock(),
            details=details,
        )

    def embed(self, text: str) -> list[float] | None:
        """The title's vector, made once per run (the dedup gate and the item both need it)."""
        if self.ports.embedder is None:
            return None
        if text not in self._vectors:
            [self._vectors[text]] = self.ports.embedder.embed([text])
        return self._vectors[text]

    def outcome(self, agent_id: str, kind: str, summary: str, *, ref: str | None, key: str) -> None:
        self.ports.memory.add_outcome(
            agent_id=agent_id,
            kind=kind,
            summary=summary,
            ref=ref,
            dedupe_key=key,
            at=self.ports.clock(),
        )

    def remember(
        self, action_type: str, summary: str, details: dict[str, Any], *, pr: int | None = None
    ) -> None:
        """Something to keep in the agent's history. The entry's id is made from the run,
        the action's position (:attr:`slot`) and its rank, so the same action remembered
        again — by a run resumed after a crash — is written once."""
        key = f"aito:{self.run_id}:{self.slot}:{len(self.history)}"
        self.history.append(
            HistoryEntry(
                id=uuid.uuid5(uuid.NAMESPACE_URL, key),
                agent_id=self.agent_id,
                action_type=action_type,
                summary=summary[:1000],
                details=details,
                run_id=self.run_id,
                pr_number=pr,
                created_at=self.ports.clock(),
            )
        )

    def take_history(self) -> list[HistoryEntry]:
        """What was remembered since the last call (one action's entries)."""
        taken, self.history = self.history, []
        return taken

    def created(self, task_id: str, action: actions.CreateTask) -> TaskView:
        """Note a task this run created (checks of later actions look for it)."""
        view = TaskView(
            id=task_id,
            title=action.title,
            description=action.description,
            status=TaskStatus.PENDING.value,
            priority=action.priority,
            assigned_to=action.assigned_to,
            created_by=self.agent_id,
            due=action.due,
            decision=action.decision,
        )
        self.created_tasks[task_id] = view
        return view

    def seen(self) -> Context:
        """The context plus the tasks this run created (what later actions are checked with)."""
        if not self.created_tasks:
            return self.context
        extra = list(self.created_tasks.values())
        return self.context.model_copy(
            update={
                "tasks": self.context.tasks + [t for t in extra if t.assigned_to == self.agent_id],
                "delegated": self.context.delegated
                + [t for t in extra if t.assigned_to != self.agent_id],
            }
        )


def account_of(org: loading.Organization, agent_id: str) -> str:
    """The agent whose bot account ``agent_id`` acts through: its own (a listed bot), else
    its manager's (workers act through the agent that manages them), else the CEO's."""
    if agent_id in org.org.bots:
        return agent_id
    owner = org.agents[agent_id].reports_to
    return owner if owner in org.org.bots else "ceo"


def task_branch(task_id: str, content: bytes) -> str:
    """The branch a task record is proposed on, named by the record's whole content hash:
    the tally merges a task record only from its own branch, so a commit pushed onto
    another pull request (or onto this one) can never pass as it."""
    return f"aito/tasks/{task_id}-{hashlib.sha256(content).hexdigest()}"


def write_task(
    forge: Forge, org: loading.Organization, task: Task, *, author: Identity, message: str
) -> None:
    """Commit a task record through a pull request and merge it at once.

    Task records are operational bookkeeping inside the author's authority: the
    record is validated by its model, committed on its own branch, and merged by
    the governance bot (on GitHub its token must be allowed to merge). Where the forge
    holds no governance key (an agent's job on GitHub) the pull request stays open and
    the governance tally settles it (:mod:`aito.agent.task_settling`), checking it again
    against the base branch's organization.
    """
    path = f"{TASKS_PREFIX}{task.id}.yaml"
    content = yaml.safe_dump(
        task.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True
    ).encode()
    current = forge.read_tree(forge.default_branch, prefixes=[path]).get(path)
    if current == content:
        return
    branch = task_branch(task.id, content)
    pull = forge.pull_from(branch)
    if pull is None:
        forge.commit_files(
            branch=branch,
            base=forge.default_branch,
            files={path: content},
            message=message,
            author=author,
        )
        pull = forge.open_pull(
            head=branch,
            base=forge.default_branch,
            title=message,
            body="Task record (operational).",
            author=author,
        )
    if pull.state is PullState.OPEN:
        try:
            forge.merge(
                pull.number,
                sha=pull.head_sha,
                actor=reading.governance_identity(org),
                message=f"Merge task record: {message}",
            )
        except GovernanceOnly:
            return  # an agent's job on GitHub: the pull request waits for the governance App
        except MergeConflict as exc:
            raise GovernanceError(
                f"the task record {path} (PR #{pull.number}) could not be merged: {exc}; "
                "it stays open for a maintainer"
            ) from exc
