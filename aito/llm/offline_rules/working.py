"""Tasks: starting, delegating to workers, finishing; approved decisions turned into work.

A pending task is started when fewer than two are in progress; one in progress is
handed to a worker when the agent has a worker kind, otherwise finished with a result
(workers finish theirs and open a PR with the draft inside their paths). Delegated
tasks get a worker spawned; a worker out of budget blocks its task; an approved
decision of the agent's becomes a task for its first worker kind.
"""

from __future__ import annotations

from typing import Any

from aito.llm.offline_rules import situation

MAX_TASKS_IN_PROGRESS = 2
CLOSINGS = ("Ready for review.", "Feedback welcome.", "Please review before publishing.")


def tasks(sit: situation.Situation) -> list[situation.Call]:
    out: list[situation.Call] = []
    mine = [t for t in sit.c.get("tasks", []) if not t["title"].startswith("Status round")]
    in_progress = sum(t["status"] == "in_progress" for t in mine)
    workers = sit.c["permissions"].get("workers", [])
    is_worker = sit.me["layer"] == "worker"
    for task in mine:
        if task["status"] == "pending" and not is_worker:
            if in_progress >= MAX_TASKS_IN_PROGRESS:
                continue
            out.append(
                (
                    "update_task",
                    {"task": task["id"], "status": "in_progress", "note": "Starting."},
                )
            )
            in_progress += 1
            sit.notes.append(f"started {task['id']}")
        elif task["status"] == "in_progress" or is_worker:
            if workers and not is_worker:
                out.append(
                    (
                        "spawn_worker",
                        {
                            "kind": workers[0],
                            "task": task["id"],
                            "instructions": f"Do: {task['title']}. {task['description'][:300]}",
                        },
                    )
                )
                sit.notes.append(f"handed {task['id']} to a {workers[0]}")
                continue
            if is_worker:
                out.append(draft(sit, task))
            out.append(
                (
                    "complete_task",
                    {"task": task["id"], "result": result(sit, task), "cites": ["tasks.open"]},
                )
            )
            sit.notes.append(f"completed {task['id']}")
    for task in sit.c.get("delegated", []):
        if task["id"] in sit.blocked:
            continue
        if (
            task["assigned_to"] in workers
            and task["status"] == "pending"
            and not any(c[0] == "spawn_worker" and c[1]["task"] == task["id"] for c in out)
        ):
            out.append(
                (
                    "spawn_worker",
                    {
                        "kind": task["assigned_to"],
                        "task": task["id"],
                        "instructions": f"{task['title']}: {task['description'][:300]}",
                    },
                )
            )
            sit.notes.append(f"spawned a {task['assigned_to']} for {task['id']}")
    return out


def draft(sit: situation.Situation, task: dict[str, Any]) -> situation.Call:
    name = _slug(task["title"])
    path = _path_in(sit.c["permissions"]["paths"], f"{name}.md")
    body = (
        f"# {task['title']}\n\n{task['description']}\n\n"
        f"Draft by {sit.me['name']} ({sit.now:%Y-%m-%d %H:%M} UTC). "
        f"{sit.rng.choice(CLOSINGS)}\n"
    )
    return (
        "open_pr",
        {
            "title": f"Draft: {task['title']}",
            "body": f"For task {task['id']}.",
            "files": {path: body},
        },
    )


def result(sit: situation.Situation, task: dict[str, Any]) -> str:
    before = sit.fact("tasks.open")["statement"]
    return f"{task['title']}: done by {sit.me['id']}. {before} before this."


def follow_ups(sit: situation.Situation) -> list[situation.Call]:
    """An approved decision of mine becomes work: a task for my first worker kind."""
    out: list[situation.Call] = []
    writers = sit.c["permissions"].get("workers", [])
    delegated = {t["id"]: t for t in sit.c.get("delegated", [])}
    for outcome in sit.c.get("outcomes", []):
        task = delegated.get(outcome.get("ref") or "")
        if outcome["kind"] == "worker_result" and task and "budget_exhausted" in outcome["summary"]:
            out.append(
                (
                    "update_task",
                    {
                        "task": task["id"],
                        "status": "blocked",
                        "note": "The worker's budget is exhausted for today.",
                    },
                )
            )
            sit.notes.append(f"marked {task['id']} blocked (worker out of budget)")
            sit.blocked.add(task["id"])
            continue
        if outcome["kind"] != "decision_outcome" or "approved" not in outcome["summary"]:
            continue
        if writers:
            title = f"Announce {outcome['ref']}"[:190]
            out.append(
                (
                    "create_task",
                    {
                        "title": title,
                        "description": f"Write the announcement: {outcome['summary']}",
                        "assigned_to": writers[0],
                        "priority": 3,
                    },
                )
            )
            sit.notes.append(f"turned approved {outcome['ref']} into work")
    return out


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:50] or "draft"


def _path_in(patterns: list[str], filename: str) -> str:
    """A path inside the first usable path filter (`content/**` → `content/<filename>`)."""
    for pattern in patterns:
        head = pattern.split("*", 1)[0]
        if head and not head.endswith("/"):
            continue
        return f"{head}{filename}"
    return filename
