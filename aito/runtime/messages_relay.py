"""The Messages API for a ``claude-code`` worker, on the launcher's side of the gateway.

A claude-code worker's coding agent (the Claude Code CLI, in the sandbox) speaks the
Messages API to a local port that the worker forwards to the gateway's
``POST /v1/messages``. Here each call is what any model call of a run is:

- checked: the worker's own model, at most :data:`MAX_OUTPUT_TOKENS` of output, only
  client tools (a server tool such as web search would reach past the sandbox), at most
  ``max_calls`` calls; anything else is refused with the API's error shape;
- reserved on the worker's budgets at its worst case before it is made (a refusal ends
  the session: the CLI is told, and the run is recorded as refused);
- saved as a pending exchange, made with this side's key (the sandbox never holds one),
  saved with its answer, and accounted (usage row and ledger) exactly once, as
  :mod:`aito.agent.accounting` does for every call;
- answered as the API answers: JSON, or server-sent events when the call streams.

The exchange saved for a relayed call records its model, size and usage, not the
conversation (which the coding agent keeps): a resumed claude-code worker starts its
session again, and a call lost in a crash is accounted at its output's worst case.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from aito.agent import accounting
from aito.agent.runs import Wake
from aito.bus import budgets
from aito.errors import AdapterError, TemporaryAdapterError
from aito.llm.base import Exchange, ModelRequest, ModelResponse, estimate_tokens
from aito.runtime.gateway import RawAnswer

MAX_OUTPUT_TOKENS = 16_000
"""The most output one relayed call may ask for (the worker's CLI is set to ask this)."""


@runtime_checkable
class Relaying(Protocol):
    """A model port that can make a Messages API call as asked (the Anthropic one)."""

    def relay(
        self, body: Mapping[str, Any], *, beta: str | None = None, timeout_seconds: float = 600
    ) -> tuple[dict[str, Any], ModelResponse]: ...


@dataclasses.dataclass
class MessagesRelay:
    """The ``/v1/messages`` route of one claude-code worker run's gateway."""

    wake: Wake
    budget: list[budgets.Limit]
    exchanges: list[Exchange]
    max_calls: int
    first: int = 0
    refusal: budgets.Refusal | None = None
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def __call__(self, body: dict[str, Any], headers: Mapping[str, str]) -> RawAnswer:
        wake = self.wake
        model = wake.ports.model
        if not isinstance(model, Relaying):  # a 4xx: the coding agent does not retry it
            return error(400, "invalid_request_error", unable(wake) or "no relay")
        problem = self._problem(body)
        if problem is not None:
            return error(400, "invalid_request_error", problem)
        relayed = {**body, "tools": client_tools(body.get("tools"))}
        with self._lock:  # one call at a time, in order, each with its own index
            index = len(self.exchanges)
            if self.refusal is not None:
                return error(400, "invalid_request_error", f"budget: {self.refusal.reason}")
            if index - self.first >= self.max_calls:
                return error(
                    400,
                    "invalid_request_error",
                    f"a claude-code worker run makes at most {self.max_calls} model calls",
                )
            request = _recorded(wake, relayed, index)
            usd, tokens = _worst_case(wake, relayed)
            granted = wake.ports.bus.ledger().reserve(
                reservation_id=accounting.reservation_id(wake.run_id, index),
                limits=self.budget,
                usd=usd,
                tokens=tokens,
                now=wake.ports.clock(),
            )
            if isinstance(granted, budgets.Refusal):
                self.refusal = granted
                return error(400, "invalid_request_error", f"budget: {granted.reason}")
            self._save([*self.exchanges, Exchange(request=request, pending=True)])
            try:
                message, response = model.relay(relayed, beta=headers.get("anthropic-beta"))
            except AdapterError as exc:
                wake.ports.bus.ledger().release(granted)
                self.exchanges.append(Exchange(request=request, error=str(exc)))
                self._save(self.exchanges)
                if isinstance(exc, TemporaryAdapterError):
                    return error(529, "overloaded_error", str(exc))
                return error(502, "api_error", str(exc))
            self.exchanges.append(Exchange(request=request, response=_kept(response)))
            self._save(self.exchanges)
            accounting.settle(wake, response, index=index)
        if body.get("stream") is True:
            return RawAnswer(200, events(message), "text/event-stream")
        return RawAnswer(200, json.dumps(message).encode())

    def _problem(self, body: dict[str, Any]) -> str | None:
        if body.get("model") != self.wake.model_name:
            return f"model: this worker's model is {self.wake.model_name!r}"
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_OUTPUT_TOKENS:
            return f"max_tokens: 1 to {MAX_OUTPUT_TOKENS}"
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return "messages: at least one message is required"
        if "tools" in body and not isinstance(body["tools"], list):
            return "tools: a list"
        return None

    def _save(self, exchanges: list[Exchange]) -> None:
        self.wake.ports.memory.save_exchanges(
            self.wake.run_id, exchanges=[e.model_dump(mode="json") for e in exchanges]
        )


def unable(wake: Wake) -> str | None:
    """Why this run's model cannot relay a coding agent's calls, or None."""
    model = wake.ports.model
    if isinstance(model, Relaying):
        return None
    return (
        f"a claude-code worker needs the anthropic model provider, not {model.provider!r} "
        "(set AITO_MODEL=anthropic and ANTHROPIC_API_KEY)"
    )


def client_tools(tools: Any) -> list[dict[str, Any]]:
    """The tools the coding agent defined itself (run in its sandbox); a server tool
    (``type`` other than ``custom``: web search, web fetch, code execution) is dropped."""
    kept: list[dict[str, Any]] = []
    for tool in tools or []:
        custom = isinstance(tool, dict) and tool.get("type", "custom") == "custom"
        if custom and isinstance(tool.get("input_schema"), dict):
            kept.append(tool)
    return kept


def _recorded(wake: Wake, body: dict[str, Any], index: int) -> ModelRequest:
    """What the run's plan record keeps of a relayed call: its model, its size, its cap."""
    chars = len(json.dumps(body))
    return ModelRequest(
        agent_id=wake.agent_id,
        run_id=wake.run_id,
        model=wake.model_name,
        system="",
        prompt=f"claude-code call {index}: {len(body['messages'])} message(s), {chars} chars",
        tools=[],
        max_tokens=int(body["max_tokens"]),
        context={"engine": "claude-code", "chars": chars},
    )


def _worst_case(wake: Wake, body: dict[str, Any]) -> tuple[float, int]:
    tokens_in = estimate_tokens(json.dumps(body))
    price = wake.price
    output = int(body["max_tokens"])
    usd = (tokens_in * max(price.input, price.write_price) + output * price.output) / 1_000_000
    return usd, tokens_in + output


def _kept(response: ModelResponse) -> ModelResponse:
    """The answer as the plan record keeps it: usage and stop reason, not the text."""
    return response.model_copy(update={"tool_calls": [], "text": ""})


def error(status: int, kind: str, message: str) -> RawAnswer:
    """An answer in the API's error shape (the coding agent shows its message)."""
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return RawAnswer(status, json.dumps(body).encode())


def events(message: dict[str, Any]) -> bytes:
    """A whole message as the API streams it: ``message_start``, each content block
    (start, one delta, stop), ``message_delta`` (stop reason, output tokens),
    ``message_stop``."""
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**message.get("usage", {}), "output_tokens": 0}
    sent: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for index, block in enumerate(message.get("content", [])):
        opened, deltas = _block_events(block)
        sent.append(
            ("content_block_start", {"type": "content_block_start", "index": index} | opened)
        )
        sent += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ]
        sent.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    usage = message.get("usage", {})
    sent += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message.get("stop_reason"),
                    "stop_sequence": message.get("stop_sequence"),
                },
                "usage": {"output_tokens": usage.get("output_tokens", 0)},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in sent).encode()


def _block_events(block: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    kind = block.get("type")
    if kind == "text":
        return {"content_block": {"type": "text", "text": ""}}, [
            {"type": "text_delta", "text": block.get("text", "")}
        ]
    if kind == "tool_use":
        empty = {**block, "input": {}}
        return {"content_block": empty}, [
            {"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}
        ]
    if kind == "thinking":
        return {"content_block": {"type": "thinking", "thinking": "", "signature": ""}}, [
            {"type": "thinking_delta", "thinking": block.get("thinking", "")},
            {"type": "signature_delta", "signature": block.get("signature", "")},
        ]
    return {"content_block": block}, []  # sent whole (redacted thinking, and the like)
