"""The governance tally settles task record pull requests: merges those an agent may make.

On GitHub an agent's job holds only its own App token, so :func:`aito.agent.effects.write_task`
leaves each task record's pull request open; the tally (`aito decide tally N` on a
`pull_request_target` event, `aito decide tally --all` on its schedule) settles it as the
governance App. Everything in the pull request is an attacker's input (a bot or a person can
push any branch); the organization that judges it is the **base branch's**.

A pull request is a *task record* when it targets the base branch, touches `org/tasks/`
and adds no decision record (a decision pull request is never a task, and a task never a
decision). It is merged only when all of these hold:

* its author, by numeric id, is an agent's bot listed in `org.yaml` `bots`;
* it changes exactly one regular file, `org/tasks/<id>.yaml` (added or modified), which
  parses (the project's bounded YAML loader) and validates as a Task whose id is its name;
* the change is one the author may make, by the run-time checks of
  :mod:`aito.agent.checking` (reused, not copied), for an agent acting through that bot
  (itself, or a worker it manages, :func:`aito.agent.effects.account_of`):
  a **new** task is created by that agent (`created_by`), for an assignee it may assign to
  (`create_task`), pending or moved on as its assignee or creator may; an **update** of a
  task on the base branch changes only `status` (and `completed_at`/`result` when done)
  of an open task, as its assignee or creator may (`update_task`, `complete_task`);
* its head is the one read: the pull request is read again after its files (a head that
  moved in between is left for the next sweep), the record is read at that head and the
  merge is pinned to it (a conflict leaves it for the next sweep).

Otherwise nothing is merged. A pull request by a person (maintainer, member or outsider)
is left to people, without a word. A bot's pull request that is refused gets one
explanatory comment from the governance bot per head (found again by its marker, so a
re-run or a crash never posts it twice); a malformed one (not exactly one regular task
file, unreadable, invalid, misnamed, or already on the base branch) is also closed, as no
agent's own write produces it; one refused for authority stays open, because authority is
judged from the base branch, which may still change (a manager's `manages`, the creating
pull request's merge): a maintainer may close it. A merged pull request is no longer open,
so a re-run does nothing.

The assignee of a new task is woken by the message its creator's run sent
(:func:`aito.agent.changing.create_task`, delivered through the bus's waker); after the
merge the tally wakes it again (``wake``), so a run that started before the merge sees
the task on the next one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import pydantic

from aito.agent import actions, checking, effects, world
from aito.decisions import marks, reading, sweeping
from aito.errors import AitoError
from aito.forge.base import FileChange, FileStatus, Forge, MergeConflict, PullRequest, PullState
from aito.org import loading, paths, yamlfiles
from aito.org.agents import Layer
from aito.org.records import Task, TaskStatus

log = logging.getLogger(__name__)

MERGED = "merged"
REFUSED = "refused"
LEFT = "left"
"""Outcomes: merged; refused (commented, perhaps closed); left (a person's, a conflict,
or already settled): nothing done."""

UPDATABLE = frozenset({"status", "completed_at", "result"})
"""The fields an update may change (`update_task`: status; `complete_task`: the rest)."""

Wake = Callable[[str, str], None]
"""Wakes an agent (its id, the reason) once its task is on the base branch."""


@dataclasses.dataclass(frozen=True)
class Settled:
    """What the tally did with one task record pull request."""

    pr: int
    outcome: str
    reason: str
    task: str | None = None
    author: str = ""
    closed: bool = False
    commented: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "kind": "task",
            "pr": self.pr,
            "task": self.task,
            "author": self.author,
            "outcome": self.outcome,
            "reason": self.reason,
            "closed": self.closed,
            "commented": self.commented,
        }


class Refusal(Exception):
    """Why a task record is not merged; ``close``: it is malformed."""

    def __init__(self, reason: str, *, close: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.close = close


def is_task_pull(forge: Forge, pull: PullRequest, changes: Sequence[FileChange]) -> bool:
    """True for a pull request against the base branch that touches `org/tasks/` and adds
    no decision record."""
    if pull.base_ref != forge.default_branch:
        return False
    if any(reading.record_path(c) for c in changes):
        return False
    touched = [c.path for c in changes] + [c.previous_path for c in changes if c.previous_path]
    return any(path.startswith(effects.TASKS_PREFIX) for path in touched)


def settle_open(
    forge: Forge,
    *,
    apply: bool = True,
    numbers: Sequence[int] | None = None,
    wake: Wake | None = None,
    decisions: Collection[int] = (),
) -> tuple[list[Settled], list[sweeping.Problem]]:
    """Settle each open task record pull request (or just ``numbers``); the others are
    skipped, and so are ``decisions`` (just tallied as decisions: no task record adds a
    decision record, so their files need not be read again). Returns what was done and,
    beside it, each pull request that failed."""
    settled: list[Settled] = []
    problems: list[sweeping.Problem] = []
    listed = {p.number: p for p in forge.pulls()} if numbers is None else {}
    for number in sorted(set(listed) - set(decisions)) if numbers is None else numbers:
        try:
            pull = listed[number] if number in listed else forge.pull(number)
            result = settle(forge, pull, apply=apply, wake=wake)
        except AitoError as exc:
            problems.append(sweeping.Problem(number, exc))
            continue
        if result is not None:
            settled.append(result)
    return settled, problems


def settle(
    forge: Forge, pull: PullRequest, *, apply: bool = True, wake: Wake | None = None
) -> Settled | None:
    """Merge, refuse or leave one pull request; None if it is no task record. Without
    ``apply`` nothing is written (the outcome says what would be done)."""
    changes = forge.file_changes(pull.number, head=pull.head_sha)  # the head merged
    if not is_task_pull(forge, pull, changes):
        return None
    org = reading.base_organization(forge, forge.default_branch)
    bot_agent = next((a for a, bot in org.org.bots.items() if bot.id == pull.author.id), None)
    login = paths.shown(pull.author.login, 60)
    if pull.state is not PullState.OPEN:
        return Settled(pull.number, LEFT, f"already {pull.state.value}", author=login)
    if bot_agent is None:
        return Settled(
            pull.number,
            LEFT,
            f"opened by {login}, not an agent's bot: left to the maintainers",
            author=login,
        )
    if forge.pull(pull.number).head_sha != pull.head_sha:
        # the files listed may be another head's than the one read and merged below
        moved = "its head moved while it was read: the next sweep settles it"
        return Settled(pull.number, LEFT, moved, author=login)
    task: Task | None = None
    try:
        task = _record(forge, pull, changes)
        _authorise(org, bot_agent, task)
    except Refusal as refusal:
        named = task.id if task is not None else None
        return _refuse(forge, org, pull, refusal, task=named, author=login, apply=apply)
    if not apply:
        return Settled(pull.number, MERGED, "would be merged (dry run)", task.id, login)
    try:
        forge.merge(
            pull.number,
            sha=pull.head_sha,
            actor=reading.governance_identity(org),
            message=f"Merge task record {task.id} (#{pull.number})",
        )
    except MergeConflict as exc:
        return Settled(
            pull.number, LEFT, f"not merged yet ({exc}): the next sweep tries again", task.id, login
        )
    log.info("merged task record %s (#%d) of %s", task.id, pull.number, bot_agent)
    if wake is not None and _told(org, task):
        wake(task.assigned_to, f"task {task.id} is on the base branch")
    return Settled(pull.number, MERGED, f"{bot_agent}'s task record", task.id, login)


def _told(org: loading.Organization, task: Task) -> bool:
    """True for a new task whose creator's run messaged its assignee (as
    :func:`aito.agent.changing.create_task` does: not to itself, not to a worker)."""
    return (
        task.id not in org.tasks
        and task.assigned_to != task.created_by
        and org.agents[task.assigned_to].layer is not Layer.WORKER
    )


def _record(forge: Forge, pull: PullRequest, changes: Sequence[FileChange]) -> Task:
    """The one task record the pull request writes, read at its head (else Refusal)."""
    if len(changes) != 1:
        raise Refusal(
            f"a task record pull request changes exactly one file, org/tasks/<id>.yaml "
            f"(this one changes {len(changes)})",
            close=True,
        )
    [change] = changes
    name = change.path.removeprefix(effects.TASKS_PREFIX)
    if (
        change.status not in (FileStatus.ADDED, FileStatus.MODIFIED)
        or not change.path.startswith(effects.TASKS_PREFIX)
        or "/" in name
        or not name.endswith(".yaml")
        or paths.unsafe_reason(change.path) is not None
    ):
        raise Refusal(
            f"{paths.shown(change.path)} is {change.status.value}: a task record pull request "
            "adds or modifies one org/tasks/<id>.yaml",
            close=True,
        )
    if change.special:
        raise Refusal(f"{paths.shown(change.path)} is not a regular file", close=True)
    content = forge.read_tree(pull.head_sha, prefixes=[change.path]).get(change.path)
    if content is None:
        raise Refusal(f"{paths.shown(change.path)} is missing at the head", close=True)
    try:
        task = Task.model_validate(yamlfiles.load_bytes(content, Path(change.path)))
    except yamlfiles.YamlFileError as exc:
        raise Refusal(paths.shown(exc.problem.render(), 300), close=True) from exc
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(step) for step in first["loc"]) or "the record"
        raise Refusal(
            f"not a valid task record: {paths.shown(where, 60)}: "
            f"{paths.shown(str(first['msg']), 200)}",
            close=True,
        ) from exc
    if f"{effects.TASKS_PREFIX}{task.id}.yaml" != change.path:
        raise Refusal(
            f"{paths.shown(change.path)} holds task {paths.shown(task.id, 60)}", close=True
        )
    if pull.head_ref != effects.task_branch(task.id, content):
        # The author's authority is lent only to the record its run wrote: anyone who
        # may push a branch could otherwise put a record onto the author's pull request.
        raise Refusal(
            "a task record is merged only from the branch its content names "
            f"({effects.task_branch(task.id, content)}), as `aito` writes it",
            close=True,
        )
    return task


def _authorise(org: loading.Organization, bot_agent: str, task: Task) -> None:
    """Refusal unless an agent acting through ``bot_agent``'s bot may write ``task``."""
    acting = [a for a in org.agents if effects.account_of(org, a) == bot_agent]
    old = org.tasks.get(task.id)
    if old is None:
        _authorise_creation(org, acting, task, bot_agent=bot_agent)
        old = task.model_copy(
            update={"status": TaskStatus.PENDING, "completed_at": None, "result": None}
        )
        if old == task:
            return
    elif old == task:
        raise Refusal(f"the base branch already holds task {task.id} as written", close=True)
    changed = sorted(
        field
        for field in Task.model_fields
        if getattr(old, field) != getattr(task, field) and field not in UPDATABLE
    )
    if changed:
        raise Refusal(
            f"an update of task {task.id} may change only its status (and its result when "
            f"done), not {', '.join(changed)}",
            close=False,
        )
    if task.status is not TaskStatus.DONE and (
        task.completed_at != old.completed_at or task.result != old.result
    ):
        raise Refusal("only a task marked done gets a result", close=False)
    # the assignee first, then the creator, then the other agents acting through the bot
    order = sorted(acting, key=lambda a: (a != old.assigned_to, a != old.created_by, a))
    reasons = [_update_refusal(org, agent, old, task) for agent in order]
    if None not in reasons:
        raise Refusal(
            f"{bot_agent}'s bot may not set task {task.id} to {task.status.value}: "
            f"{reasons[0] or 'no agent acts through it'}",
            close=False,
        )


