"""Actions that change repositories and records: pull requests, decisions, votes,
tasks and workers. Each takes the run's :class:`~aito.agent.effects.Effects`, the
action's position and the checked action, and finds what an earlier attempt of the
same run already produced (a branch's pull request, a review's marker, a task file)
instead of producing it twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aito.agent import actions, delegating, effects, verdicts
from aito.bus import worker_queue
from aito.decisions import proposing, reading
from aito.errors import AitoError
from aito.org.messages import MessageType, Priority
from aito.org.records import Task, TaskStatus

log = logging.getLogger(__name__)


def open_pr(ex: effects.Effects, position: int, action: actions.OpenPr) -> effects.Result:
    spec = ex.org.agents[ex.agent_id]
    repo_key = action.repo or spec.git.repo
    forge = ex.ports.repo_forge(repo_key)
    branch = f"aito/{ex.agent_id}/{effects.slug(ex.run_id, limit=60)}-{position}"
    pull = forge.pull_from(branch)
    if pull is None:
        forge.commit_files(
            branch=branch,
            base=forge.default_branch,
            files={path: text.encode() for path, text in action.files.items()},
            message=action.title,
            author=ex.author(),
        )
        pull = forge.open_pull(
            head=branch,
            base=forge.default_branch,
            title=action.title,
            body=f"{action.body}\n\n---\nOpened by `{ex.agent_id}` in run `{ex.run_id}`.",
            author=ex.author(),
        )
    ref = f"{repo_key}#{pull.number}"
    ex.item("pr", ref, action.title, effects.content_hash(action.title, files_text(action.files)))
    ex.remember(
        "pr_opened",
        f"Opened PR {ref}: {action.title}",
        {"ref": ref, "files": sorted(action.files)},
        pr=pull.number,
    )
    return effects.Result("executed", ref=ref)


def propose_decision(
    ex: effects.Effects, position: int, action: actions.ProposeDecision
) -> effects.Result:
    forge = ex.ports.governance
    title = f"Decision ({action.tier.value}): {action.title}"
    author = ex.author()
    # A run resumed after a crash finds the proposal it made before (still open); a
    # closed one of the same title is history, and reading it would grow with history.
    existing = next(
        (p for p in forge.pulls() if p.title == title and p.author.id == author.id), None
    )
    if existing is None:
        decision, pull = proposing.propose(
            forge,
            org=ex.org,
            proposer=ex.agent_id,
            tier=action.tier,
            title=action.title,
            body=action.rationale,
            files={path: text.encode() for path, text in action.files.items()},
            amount_usd=action.amount_usd,
            now=ex.ports.clock(),
        )
        decision_id, number = decision.id, pull.number
    else:
        decision_id = reading.decision_of(forge, existing).id
        number = existing.number
    ex.item(
        "decision", decision_id, action.title, effects.content_hash(action.title, action.rationale)
    )
    ex.remember(
        "decision_proposed",
        f"Proposed {action.tier.value} decision {decision_id} (PR #{number}): {action.title}",
        {"decision": decision_id, "tier": action.tier.value, "amount_usd": action.amount_usd},
        pr=number,
    )
    return effects.Result("executed", ref=f"{decision_id}#{number}")


def vote(ex: effects.Effects, position: int, action: actions.CastVote) -> effects.Result:
    decision = next(d for d in ex.context.decisions if d.id == action.decision)
    forge = ex.ports.governance
    author = ex.author()
    vote = "comment" if action.vote is actions.VoteChoice.ANALYSIS else action.vote.value
    marker = f"<!-- aito:{ex.run_id}:{position} -->"
    body = (
        action.reason if vote != "comment" else f"Round {decision.round} analysis: {action.reason}"
    )
    body = f"{body}\n\n{marker}"
    already = any(r.user.id == author.id and marker in r.body for r in forge.reviews(decision.pr))
    if not already:
        proposing.review(forge, decision.pr, author=author, vote=vote, body=body)
    try:  # the stored verdict now counts this vote: no one asks this agent again
        verdicts.refresh(ex.ports, decision.pr, now=ex.ports.clock())
    except AitoError as exc:
        log.warning(
            "%s: verdict of #%d not refreshed after a vote: %s", ex.run_id, decision.pr, exc
        )
    ex.remember(
        "vote" if vote != "comment" else "analysis",
        f"{action.vote.value} on {decision.id} (round {decision.round}): {action.reason}",
        {"decision": decision.id, "vote": action.vote.value, "round": decision.round},
        pr=decision.pr,
    )
    return effects.Result("executed", ref=f"{decision.id}#{decision.pr}")


def create_task(ex: effects.Effects, position: int, action: actions.CreateTask) -> effects.Result:
    now = ex.ports.clock()
    task_id = ex.task_id(action.title, now=now, position=position)
    task = Task(
        id=task_id,
        title=action.title,
        description=action.description,
        assigned_to=action.assigned_to,
        created_by=ex.agent_id,
        priority=action.priority,
        due_date=action.due,
        created_at=now,
        decision=action.decision,
    )
    if task_id not in ex.org.tasks:
        ex.write_task(task, message=f"Task {task_id}: {action.title}")
    ex.item("task", task_id, action.title, effects.content_hash(action.title, action.assigned_to))
    ex.created(task_id, action)
    if (
        action.assigned_to != ex.agent_id
        and ex.org.agents[action.assigned_to].layer.value != "worker"
    ):
        ex.send(
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
    ex.remember(
        "task_created",
        f"Created task {task_id} for {action.assigned_to}: {action.title}",
        {"task": task_id},
    )
    return effects.Result("executed", ref=task_id)


def update_task(ex: effects.Effects, position: int, action: actions.UpdateTask) -> effects.Result:
    task = ex.task(action.task)
    if task.status != action.status:
        updated = task.model_copy(update={"status": action.status})
        ex.write_task(updated, message=f"Task {task.id}: {action.status.value}")
    ex.remember(
        "task_updated",
        f"Task {task.id} → {action.status.value}. {action.note}".strip(),
        {"task": task.id, "status": action.status.value},
    )
    if task.created_by != ex.agent_id:
        ex.outcome(
            task.created_by,
            "task_update",
            f"{ex.agent_id} set task {task.id} ({task.title}) to "
            f"{action.status.value}. {action.note}".strip(),
            ref=task.id,
            key=f"task:{task.id}:{action.status.value}:{ex.run_id}",
        )
    return effects.Result("executed", ref=task.id)


def complete_task(
    ex: effects.Effects, position: int, action: actions.CompleteTask
) -> effects.Result:
    task = ex.task(action.task)
    now = ex.ports.clock()
    if task.status is not TaskStatus.DONE:
        done = task.model_copy(
            update={
                "status": TaskStatus.DONE,
                "completed_at": now,
                "result": {
                    "summary": action.result,
                    "by": ex.agent_id,
                    "run": ex.run_id,
                    "cites": action.cites,
                },
            }
        )
        ex.write_task(done, message=f"Task {task.id}: done")
    ex.ports.memory.close_item(kind="task", ref=task.id, at=now)
    ex.remember(
        "task_completed", f"Completed task {task.id}: {action.result[:300]}", {"task": task.id}
    )
    if task.created_by != ex.agent_id:
        ex.outcome(
            task.created_by,
            "task_done",
            f"{ex.agent_id} completed task {task.id} ({task.title}): {action.result[:500]}",
            ref=task.id,
            key=f"task:{task.id}:done",
        )
    return effects.Result("executed", ref=task.id)


def spawn_worker(ex: effects.Effects, position: int, action: actions.SpawnWorker) -> effects.Result:
    """Queue the request; run it here when this run can, else the orchestrator will."""
    asked = worker_queue.SpawnRequest(
        requester=ex.agent_id,
        requester_run=ex.run_id,
        position=position,
        kind=action.kind,
        task=action.task,
        instructions=action.instructions,
    )
    queue = ex.ports.bus.worker_queue()
    other = queue.pending_for(asked)
    if other is not None:
        return effects.Result(
            "refused",
            reason=f"a {action.kind} already works on {action.task} for you (request {other}, "
            "waiting or running); its result comes to you as a worker_result",
        )
    request = queue.ask(asked, now=ex.ports.clock())
    delegation = delegating.Delegation(queue, ex.ports.memory, ex.ports.clock)
    allowed = ex.org.max_workers_of(ex.agent_id)
    if ex.workers is None:
        report = "queued: the orchestrator starts it (this run has no worker runtime)"
    elif queue.running_of(ex.agent_id) >= allowed:
        report = (
            f"queued: {allowed} worker(s) of yours run already (max_workers); "
            "the orchestrator starts it when one has finished"
        )
    elif (
        claimed := delegation.claim(
            request,
            runner=ex.run_id,
            visibility_seconds=ex.org.claim_seconds_of(action.kind),
            resume=True,  # this run resumed after its process died: its claim is its own
        )
    ) is None:
        report = delegation.state(request)  # a resumed run: it ran, or runs, elsewhere
    else:
        report = delegation.run(claimed, ex.workers)
    ex.remember(
        "worker_spawned",
        f"Spawned {action.kind} on {action.task}: {report[:200]}",
        {"task": action.task, "kind": action.kind, "request": request},
    )
    return effects.Result("executed", ref=request)


def files_text(files: Mapping[str, str]) -> str:
    return "\n".join(f"{path}\n{files[path]}" for path in sorted(files))


HANDLERS: dict[str, Callable[[effects.Effects, int, Any], effects.Result]] = {
    "open_pr": open_pr,
    "propose_decision": propose_decision,
    "vote": vote,
    "create_task": create_task,
    "update_task": update_task,
    "complete_task": complete_task,
    "spawn_worker": spawn_worker,
}
