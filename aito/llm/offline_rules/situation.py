"""What the offline model's rules share: the context on the table, and what they did so far.

A :class:`Situation` is made once per answer from the request's structured context;
each rule reads it and appends a note of what it did (the answer's summary), and the
follow-up rule marks the tasks it blocked so the task rule leaves them alone.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

Call = tuple[str, dict[str, Any]]
"""A tool call as the rules make it: (tool name, input)."""


class Situation:
    """The context of one answer (``c``), the acting agent (``me``), its verified facts
    by id, its state, the time, and the notes and blocked tasks the rules add."""

    def __init__(self, context: dict[str, Any], rng: random.Random) -> None:
        self.c = context
        self.rng = rng
        self.me = context["agent"]
        self.facts = {f["id"]: f for f in context.get("facts", [])}
        self.state = context.get("state", {})
        self.now = dt.datetime.fromisoformat(context["now"])
        self.notes: list[str] = []
        self.blocked: set[str] = set()

    def fact(self, fact_id: str) -> dict[str, Any]:
        return self.facts.get(fact_id) or {
            "id": fact_id,
            "statement": f"{fact_id} unknown",
            "value": None,
        }

    def summary(self, calls: list[Call]) -> str:
        if not self.notes:
            return "Nothing needed my action."
        return (f"{self.me['id']}: " + "; ".join(self.notes) + ".")[:3900]
