"""Prompt caching: where a request's cache breakpoints go, and Anthropic's cache simulated.

A Messages API request is read as one prefix in a fixed order: the tools, then the
system blocks, then the messages. A block marked with ``cache_control`` (at most
four per request) ends a cacheable prefix. AITO marks two, both system blocks
(:func:`system_blocks`):

1. the organization's shared part (:attr:`~aito.llm.base.ModelRequest.shared_system`):
   with the tools before it, the same bytes for every agent offered the same tools,
   so one call writes it and every other agent's call within its lifetime reads it;
2. the agent's own part (identity, permissions, profile): read back by the agent's
   next call within the lifetime.

The tools need no mark of their own: every prefix that is cached contains them.

:class:`PromptCache` simulates the provider's cache for the offline model, with
Anthropic's rules (https://docs.claude.com/en/docs/build-with-claude/prompt-caching):

* an entry lives :data:`TTL` (5 minutes, the ``ephemeral`` default) after it was
  written or last read: each read refreshes it;
* a prefix shorter than the model's minimum cacheable length
  (:func:`minimum_tokens`) is never cached, and costs ordinary input;
* a call reads the longest marked prefix still cached (``cache_read_input_tokens``,
  priced 0.1x input), writes every longer marked prefix
  (``cache_creation_input_tokens``, 1.25x input) and pays the rest as
  ``input_tokens``. Caches are per model.

Token counts are the offline model's estimate (:data:`~aito.llm.base.CHARS_PER_TOKEN`
characters a token), and tools count: their JSON as sent plus the system prompt the
API adds for tool use (:data:`TOOL_USE_TOKENS`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Sequence

from aito.llm.base import CHARS_PER_TOKEN, ModelRequest, ToolSpec, Usage, turns_text

TTL = dt.timedelta(minutes=5)
"""How long an entry lives after its last write or read (Anthropic's default)."""
MAX_BREAKPOINTS = 4
"""Blocks with ``cache_control`` the Messages API accepts in one request."""
TOOL_USE_TOKENS = 313
"""The system prompt the API adds when tools are offered with ``tool_choice: any``
(Anthropic's figure for Claude 4 models), part of the tools' prefix."""
_MINIMUM_TOKENS = (
    ("claude-opus-4-5", 4096),
    ("claude-opus-4-6", 4096),
    ("claude-haiku-4-5", 4096),
    ("claude-3-5-haiku", 2048),
    ("claude-3-haiku", 2048),
    ("claude-haiku-3", 2048),
    ("claude-sonnet-4", 1024),
    ("claude-opus-4", 1024),
    ("claude-3-7-sonnet", 1024),
)
DEFAULT_MINIMUM_TOKENS = 4096
"""For a model not listed: the largest minimum, so a simulation errs on the dear side."""


def minimum_tokens(model: str) -> int:
    """The shortest prefix ``model`` caches, in tokens."""
    for prefix, tokens in _MINIMUM_TOKENS:
        if model.startswith(prefix):
            return tokens
    return DEFAULT_MINIMUM_TOKENS


def system_blocks(request: ModelRequest) -> list[str]:
    """The request's system blocks, in order; each one ends a cache breakpoint.

    The shared part and the agent's own part when both have text, else one block.
    """
    shared, own = request.shared_system, request.own_system
    if shared.strip() and own.strip():
        return [shared, own]
    return [request.system]


@dataclasses.dataclass(frozen=True)
class Segment:
    """A piece of a request's prefix, in order; ``breakpoint`` if a cached prefix ends here."""

    text: str
    tokens: int
    breakpoint: bool = False


def segments(request: ModelRequest) -> list[Segment]:
    """The request as the cache sees it: tools, system blocks (breakpoints), the turn."""
    parts = [Segment(_tools_text(request.tools), tool_tokens(request.tools))]
    parts += [Segment(block, _tokens(block), True) for block in system_blocks(request)]
    turn = request.prompt + (request.feedback or "") + turns_text(request)
    if request.previous:
        turn += json.dumps([call.model_dump(mode="json") for call in request.previous])
    parts.append(Segment(turn, _tokens(turn)))
    return parts


def tool_tokens(tools: Sequence[ToolSpec]) -> int:
    """Input tokens the tool definitions cost (0 when there are none)."""
    if not tools:
        return 0
    return _tokens(_tools_text(tools)) + TOOL_USE_TOKENS


class PromptCache:
    """Anthropic's prompt cache for one organization, simulated (see the module)."""

    def __init__(self, *, ttl: dt.timedelta = TTL) -> None:
        self.ttl = ttl
        self._expires: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def account(self, *, model: str, parts: Sequence[Segment], now: dt.datetime) -> Usage:
        """The input side of one call's usage at ``now`` (output left at 0), and the
        cache as the call leaves it."""
        minimum = minimum_tokens(model)
        digest = hashlib.sha256(model.encode())
        marks: list[tuple[str, int]] = []  # (key, tokens) of each prefix that may be cached
        total = 0
        for part in parts:
            digest.update(len(part.text).to_bytes(8, "big") + part.text.encode())
            total += part.tokens
            if part.breakpoint and total >= minimum:
                marks.append((digest.hexdigest(), total))
        with self._lock:
            live = [self._expires.get(key, now) > now for key, _ in marks]
            hit = max((i for i, alive in enumerate(live) if alive), default=-1)
            read = marks[hit][1] if hit >= 0 else 0
            for i, (key, _) in enumerate(marks):
                if i > hit or live[i]:  # written now, or read (a read refreshes each entry)
                    self._expires[key] = now + self.ttl
            written = marks[-1][1] - read if len(marks) > hit + 1 else 0
            if len(self._expires) > 10_000:
                self._expires = {k: t for k, t in self._expires.items() if t > now}
        return Usage(
            input_tokens=total - read - written,
            cache_write_tokens=written,
            cache_read_tokens=read,
        )


def _tools_text(tools: Sequence[ToolSpec]) -> str:
    # what the Anthropic adapter sends: name, description, input_schema per tool
    return json.dumps([tool.model_dump(mode="json") for tool in tools], sort_keys=True)


def _tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN
