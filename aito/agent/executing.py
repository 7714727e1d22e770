"""Carrying out checked actions through the ports, each exactly once.

Every effect has a deterministic name derived from the run id and the action's
position (branch names, message ids, task ids), and an action row is marked
``started`` before it touches the world. A run resumed after a crash looks for
what a started action already produced (the branch's pull request, the message id,
the task file) instead of producing it again: no half-done PR, no double message.

What comes back to the agent next time (PR merged or closed, a worker's result,
a refusal, a decision's outcome) is recorded as an *outcome* for it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from aito.agent import actions
from aito.agent.context import Context, TaskView
from aito.agent.ports import LoopPorts
from aito.bus import base as bus_base
from aito.bus import models as bus_models
from aito.bus import queues as bus_queues
from aito.bus import streams
from aito.decisions import proposing, reading
from aito.errors import AitoError, ConflictError, GovernanceError, PermissionDenied
from aito.forge.base import Forge, Identity, MergeConflict, PullState
from aito.memory.base import HistoryEntry
from aito.org import loading
from aito.org.agents import Severity
from aito.org.messages import GROUP_TARGETS, AgentMessage, MessageType, Priority
from aito.org.records import Task, TaskStatus

log = logging.getLogger(__name__)

HUMAN_ACTION_LABEL = "human-action-required"
ALERT_LABEL = "aito/alert"
TASKS_PREFIX = "org/tasks/"
NEAR_DUPLICATE = 0.92
"""Cosine similarity above which an open item of the same kind counts as the same thing."""
INITIATIVE_COOLDOWN = dt.timedelta(hours=12)


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


class Executor:
    """Executes one run's actions; ``history`` collects what to remember."""

    def __init__(
        self,
        *,
        ports: LoopPorts,
        org: loading.Organization,
        context: Context,
        workers: WorkerRunner | None,
    ) -> None:
        self.ports = ports
        self.org = org
        self.context = context
        self.agent_id = context.agent.id
        self.run_id = context.run_id
        self.workers = workers
        self.history: list[HistoryEntry] = []
        self.created_tasks: dict[str, TaskView] = {}
        self.written_tasks: dict[str, Task] = {}
        self._vectors: dict[str, list[float]] = {}
        self._messenger = streams.Messenger(ports.bus, groups=org.groups(), clock=ports.clock)
        self._identity = (
            proposing.identity_for(org, self.agent_id) if self.agent_id in org.org.bots else None
        )

    # -- entry point --------------------------------------------------------------------

    def execute(self, position: int, action: actions.ActionModel) -> Result:
        handler = getattr(self, f"_do_{action.model_dump()['type']}")
        try:
            result: Result = handler(position, action)
        except PermissionDenied as exc:
            return Result("refused", reason=str(exc))
        except ConflictError as exc:
            return Result("failed", reason=str(exc))
        except AitoError as exc:
            log.warning("%s %s: action %d failed: %s", self.agent_id, self.run_id, position, exc)
            return Result("failed", reason=str(exc))
        return result

    def duplicate(self, action: actions.ActionModel) -> str | None:
        """The dedup gate: a pointer to an open item this action would repeat."""
        probe = _probe(action)
        if probe is None:
            return None
        kind, title, text = probe
        vector = self._embed(title)
        found = self.ports.memory.duplicate_of(
            kinds=[kind],
            content_hash=content_hash(title, text),
            embedding=vector,
            min_similarity=NEAR_DUPLICATE,
        )
        if found is None:
            return None
        how = "the same" if float(found["similarity"]) >= 0.9999 else "nearly the same"
        return (
            f"{how} as open {found['kind']} {found['ref']} by {found['agent_id']} "
            f"({found['title']!r}); build on it instead"
        )

    # -- actions ------------------------------------------------------------------------

    def _do_open_pr(self, position: int, action: actions.OpenPr) -> Result:
        spec = self.org.agents[self.agent_id]
        repo_key = action.repo or spec.git.repo
        forge = self.ports.repo_forge(repo_key)
        branch = f"aito/{self.agent_id}/{slug(self.run_id, limit=60)}-{position}"
        pull = next((p for p in forge.pulls(state=None) if p.head_ref == branch), None)
        if pull is None:
            forge.commit_files(
                branch=branch,
                base=forge.default_branch,
                files={path: text.encode() for path, text in action.files.items()},
                message=action.title,
                author=self._author(),
            )
            pull = forge.open_pull(
                head=branch,
                base=forge.default_branch,
                title=action.title,
                body=f"{action.body}\n\n---\nOpened by `{self.agent_id}` in run `{self.run_id}`.",
                author=self._author(),
            )
        ref = f"{repo_key}#{pull.number}"
        self._item("pr", ref, action.title, content_hash(action.title, _files_text(action.files)))
        self.remember(
            "pr_opened",
            f"Opened PR {ref}: {action.title}",
            {"ref": ref, "files": sorted(action.files)},
            pr=pull.number,
        )
        return Result("executed", ref=ref)

    def _do_propose_decision(self, position: int, action: actions.ProposeDecision) -> Result:
        forge = self.ports.governance
        title = f"Decision ({action.tier.value}): {action.title}"
        author = self._author()
        existing = next(
            (p for p in forge.pulls(state=None) if p.title == title and p.author.id == author.id),
            None,
        )
        if existing is None:
            decision, pull = proposing.propose(
                forge,
                org=self.org,
                proposer=self.agent_id,
                tier=action.tier,
                title=action.title,
                body=action.rationale,
                files={path: text.encode() for path, text in action.files.items()},
                amount_usd=action.amount_usd,
                now=self.ports.clock(),
            )
            decision_id, number = decision.id, pull.number
        else:
            decision_id = reading.decision_of(forge, existing).id
            number = existing.number
        self._item(
            "decision", decision_id, action.title, content_hash(action.title, action.rationale)
        )
        self.remember(
            "decision_proposed",
            f"Proposed {action.tier.value} decision {decision_id} (PR #{number}): {action.title}",
            {"decision": decision_id, "tier": action.tier.value, "amount_usd": action.amount_usd},
            pr=number,
        )
        return Result("executed", ref=f"{decision_id}#{number}")

    def _do_vote(self, position: int, action: actions.CastVote) -> Result:
        decision = next(d for d in self.context.decisions if d.id == action.decision)
        forge = self.ports.governance
        author = self._author()
        vote = "comment" if action.vote is actions.VoteChoice.ANALYSIS else action.vote.value
        marker = f"<!-- aito:{self.run_id}:{position} -->"
        body = (
            action.reason
            if vote != "comment"
            else f"Round {decision.round} analysis: {action.reason}"
        )
        body = f"{body}\n\n{marker}"
        already = any(
            r.user.id == author.id and marker in r.body for r in forge.reviews(decision.pr)
        )
        if not already:
            proposing.review(forge, decision.pr, author=author, vote=vote, body=body)
        self.remember(
            "vote" if vote != "comment" else "analysis",
            f"{action.vote.value} on {decision.id} (round {decision.round}): {action.reason}",
            {"decision": decision.id, "vote": action.vote.value, "round": decision.round},
            pr=decision.pr,
        )
        return Result("executed", ref=f"{decision.id}#{decision.pr}")

    def _do_create_task(self, position: int, action: actions.CreateTask) -> Result:
        now = self.ports.clock()
        task_id = self._task_id(action.title, now=now, position=position)
        task = Task(
            id=task_id,
            title=action.title,
            description=action.description,
            assigned_to=action.assigned_to,
            created_by=self.agent_id,
            priority=action.priority,
            due_date=action.due,
            created_at=now,
            decision=action.decision,
        )
        if task_id not in self.org.tasks:
            self._write_task(task, message=f"Task {task_id}: {action.title}")
        self._item("task", task_id, action.title, content_hash(action.title, action.assigned_to))
        self.created_tasks[task_id] = TaskView(
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
        if (
            action.assigned_to != self.agent_id
            and self.org.agents[action.assigned_to].layer.value != "worker"
        ):
            self._send(
                position,
                to=action.assigned_to,
                type=MessageType.TASK,
                payload={
                    "subject": f"New task {task_id}: {action.title}",
                    "body": action.description,
                    "task": task_id,
                },
                priority=Priority.HIGH if action.priority <= 3 else Priority.NORMAL,
            )
        self.remember(
            "task_created",
            f"Created task {task_id} for {action.assigned_to}: {action.title}",
            {"task": task_id},
        )
        return Result("executed", ref=task_id)

    def _do_update_task(self, position: int, action: actions.UpdateTask) -> Result:
        task = self._task(action.task)
        if task.status != action.status:
            updated = task.model_copy(update={"status": action.status})
            self._write_task(updated, message=f"Task {task.id}: {action.status.value}")
        self.remember(
            "task_updated",
            f"Task {task.id} → {action.status.value}. {action.note}".strip(),
            {"task": task.id, "status": action.status.value},
        )
        if task.created_by != self.agent_id:
            self._outcome(
                task.created_by,
                "task_update",
                f"{self.agent_id} set task {task.id} ({task.title}) to "
                f"{action.status.value}. {action.note}".strip(),
                ref=task.id,
                key=f"task:{task.id}:{action.status.value}:{self.run_id}",
            )
        return Result("executed", ref=task.id)

    def _do_complete_task(self, position: int, action: actions.CompleteTask) -> Result:
        task = self._task(action.task)
        now = self.ports.clock()
        if task.status is not TaskStatus.DONE:
            done = task.model_copy(
                update={
                    "status": TaskStatus.DONE,
                    "completed_at": now,
                    "result": {
                        "summary": action.result,
                        "by": self.agent_id,
                        "run": self.run_id,
                        "cites": action.cites,
                    },
                }
            )
            self._write_task(done, message=f"Task {task.id}: done")
        self.ports.memory.close_item(kind="task", ref=task.id, at=now)
        self.remember(
            "task_completed", f"Completed task {task.id}: {action.result[:300]}", {"task": task.id}
        )
        if task.created_by != self.agent_id:
            self._outcome(
                task.created_by,
                "task_done",
                f"{self.agent_id} completed task {task.id} ({task.title}): {action.result[:500]}",
                ref=task.id,
                key=f"task:{task.id}:done",
            )
        return Result("executed", ref=task.id)

    def _do_send_message(self, position: int, action: actions.SendMessage) -> Result:
        kind = {
            actions.MessageKind.DIRECT: MessageType.DIRECT,
            actions.MessageKind.STATUS_REQUEST: MessageType.STATUS_REQUEST,
            actions.MessageKind.STATUS_RESPONSE: MessageType.STATUS_RESPONSE,
            actions.MessageKind.BROADCAST: MessageType.BROADCAST,
        }[action.kind]
        deadline = None
        if action.kind is actions.MessageKind.STATUS_REQUEST:
            deadline = self.ports.clock() + dt.timedelta(minutes=action.deadline_minutes or 60)
        message_id = self._send(
            position,
            to=action.to,
            type=kind,
            payload={"subject": action.subject, "body": action.body, "cites": action.cites},
            correlation_id=action.correlation_id,
            deadline=deadline,
        )
        self.remember(
            "message_sent",
            f"{action.kind.value} to {action.to}: {action.subject}",
            {"to": action.to, "id": message_id},
        )
        return Result("executed", ref=message_id)

    def _do_alert(self, position: int, action: actions.Alert) -> Result:
        spec = self.org.agents[self.agent_id]
        targets: set[str] = set()
        for rule in spec.escalation:
            if rule.severity is action.severity:
                targets.update(t for t in rule.notify if t != "maintainers")
        if not targets:
            targets.add(spec.reports_to or "ceo")
        if action.severity is Severity.CRITICAL:
            targets.add("head")
        targets.discard(self.agent_id)
        payload = {
            "subject": f"[{action.severity.value}] {action.title}",
            "body": action.details,
            "severity": action.severity.value,
        }
        sent = []
        for index, target in enumerate(sorted(targets)):
            if target in GROUP_TARGETS or target in self.org.agents:
                sent.append(
                    self._send(
                        position,
                        to=target,
                        type=MessageType.ALERT,
                        payload=payload,
                        priority=Priority.URGENT
                        if action.severity is Severity.CRITICAL
                        else Priority.HIGH,
                        suffix=str(index),
                    )
                )
        ref = ", ".join(sorted(targets))
        if action.severity is Severity.CRITICAL:
            issue = self._issue(
                f"[critical] {action.title}",
                action.details,
                labels=[ALERT_LABEL, HUMAN_ACTION_LABEL],
            )
            ref += f"; humans: issue #{issue}"
        self.remember(
            "alert",
            f"{action.severity.value} alert to {ref}: {action.title}",
            {"targets": sorted(targets)},
        )
        return Result("executed", ref=ref)

    def _do_request_human_action(self, position: int, action: actions.RequestHumanAction) -> Result:
        number = self._issue(action.title, action.body, labels=[HUMAN_ACTION_LABEL])
        self._item(
            "human_action", f"issue#{number}", action.title, content_hash(action.title, action.body)
        )
        self.remember(
            "human_action_requested",
            f"Asked the maintainers (issue #{number}): {action.title}",
            {"issue": number},
        )
        return Result("executed", ref=f"issue#{number}")

    def _do_spawn_worker(self, position: int, action: actions.SpawnWorker) -> Result:
        if self.workers is None:
            return Result(
                "refused", reason="workers cannot be spawned from here (no worker runtime)"
            )
        queues = bus_queues.TaskQueues(self.ports.bus)
        task_id = f"{action.task}:{slug(self.run_id, limit=60)}-{position}"
        queues.enqueue(
            bus_models.QueuedTask(
                task_id=task_id,
                agent=action.kind,
                payload={
                    "task": action.task,
                    "requester": self.agent_id,
                    "instructions": action.instructions,
                },
            ),
            now=self.ports.clock(),
        )
        report = self.workers(
            WorkerRequest(
                requester=self.agent_id,
                requester_run=self.run_id,
                position=position,
                kind=action.kind,
                task=action.task,
                instructions=action.instructions,
            )
        )
        self._outcome(
            self.agent_id,
            "worker_result",
            f"worker {action.kind} on task {action.task}: {report}",
            ref=action.task,
            key=f"worker:{task_id}",
        )
        self.remember(
            "worker_spawned",
            f"Spawned {action.kind} on {action.task}: {report[:200]}",
            {"task": action.task, "kind": action.kind},
        )
        return Result("executed", ref=task_id)

    def _do_schedule_event(self, position: int, action: actions.ScheduleEvent) -> Result:
        ref = f"{self.agent_id}:{slug(self.run_id, limit=60)}-{position}"
        assignee = action.assigned_to or self.agent_id
        self.ports.memory.add_item(
            kind="schedule",
            ref=ref,
            agent_id=self.agent_id,
            title=action.title,
            content_hash=content_hash(action.title, action.at.isoformat(), assignee),
            embedding=None,
            at=self.ports.clock(),
            details={
                "at": action.at.isoformat(),
                "assigned_to": assignee,
                "description": action.description,
            },
        )
        self.remember(
            "event_scheduled",
            f"Scheduled for {action.at.isoformat()} ({assignee}): {action.title}",
            {"ref": ref},
        )
        return Result("executed", ref=ref)

    def _do_propose_initiative(self, position: int, action: actions.ProposeInitiative) -> Result:
        now = self.ports.clock()
        last = self.ports.memory.get_state(self.agent_id, "aito.initiative_at")
        if (
            last is not None
            and now - dt.datetime.fromisoformat(str(last.value)) < INITIATIVE_COOLDOWN
        ):
            return Result(
                "refused",
                reason=f"one initiative per {INITIATIVE_COOLDOWN}; the last was at {last.value}",
            )
        ref = f"{self.agent_id}:{slug(action.title)}"
        self._item(
            "initiative",
            ref,
            action.title,
            content_hash(action.title, action.rationale),
            details={"score": action.score, "rationale": action.rationale},
        )
        self.ports.memory.put_state(
            self.agent_id,
            "aito.initiative_at",
            now.isoformat(),
            expected_version=None if last is None else last.version,
        )
        self._send(
            position,
            to="ceo" if self.agent_id != "ceo" else "dao",
            type=MessageType.DIRECT,
            payload={
                "subject": f"Initiative ({action.score:g}/10): {action.title}",
                "body": action.rationale,
            },
        )
        self.remember(
            "initiative",
            f"Proposed initiative {ref} ({action.score:g}/10): {action.title}",
            {"ref": ref},
        )
        return Result("executed", ref=ref)

    def _do_update_state(self, position: int, action: actions.UpdateState) -> Result:
        current = self.ports.memory.get_state(self.agent_id, action.key)
        version = self.ports.memory.put_state(
            self.agent_id,
            action.key,
            action.value,
            expected_version=None if current is None else current.version,
        )
        return Result("executed", ref=f"{action.key}@v{version}")

    def _do_summary(self, position: int, action: actions.RunSummary) -> Result:
        return Result("executed", ref="summary")

    # -- helpers ------------------------------------------------------------------------

    def _author(self) -> Identity:
        if self._identity is None:
            spec = self.org.agents[self.agent_id]
            # workers act through the account of the agent that manages them
            owner = spec.reports_to if spec.reports_to in self.org.org.bots else "ceo"
            return proposing.identity_for(self.org, owner or "ceo")
        return self._identity

    def _send(
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
        self._messenger.send(message)
        self.ports.memory.append_event(
            event_type="bus.sent",
            payload={"id": message.id, "type": type.value, "to": to},
            source_agent=self.agent_id,
            run_id=self.run_id,
        )
        return message_id

    def _issue(self, title: str, body: str, *, labels: list[str]) -> int:
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
            author=self._author(),
        )
        return issue.number

    def _task(self, task_id: str) -> Task:
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

    def _task_id(self, title: str, *, now: dt.datetime, position: int) -> str:
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

    def _write_task(self, task: Task, *, message: str) -> None:
        write_task(self.ports.governance, self.org, task, author=self._author(), message=message)
        self.written_tasks[task.id] = task  # the shared org object stays as loaded

    def _item(
        self, kind: str, ref: str, title: str, digest: str, details: dict[str, Any] | None = None
    ) -> None:
        self.ports.memory.add_item(
            kind=kind,
            ref=ref,
            agent_id=self.agent_id,
            title=title,
            content_hash=digest,
            embedding=self._embed(title),
            at=self.ports.clock(),
            details=details,
        )

    def _embed(self, text: str) -> list[float] | None:
        """The title's vector, made once per run (the dedup gate and the item both need it)."""
        if self.ports.embedder is None:
            return None
        if text not in self._vectors:
            [self._vectors[text]] = self.ports.embedder.embed([text])
        return self._vectors[text]

    def _outcome(
        self, agent_id: str, kind: str, summary: str, *, ref: str | None, key: str
    ) -> None:
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
        self.history.append(
            HistoryEntry(
                id=uuid.uuid5(uuid.NAMESPACE_URL, f"aito:{self.run_id}:{action_type}:{summary}"),
                agent_id=self.agent_id,
                action_type=action_type,
                summary=summary[:1000],
                details=details,
                run_id=self.run_id,
                pr_number=pr,
                created_at=self.ports.clock(),
            )
        )


def write_task(
    forge: Forge, org: loading.Organization, task: Task, *, author: Identity, message: str
) -> None:
    """Commit a task record through a pull request and merge it at once.

    Task records are operational bookkeeping inside the author's authority: the
    record is validated by its model, committed on its own branch, and merged by
    the governance bot (on GitHub its token must be allowed to merge).
    """
    path = f"{TASKS_PREFIX}{task.id}.yaml"
    content = yaml.safe_dump(
        task.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True
    ).encode()
    current = forge.read_tree(forge.default_branch, prefixes=[path]).get(path)
    if current == content:
        return
    branch = f"aito/tasks/{task.id}-{hashlib.sha256(content).hexdigest()[:8]}"
    pull = next((p for p in forge.pulls(state=None) if p.head_ref == branch), None)
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
        except MergeConflict as exc:
            raise GovernanceError(
                f"the task record {path} (PR #{pull.number}) could not be merged: {exc}; "
                "it stays open for a maintainer"
            ) from exc


def _probe(action: actions.ActionModel) -> tuple[str, str, str] | None:
    match action:
        case actions.OpenPr():
            return "pr", action.title, _files_text(action.files)
        case actions.ProposeDecision():
            return "decision", action.title, action.rationale
        case actions.CreateTask():
            return "task", action.title, action.assigned_to
        case actions.ProposeInitiative():
            return "initiative", action.title, action.rationale
        case actions.RequestHumanAction():
            return "human_action", action.title, action.body
        case _:
            return None


def _files_text(files: Mapping[str, str]) -> str:
    return "\n".join(f"{path}\n{files[path]}" for path in sorted(files))