def _authorise_creation(
    org: loading.Organization, acting: list[str], task: Task, *, bot_agent: str
) -> None:
    creator = task.created_by
    if creator not in acting:
        raise Refusal(
            f"task {task.id} names {paths.shown(creator, 60)} as its creator, but "
            f"{bot_agent}'s bot acts for {', '.join(acting)} only",
            close=False,
        )
    try:
        action = actions.CreateTask(
            title=task.title,
            description=task.description,
            assigned_to=task.assigned_to,
            priority=task.priority,
            due=task.due_date,
            decision=task.decision,
        )
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise Refusal(
            f"no agent creates this task: {'.'.join(str(s) for s in first['loc'])}: "
            f"{paths.shown(str(first['msg']), 200)}",
            close=False,
        ) from exc
    refused = checking.layer_refusal(org, creator, "create_task") or (
        checking.create_task_refusal(action, org=org, agent_id=creator)
    )
    if refused is not None:
        raise Refusal(f"{creator} may not create task {task.id}: {refused}", close=False)


def _update_refusal(org: loading.Organization, agent: str, old: Task, new: Task) -> str | None:
    """Why ``agent`` may not move ``old`` to ``new`` (the run-time checks' rules)."""
    mine, delegated = world.task_sides([old], agent)
    mine_ids, delegated_ids = {t.id for t in mine}, {t.id for t in delegated}
    if new.status is TaskStatus.DONE:
        if new.result is None or new.completed_at is None:
            return "a task marked done carries its result and completion time"
        return checking.layer_refusal(org, agent, "complete_task") or (
            checking.completion_refusal(old.id, mine=mine_ids)
        )
    return checking.layer_refusal(org, agent, "update_task") or (
        checking.update_refusal(old.id, new.status, mine=mine_ids, delegated=delegated_ids)
    )


