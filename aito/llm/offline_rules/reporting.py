"""Status: answering status requests from the verified facts, and the CEO's status rounds.

Every status_request in the inbox gets a status_response built from the verified
facts (cited by id), naming blocked tasks. The CEO runs the status-query loop: it asks
every C-level agent for status with a deadline, aggregates the answers it got, lists
who is missing, creates a task for each problem reported, and schedules the next round.
"""

from __future__ import annotations

import datetime as dt

from aito.llm.offline_rules import situation


def status_answers(sit: situation.Situation) -> list[situation.Call]:
    out: list[situation.Call] = []
    open_tasks = sit.fact("tasks.open")
    progress = sit.fact("tasks.in_progress")
    blocked = [
        t for t in sit.c.get("tasks", []) + sit.c.get("delegated", []) if t["status"] == "blocked"
    ]
    for message in sit.c.get("inbox", []):
        if message["type"] != "status_request":
            continue
        lines = [
            f"{open_tasks['statement']}; {progress['statement']}.",
            sit.fact("prs.open")["statement"] + ".",
            sit.fact("budget.today")["statement"] + ".",
        ]
        if blocked:
            lines.append(f"Blocked: {', '.join(t['id'] for t in blocked)}.")
        out.append(
            (
                "send_message",
                {
                    "to": message["sender"],
                    "kind": "status_response",
                    "correlation_id": message["id"],
                    "subject": f"Status of {sit.me['id']}: "
                    + ("blocked work" if blocked else "on track"),
                    "body": " ".join(lines),
                    "cites": ["tasks.open", "tasks.in_progress", "prs.open", "budget.today"],
                },
            )
        )
        sit.notes.append(f"answered {message['sender']}'s status request")
    return out


def ceo_status_loop(sit: situation.Situation) -> list[situation.Call]:
    out: list[situation.Call] = []
    round_state = sit.state.get("status_round") or {}
    answers = [m for m in sit.c.get("inbox", []) if m["type"] == "status_response"]
    due_round = [t for t in sit.c.get("tasks", []) if t["title"].startswith("Status round")]
    clevel = [a["id"] for a in sit.c.get("agents", []) if a["layer"] == "c-level"]
    if answers or (round_state and not due_round):
        got = {m["sender"]: m for m in answers}
        asked = round_state.get("asked", [])
        answered = sorted(set(round_state.get("answered", [])) | set(got))
        missing = [a for a in asked if a not in answered]
        problems = [m for m in answers if "blocked" in m["subject"].lower()]
        for message in problems:
            out.append(
                (
                    "create_task",
                    {
                        "title": f"Unblock {message['sender']}'s work",
                        "description": f"Status response said: {message['body']}",
                        "assigned_to": message["sender"],
                        "priority": 2,
                    },
                )
            )
        if answers:
            out.append(
                (
                    "update_state",
                    {
                        "key": "status_round",
                        "value": {**round_state, "answered": answered, "missing": missing},
                    },
                )
            )
            sit.notes.append(
                f"status round: {len(answered)}/{len(asked)} answered"
                + (f", missing {', '.join(missing)}" if missing else "")
                + (f", {len(problems)} problem(s) turned into tasks" if problems else "")
            )
    if due_round or not round_state:
        deadline = 30
        for agent in clevel:
            out.append(
                (
                    "send_message",
                    {
                        "to": agent,
                        "kind": "status_request",
                        "subject": f"Status round of {sit.now:%a %H:%M}",
                        "body": "Open tasks, blocked work, PRs, spend today. Cite your facts.",
                        "deadline_minutes": deadline,
                    },
                )
            )
        out.append(
            (
                "update_state",
                {
                    "key": "status_round",
                    "value": {
                        "asked": clevel,
                        "at": sit.now.isoformat(),
                        "answered": [],
                        "missing": clevel,
                    },
                },
            )
        )
        for task in due_round:
            out.append(
                (
                    "complete_task",
                    {
                        "task": task["id"],
                        "result": f"Status requested from {len(clevel)} C-level "
                        f"agents, answers due in {deadline} min.",
                    },
                )
            )
        out.append(
            (
                "schedule_event",
                {
                    "at": (sit.now + dt.timedelta(hours=4)).isoformat(),
                    "title": "Status round",
                    "description": "Ask every C-level agent for status and act on problems.",
                },
            )
        )
        sit.notes.append(f"asked {len(clevel)} C-level agents for status")
    return out
