"""The model port: one request in, tool calls and usage out; our own DTOs only.

Three implementations sit beside this file: `anthropic.py` (the Messages API through
the `anthropic` SDK), `offline.py` (a deterministic, rule-driven stand-in that needs
no key) and `replay.py` (answers from a recorded run). A request carries both the
rendered prompt (what a real model reads) and the structured context it was
rendered from (what the offline model reasons over); providers use what they need.
"""

from __future__ import annotations

import json
import math
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.org.organization import ModelPrice

CHARS_PER_TOKEN = 4
"""Rough size of a token, for worst-case estimates before a call (never for billing)."""


class Dto(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_CALL_TOKENS = 100_000_000
"""More tokens of one kind than any call can use (context windows hold a few million at
most): a reply claiming more is not well-formed (and would not fit a usage row)."""


class Usage(Dto):
    """Tokens of one call (or of one run's calls), as the provider counted them."""

    input_tokens: int = Field(0, ge=0, le=MAX_CALL_TOKENS)
    output_tokens: int = Field(0, ge=0, le=MAX_CALL_TOKENS)
    cache_write_tokens: int = Field(0, ge=0, le=MAX_CALL_TOKENS)
    cache_read_tokens: int = Field(0, ge=0, le=MAX_CALL_TOKENS)

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_tokens
            + self.cache_read_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
        )


class ToolSpec(Dto):
    """One tool the model may call: an action type and the JSON Schema of its input."""

    name: str
    description: str
    input_schema: dict[str, Any]


class ToolCall(Dto):
    """One tool use in a model's answer; ``name`` is the action type."""

    id: str
    name: str
    input: dict[str, Any]


class ToolResult(Dto):
    """What a tool that reads (an MCP server's) gave back for one call of an answer."""

    call_id: str
    content: str
    is_error: bool = False


class ToolTurn(Dto):
    """One answer that read before acting: its tool calls, and a result for each."""

    calls: list[ToolCall]
    results: list[ToolResult]


class ModelRequest(Dto):
    """What one call asks.

    ``system`` is the stable, cacheable prefix (organization, profile, action
    reference); its first ``shared_chars`` characters are what every agent of the
    organization reads alike, each part the end of a prompt-cache breakpoint (see
    :mod:`aito.llm.caching`). ``prompt`` is the small dynamic part of this wake-up.
    ``feedback`` is set on a retry: why the previous answer was rejected.
    """

    agent_id: str
    run_id: str
    model: str
    system: str
    shared_chars: int = Field(
        0, ge=0, description="how much of `system` every agent shares (0: no shared part)"
    )
    prompt: str
    tools: list[ToolSpec]
    max_tokens: int = Field(4096, ge=1)
    feedback: str | None = None
    previous: list[ToolCall] = Field(
        default_factory=list, description="the rejected answer, on a retry"
    )
    turns: list[ToolTurn] = Field(
        default_factory=list,
        description="earlier answers of this run that called tools that read, with their "
        "results (the worker's tool loop), oldest first",
    )
    context: dict[str, Any] = Field(
        default_factory=dict, description="the structured context the prompt was rendered from"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _shared_within_system(self) -> ModelRequest:
        if self.shared_chars > len(self.system):
            raise ValueError("shared_chars is longer than system")
        return self

    @property
    def shared_system(self) -> str:
        """The organization-wide part of ``system`` ("" when there is none)."""
        return self.system[: self.shared_chars]

    @property
    def own_system(self) -> str:
        """The agent's own part of ``system`` (all of it when nothing is shared)."""
        return self.system[self.shared_chars :]


class ModelResponse(Dto):
    """What one call answered."""

    provider: str
    model: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    text: str = ""
    stop_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: int = Field(0, ge=0)


class Exchange(Dto):
    """One call as recorded for replay: the request, and the response or the error
    (or neither, while it is ``pending``).

    ``rejected`` says why the reply was not well-formed (:func:`reply_problems`, or a
    :class:`MalformedReply`); the response is then kept only as :func:`storable`
    made it, and a resumed or replayed run rejects it again for the same reason.
    """

    request: ModelRequest
    response: ModelResponse | None = None
    error: str | None = None
    rejected: str | None = None
    pending: bool = False
    """Saved just before the call is made and replaced by its outcome: one still pending
    when a crashed run is read back was lost with its process (the provider may have
    answered and charged it), so it is accounted at its worst case and asked again."""


class MalformedReply(PermanentAdapterError):
    """The provider answered, but not with a well-formed reply (HTML, broken JSON, a
    body without the fields it must have). Recorded and shown to the agent, never used."""


class GatewayRefused(PermanentAdapterError):
    """A launcher's model gateway refused a call because a budget would break;
    ``refusal`` is the ledger's refusal, as data."""

    def __init__(self, refusal: dict[str, Any]) -> None:
        self.refusal = refusal
        super().__init__("model gateway", "a budget refused the call")


class LauncherGone(TemporaryAdapterError):
    """A run in a container lost its launcher's gateway (the launcher was killed): the run
    stops as a crash would, unfinished, and the next start of the wake-up resumes it."""


@runtime_checkable
class GatedModel(Protocol):
    """A model behind a launcher's gateway (a run in a container): the gateway reserves
    and settles each call's budget, so the call says its index in the run."""

    gated: bool

    @property
    def provider(self) -> str: ...

    def complete_at(self, request: ModelRequest, *, index: int) -> ModelResponse: ...


class Model(Protocol):
    """A model provider. ``complete`` raises TemporaryAdapterError (retried by the
    caller's policy) or PermanentAdapterError; it never returns a half answer."""

    @property
    def provider(self) -> str: ...

    def complete(self, request: ModelRequest) -> ModelResponse: ...


def cost_usd(usage: Usage, price: ModelPrice) -> float:
    """USD for ``usage`` at ``price`` (USD per million tokens of each kind)."""
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * price.write_price
        + usage.cache_read_tokens * price.read_price
    ) / 1_000_000


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def worst_case(request: ModelRequest, price: ModelPrice) -> tuple[float, int]:
    """The most a call can cost (USD, tokens): all input billed at the dearer of the
    input and cache-write prices, and the full ``max_tokens`` of output."""
    text = request.system + request.prompt + (request.feedback or "") + turns_text(request)
    schemas = sum(len(str(tool.input_schema)) + len(tool.description) for tool in request.tools)
    tokens_in = estimate_tokens(text) + estimate_tokens("x" * schemas)
    usd = (
        tokens_in * max(price.input, price.write_price) + request.max_tokens * price.output
    ) / 1_000_000
    return usd, tokens_in + request.max_tokens


