"""Carrying out checked actions through the ports, each exactly once.

Every effect has a deterministic name derived from the run id and the action's
position (branch names, message ids, task ids), and an action row is marked
``started`` before it touches the world. A run resumed after a crash looks for
what a started action already produced (the branch's pull request, the message id,
the task file) instead of producing it again: no half-done PR, no double message.
What a settled action made is known again without redoing it (:meth:`Executor.restore`),
so later actions of the plan are checked as they were in the original run.

What comes back to the agent next time (PR merged or closed, a worker's result,
a refusal, a decision's outcome) is recorded as an *outcome* for it.
"""

from __future__ import annotations

import datetime as dt
import logging

from aito.agent import actions, changing, effects, telling, world_writing
from aito.errors import AitoError, ConflictError, PermissionDenied

log = logging.getLogger(__name__)

# The names callers know this module by (they live in effects).
HUMAN_ACTION_LABEL = effects.HUMAN_ACTION_LABEL
ALERT_LABEL = effects.ALERT_LABEL
Result = effects.Result
WorkerRequest = effects.WorkerRequest
WorkerRunner = effects.WorkerRunner
content_hash = effects.content_hash
slug = effects.slug
write_task = effects.write_task

RECENT = {"initiative": dt.timedelta(days=30)}
"""Kinds whose closed items still count as duplicates for a while (an idea dropped last
week is not new this week)."""
NEAR_DUPLICATE = 0.92
"""Cosine similarity above which an open item of the same kind counts as the same thing."""
HANDLERS = changing.HANDLERS | telling.HANDLERS | {"mcp_write": world_writing.write}


class Executor(effects.Effects):
    """Executes one run's actions; :meth:`take_history` hands over what to remember."""

    def execute(self, position: int, action: actions.ActionModel) -> Result:
        self.slot = str(position)
        handler = HANDLERS[str(action.model_dump()["type"])]
        try:
            result: Result = handler(self, position, action)
        except PermissionDenied as exc:
            return Result("refused", reason=str(exc))
        except ConflictError as exc:
            return Result("failed", reason=str(exc))
        except AitoError as exc:
            log.warning("%s %s: action %d failed: %s", self.agent_id, self.run_id, position, exc)
            return Result("failed", reason=str(exc))
        return result

    def restore(self, position: int, action: actions.ActionModel, *, ref: str | None) -> None:
        """Know again what an action executed before a crash made, without redoing it."""
        if isinstance(action, actions.CreateTask) and ref:
            self.created(ref, action)

    def duplicate(self, action: actions.ActionModel) -> str | None:
        """The dedup gate: a pointer to an open item this action would repeat."""
        probe = _probe(action)
        if probe is None:
            return None
        kind, title, text = probe
        vector = self.embed(title)
        recent = RECENT.get(kind)
        found = self.ports.memory.duplicate_of(
            kinds=[kind],
            content_hash=content_hash(title, text),
            embedding=vector,
            min_similarity=NEAR_DUPLICATE,
            closed_since=None if recent is None else self.ports.clock() - recent,
        )
        if found is None:
            return None
        how = "the same" if float(found["similarity"]) >= 0.9999 else "nearly the same"
        state = "open" if found.get("state", "open") == "open" else "recently closed"
        return (
            f"{how} as {state} {found['kind']} {found['ref']} by {found['agent_id']} "
            f"({found['title']!r}); build on it instead"
        )


def _probe(action: actions.ActionModel) -> tuple[str, str, str] | None:
    match action:
        case actions.OpenPr():
            return "pr", action.title, changing.files_text(action.files)
        case actions.ProposeDecision():
            return "decision", action.title, action.rationale
        case actions.CreateTask():
            return "task", action.title, action.assigned_to
        case actions.ProposeInitiative():
            return "initiative", action.title, action.rationale
        case actions.RequestHumanAction():
            return "human_action", action.title, action.body
        case actions.McpWrite():
            return world_writing.probe(action)
        case _:
            return None
