"""What a ``claude-code`` worker is given, built on the trusted side: the task in words and
a copy of the files it may change.

The files are those of the worker's repository (its ``git.repo``, default branch) that
its ``git.paths`` allow and no protected path rule forbids: text only, at most
:data:`MAX_WORKSPACE_FILES` files of at most
:data:`~aito.agent.actions.MAX_FILE_BYTES` each and :data:`MAX_WORKSPACE_BYTES` in all
(the first by path; the brief says when some were left out). Whatever the coding agent
hands back is checked again as any pull request is; this only decides what it sees.
"""

from __future__ import annotations

from typing import Any

from aito.agent import actions
from aito.agent.runs import Wake
from aito.llm.base import ModelRequest
from aito.org import paths
from aito.runtime import protocol

MAX_WORKSPACE_FILES = 300
MAX_WORKSPACE_BYTES = 2_000_000
MAX_TURNS = 30
"""Turns of a claude-code session (its gateway allows a few more calls, for retries)."""
EXTRA_CALLS = 5


def task_for(wake: Wake, request: ModelRequest, *, first_index: int) -> protocol.Task:
    """The claude-code worker's task: its request (model, system prompt), the title of
    the pull request it may open, its brief and its files."""
    files, left_out = workspace_files(wake)
    title, instructions = _asked(request.context)
    brief = "\n\n".join(
        part
        for part in (
            f"Task: {title}",
            instructions,
            "The files you may change are in the current directory (a copy of your "
            "repository's files that your paths allow). Change them with your file tools. "
            "Your changes become one pull request, checked before anything is merged.",
            f"Left out of the copy (too many or too large): {left_out} file(s)."
            if left_out
            else "",
            "End with a short report of what you changed and why: it becomes the pull "
            "request's description.",
        )
        if part
    )
    return protocol.Task(
        request=request,
        first_index=first_index,
        attempts=0,
        engine="claude-code",
        title=f"{wake.agent_id}: {title}"[:200],
        brief=brief,
        files=files,
        max_turns=MAX_TURNS,
    )


def workspace_files(wake: Wake) -> tuple[dict[str, str], int]:
    """The files the worker may change (path → text), and how many were left out."""
    spec = wake.org.agents[wake.agent_id]
    forge = wake.ports.repo_forge(spec.git.repo)
    tree = forge.read_tree(forge.default_branch, prefixes=[""])
    files: dict[str, str] = {}
    total = left_out = 0
    for path in sorted(tree):
        if not paths.matches(path, spec.git.paths) or paths.protected_reason(path) is not None:
            continue
        data = tree[path]
        if len(data) > actions.MAX_FILE_BYTES:
            left_out += 1
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not text: a pull request of actions carries none
        if len(files) >= MAX_WORKSPACE_FILES or total + len(data) > MAX_WORKSPACE_BYTES:
            left_out += 1
            continue
        files[path] = text
        total += len(data)
    return files, left_out


def _asked(context: dict[str, Any]) -> tuple[str, str]:
    """The worker's task title and its requester's instructions, from its context."""
    tasks = context.get("tasks") or []
    inbox = context.get("inbox") or []
    title = str(tasks[0].get("title") or tasks[0].get("id")) if tasks else "the task"
    instructions = str(inbox[0].get("body") or "") if inbox else ""
    return title, instructions