def turns_text(request: ModelRequest) -> str:
    """The tool loop's earlier turns as text (for estimates and cache keys)."""
    if not request.turns:
        return ""
    return json.dumps([turn.model_dump(mode="json") for turn in request.turns])


MAX_DEPTH = 16
"""Nesting levels a tool call's input may have (actions need three or four)."""
MAX_VALUES = 50_000
"""Values (strings, numbers, list items, object members) one reply may carry."""


def reply_problems(response: ModelResponse) -> list[str]:
    """Why ``response`` is not well-formed, whatever it says: NUL characters or lone
    surrogates in any string (Postgres cannot even store them), non-finite numbers,
    absurd nesting or size. Messages never repeat the offending text."""
    problems: list[str] = []
    _check_text(response.text, "the reply's text", problems)
    counted = 0
    for index, call in enumerate(response.tool_calls):
        where = f"tool call {index}"
        _check_text(call.id, f"{where}'s id", problems)
        _check_text(call.name, f"{where}'s name", problems)
        stack: list[tuple[Any, str, int]] = [(call.input, f"{where}'s input", 1)]
        while stack and len(problems) < 20:
            value, path, depth = stack.pop()
            counted += 1
            if counted > MAX_VALUES:
                problems.append(f"the reply carries more than {MAX_VALUES:,} values")
                return problems
            if isinstance(value, str):
                _check_text(value, path, problems)
            elif isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{path}: a number that is not finite")
            elif isinstance(value, dict | list):
                if depth > MAX_DEPTH:
                    problems.append(f"{path}: nested deeper than {MAX_DEPTH} levels")
                    continue
                items = value.items() if isinstance(value, dict) else enumerate(value)
                for key, item in items:
                    if isinstance(key, str):
                        _check_text(key, f"{path}: a key", problems)
                    stack.append((item, _path(path, key), depth + 1))
    return problems


def storable(value: Any, *, depth: int = 0) -> Any:
    """``value`` (JSON-like) made safe to record: NUL characters and lone surrogates
    replaced by U+FFFD, non-finite numbers by None, anything nested deeper than
    :data:`MAX_DEPTH` by a marker."""
    if isinstance(value, str):
        return "".join("\ufffd" if _unstorable(c) else c for c in value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return "…(cut: nested too deep)"
    if isinstance(value, dict):
        return {storable(str(k)): storable(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v, depth=depth + 1) for v in value]
    return value


def _check_text(text: str, where: str, problems: list[str]) -> None:
    if "\x00" in text:
        problems.append(f"{where}: a NUL character")
    elif any("\ud800" <= c <= "\udfff" for c in text):
        problems.append(f"{where}: a lone surrogate (not valid Unicode)")


def _unstorable(char: str) -> bool:
    return char == "\x00" or "\ud800" <= char <= "\udfff"


def _path(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    text = str(key)
    return f"{path}.{text[:40]}" if text.isidentifier() else f"{path}[{text[:40]!r}]"
