"""What a run's model calls read, part by part: tokens, and whether each part came from
the prompt cache, was written to it, or was paid as ordinary input.

A request is read by the provider as one prefix (:mod:`aito.llm.caching`): the tool
definitions, the organization's shared system part (a cache breakpoint), the agent's
own system part (a breakpoint), then this wake-up's prompt, which is never cached.
Token counts of the parts are the estimate the offline model and the cache simulation
use (``CHARS_PER_TOKEN`` characters a token); each call's own counts (input, output,
cache read, cache write) are the provider's, as recorded with the run. A part is
"cache read" when the call's ``cache_read_tokens`` cover it, "cache write" when its
``cache_write_tokens`` do, and "not cached" otherwise.

Replaying a run is a CLI action: :data:`REPLAY` is the command to copy.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from aito.llm import caching
from aito.llm.base import CHARS_PER_TOKEN, ModelRequest, Usage
from aito.views import runs

REPLAY = "aito agent replay {run_id}"
"""Reproduces a run from its recording (the same requests get the same answers)."""


class ContextPart(BaseModel):
    """A part of the prefix the first call read."""

    title: str
    tokens: int
    cacheable: bool
    cache: str  # "read", "written" or "not cached"


class CallUsage(BaseModel):
    index: int
    model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int


class RunContext(BaseModel):
    parts: list[ContextPart]
    calls: list[CallUsage]
    replay: str

    @property
    def cached_tokens(self) -> int:
        return sum(p.tokens for p in self.parts if p.cache == "read")

    @property
    def total_tokens(self) -> int:
        return sum(p.tokens for p in self.parts)


def of(record: dict[str, Any]) -> RunContext:
    """The parts of a run's first request and each call's token counts."""
    exchanges: list[dict[str, Any]] = record.get("exchanges") or []
    calls = [_usage(i, e) for i, e in enumerate(exchanges)]
    parts: list[ContextPart] = []
    if exchanges:
        try:
            request = ModelRequest.model_validate(exchanges[0]["request"])
        except (ValidationError, KeyError, TypeError):
            request = None
        if request is not None:
            parts = _parts(request, calls[0] if calls else None)
    return RunContext(parts=parts, calls=calls, replay=REPLAY.format(run_id=record["run_id"]))


def _parts(request: ModelRequest, call: CallUsage | None) -> list[ContextPart]:
    segments = caching.segments(request)
    blocks = caching.system_blocks(request)
    titles = ["Tool definitions"]
    titles += (
        ["Organization (shared system part)", "Agent (own system part)"]
        if len(blocks) == 2
        else ["System"]
    )
    read = call.cache_read_tokens if call else 0
    written = call.cache_write_tokens if call else 0
    found: list[ContextPart] = []
    upto = 0
    for title, segment in zip(titles, segments[:-1], strict=True):
        upto += segment.tokens
        found.append(
            ContextPart(
                title=title,
                tokens=segment.tokens,
                cacheable=True,
                cache=_cache_state(upto, read, written),
            )
        )
    for section in runs.sections(request.prompt):
        tokens = len(section.text) // CHARS_PER_TOKEN
        found.append(ContextPart(title=section.title, tokens=tokens, cacheable=False, cache="—"))
    return found


def _cache_state(upto: int, read: int, written: int) -> str:
    """Whether the prefix ending ``upto`` tokens in was read from the cache, written to it,
    or paid as ordinary input (a prefix is read or written whole)."""
    if read and upto <= read:
        return "read"
    if written and upto <= read + written:
        return "written"
    return "not cached"


def _usage(index: int, exchange: dict[str, Any]) -> CallUsage:
    response = exchange.get("response") or {}
    try:
        usage = Usage.model_validate(response.get("usage") or {})
    except ValidationError:
        usage = Usage()
    return CallUsage(
        index=index,
        model=response.get("model"),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