def _refuse(
    forge: Forge,
    org: loading.Organization,
    pull: PullRequest,
    refusal: Refusal,
    *,
    task: str | None,
    author: str,
    apply: bool,
) -> Settled:
    """One comment per head from the governance bot; a malformed record is also closed."""
    if not apply:
        return Settled(pull.number, REFUSED, refusal.reason, task, author, closed=refusal.close)
    governance = reading.governance_identity(org)
    marker = f"<!-- aito:task-record:{pull.head_sha} -->"
    said = any(c.user.id == governance.id and marker in c.body for c in forge.comments(pull.number))
    if not said:
        then = (
            "It is closed: no agent's own write makes such a pull request."
            if refusal.close
            else "It stays open (authority is judged from the base branch): a maintainer "
            "may merge or close it."
        )
        forge.post_comment(
            pull.number,
            author=governance,
            body=f"AITO did not merge this task record: {marks.text(refusal.reason, 600)}."
            f"\n\n{then}\n\n{marker}",
        )
    if refusal.close:
        forge.close(pull.number, actor=governance)
    log.info("refused task record #%d: %s", pull.number, refusal.reason)
    return Settled(
        pull.number,
        REFUSED,
        refusal.reason,
        task,
        author,
        closed=refusal.close,
        commented=not said,
    )
