"""Record a run's model calls, and answer a later run from that recording.

:class:`RecordingModel` wraps any model and keeps every call as an
:class:`~aito.llm.base.Exchange` (request plus response, or the error it raised).
:class:`ReplayModel` answers from such a list, in order, without any network: a run
can be reproduced, debugged or turned into a test. It insists the run asks the same
questions as the recorded one (model, system prompt and its shared part, prompt,
feedback and tools) and stops with a :class:`~aito.errors.PermanentAdapterError`
naming the first call and field that differ, because answers recorded for other
questions would be meaningless.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from aito.errors import PermanentAdapterError
from aito.llm.base import Exchange, MalformedReply, Model, ModelRequest, ModelResponse

SERVICE = "replay"
COMPARED_FIELDS = ("model", "system", "shared_chars", "prompt", "feedback", "tools")
"""The parts of a request a replay must match; the rest (ids, context) may differ."""


def request_fingerprint(request: ModelRequest) -> str:
    """sha256 (hex) of the compared fields of ``request``."""
    return hashlib.sha256(_canonical(_compared(request)).encode()).hexdigest()


class RecordingModel:
    """Passes every call to ``inner`` and appends it to :attr:`exchanges`."""

    def __init__(self, inner: Model) -> None:
        self._inner = inner
        self.exchanges: list[Exchange] = []

    @property
    def provider(self) -> str:
        return self._inner.provider

    def complete(self, request: ModelRequest) -> ModelResponse:
        try:
            response = self._inner.complete(request)
        except Exception as exc:
            self.exchanges.append(Exchange(request=request, error=f"{type(exc).__name__}: {exc}"))
            raise
        self.exchanges.append(Exchange(request=request, response=response))
        return response


class ReplayModel:
    """Answers with the recorded responses, in order, checking each request first."""

    def __init__(self, exchanges: Sequence[Exchange]) -> None:
        self._exchanges = list(exchanges)
        self._next = 0

    @property
    def provider(self) -> str:
        return SERVICE

    @property
    def remaining(self) -> int:
        """How many recorded calls have not been asked for yet."""
        return len(self._exchanges) - self._next

    def complete(self, request: ModelRequest) -> ModelResponse:
        number = self._next + 1
        if self._next >= len(self._exchanges):
            raise PermanentAdapterError(
                SERVICE,
                f"run diverged from its recording at call {number}: "
                f"the recording has only {len(self._exchanges)} calls",
            )
        recorded = self._exchanges[self._next]
        if request_fingerprint(request) != request_fingerprint(recorded.request):
            raise PermanentAdapterError(
                SERVICE,
                f"run diverged from its recording at call {number}: "
                f"{_difference(recorded.request, request)}",
            )
        self._next += 1
        if recorded.rejected is not None:
            raise MalformedReply(
                SERVICE, f"call {number} was rejected when it was recorded: {recorded.rejected}"
            )
        if recorded.pending:
            raise PermanentAdapterError(
                SERVICE, f"call {number} was lost when it was recorded (its process stopped)"
            )
        if recorded.response is None:
            raise PermanentAdapterError(
                SERVICE, f"call {number} failed when it was recorded: {recorded.error}"
            )
        return recorded.response


def _compared(request: ModelRequest) -> dict[str, Any]:
    return request.model_dump(mode="json", include=set(COMPARED_FIELDS))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _difference(recorded: ModelRequest, actual: ModelRequest) -> str:
    """Which compared fields differ, with a hint of where."""
    old, new = _compared(recorded), _compared(actual)
    changed = [name for name in COMPARED_FIELDS if _canonical(old[name]) != _canonical(new[name])]
    parts = []
    for name in changed:
        before, after = old[name], new[name]
        if isinstance(before, str) and isinstance(after, str):
            at = _first_difference(before, after)
            parts.append(
                f"{name} differs at character {at} ({before[at : at + 40]!r} recorded, "
                f"{after[at : at + 40]!r} now)"
            )
        elif name == "tools":
            names_before = [tool["name"] for tool in before]
            names_after = [tool["name"] for tool in after]
            if names_before == names_after:
                parts.append("tools differ (same names, changed descriptions or schemas)")
            else:
                parts.append(f"tools differ ({names_before} recorded, {names_after} now)")
        else:
            parts.append(f"{name} differs ({before!r} recorded, {after!r} now)")
    return "; ".join(parts)


def _first_difference(before: str, after: str) -> int:
    for index, (a, b) in enumerate(zip(before, after, strict=False)):
        if a != b:
            return index
    return min(len(before), len(after))
