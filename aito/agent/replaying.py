"""`aito agent replay`: reproduce a run from its recorded model exchanges."""

from __future__ import annotations

from typing import Any

from aito.agent import actions
from aito.errors import AdapterError
from aito.llm import replay
from aito.llm.base import Exchange


def reproduce(record: dict[str, Any], done: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Feed each recorded request to a replay model; compare, re-validate, report."""
    unreadable = None
    try:
        exchanges = [Exchange.model_validate(e) for e in record.get("exchanges") or []]
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        exchanges = []
        unreadable = (
            "the recording cannot be read back (damaged, or saved by a version of AITO "
            f"whose formats differ: {type(exc).__name__})"
        )
    model = replay.ReplayModel(exchanges)
    calls: list[dict[str, Any]] = []
    reproduced = bool(exchanges)
    for index, exchange in enumerate(exchanges):
        try:
            answer = model.complete(exchange.request)
        except AdapterError as exc:
            calls.append({"index": index, "outcome": f"recorded error: {exc}", "identical": True})
            continue
        identical = exchange.response is not None and answer == exchange.response
        reproduced &= identical
        try:
            parsed = actions.parse([(c.name, c.input) for c in answer.tool_calls])
            outcome = f"{len(parsed)} valid action(s): " + ", ".join(
                str(a.model_dump()["type"]) for a in parsed
            )
        except actions.InvalidActions as exc:
            outcome = f"rejected, as when recorded: {exc}"
        calls.append({"index": index, "outcome": outcome, "identical": identical})
    return {
        "run_id": record["run_id"],
        "agent": record["agent_id"],
        "status": record["status"],
        "reproduced": reproduced,
        "verdict": unreadable
        or (
            f"reproduced from {len(exchanges)} recorded call(s)"
            if reproduced
            else "nothing recorded to replay (a skipped run makes no model call)"
            if not exchanges
            else "the recording did not reproduce"
        ),
        "calls": calls,
        "actions": [
            {
                "position": position,
                "type": row["action_type"],
                "status": row["status"],
                "ref": row["ref"],
                "reason": row["reason"],
            }
            for position, row in sorted(done.items())
        ],
    }
