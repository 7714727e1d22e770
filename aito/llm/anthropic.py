"""The Anthropic Messages API as a :class:`~aito.llm.base.Model`, through the official SDK.

The only module that imports ``anthropic``. A request becomes one ``messages.create``
call: the tools, then the system prompt as two blocks, each marked ``cache_control:
ephemeral`` (:func:`aito.llm.caching.system_blocks`): the organization's shared part,
which with the tools before it is one cached prefix for every agent, and the agent's
own part. The model must answer with tool calls (``tool_choice: any``), and a retry
after a rejected answer replays that answer as ``tool_use`` blocks followed by
``tool_result`` blocks carrying the feedback (``is_error: true``).

Transient failures (429, 408/409, 5xx including 529 overloaded, timeouts, lost
connections) are retried here through :mod:`aito.retrying` (the SDK's own retries are
off): after the server's ``retry-after-ms`` / ``retry-after``, else with jittered
exponential backoff (0.5 s doubling up to 8 s); a server asking for more than a minute
is not waited for. Once the retries are spent the failure is translated here, at the
boundary: :class:`~aito.errors.TemporaryAdapterError` with the
server's ``retry-after`` (else 30 s), or :class:`~aito.errors.PermanentAdapterError`
with a message that says what to fix. The API key never appears in a message or log.
A 200 whose body is not a well-formed message (HTML from a proxy, JSON that does not
parse, missing or mistyped fields: the SDK validates strictly) is a
:class:`~aito.llm.base.MalformedReply`, never a half answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import anthropic
from anthropic import types
from pydantic import SecretStr

from aito import retrying
from aito.errors import AdapterError, PermanentAdapterError, TemporaryAdapterError
from aito.llm import caching
from aito.llm.base import MalformedReply, ModelRequest, ModelResponse, ToolCall, Usage

SERVICE = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_RETRY_AFTER = 30.0
"""Seconds to wait after a transient failure when the server did not say."""
MAX_WAIT = 60.0
"""A server asking for a longer wait is not waited for: the error is raised at once."""

RELAYED_FIELDS = (
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "thinking",
    "metadata",
    "context_management",
)
"""What a relayed Messages API call may carry (anything else a coding agent sends is
dropped: no server-side tool, no MCP connector, no container reaches past the sandbox)."""

_EPHEMERAL: types.CacheControlEphemeralParam = {"type": "ephemeral"}
_ANY_TOOL: types.ToolChoiceAnyParam = {"type": "any"}


class AnthropicModel:
    """Claude through the Messages API; ``complete`` answers with tool calls."""

    def __init__(
        self,
        *,
        api_key: SecretStr,
        base_url: str | None = None,
        max_retries: int = 4,
        timeout_seconds: float = 120,
    ) -> None:
        # Everything is passed explicitly so the SDK consults no environment variable.
        self._base_url = base_url or DEFAULT_BASE_URL
        self._timeout_seconds = timeout_seconds
        self._client = anthropic.Anthropic(
            api_key=api_key.get_secret_value(),
            base_url=self._base_url,
            max_retries=0,  # ours, below: one retry helper for every adapter
            timeout=timeout_seconds,
            # A reply whose fields are missing or mistyped is an error, not a half answer.
            _strict_response_validation=True,
        )
        self._retry = retrying.Policy(
            budget_seconds=None,
            attempts=max_retries + 1,
            base_delay=0.5,
            max_delay=8.0,
            jitter="spread",
            honour="exact",
            max_wait=MAX_WAIT,
        )

    @property
    def provider(self) -> str:
        return SERVICE

    def complete(self, request: ModelRequest) -> ModelResponse:
        tools = _tools(request)

        def create() -> types.Message:
            return self._client.messages.create(
                model=request.model,
                max_tokens=request.max_tokens,
                system=_system(request),
                messages=_messages(request),
                tools=tools or anthropic.omit,
                tool_choice=_ANY_TOOL if tools else anthropic.omit,
            )

        return self._made(create, request)[1]

    def relay(
        self, body: Mapping[str, Any], *, beta: str | None = None, timeout_seconds: float = 600
    ) -> tuple[dict[str, Any], ModelResponse]:
        """One Messages API call made as a coding agent asked it (a ``claude-code``
        worker's, checked by the launcher's gateway): only the fields of
        :data:`RELAYED_FIELDS` go on, with this side's key, retried as :meth:`complete`
        is. Answers the message as the API gave it (JSON) and as a response."""
        fields = {name: body[name] for name in RELAYED_FIELDS if name in body}
        core = {name: fields.pop(name) for name in ("model", "max_tokens", "messages")}
        request = ModelRequest(
            agent_id="",
            run_id="",
            model=str(core["model"]),
            system="",
            prompt="",
            tools=[],
            max_tokens=int(core["max_tokens"]),
        )

        def create() -> types.Message:
            return self._client.messages.create(  # type: ignore[no-any-return]
                **core,
                stream=False,
                extra_body=fields or None,
                extra_headers={"anthropic-beta": beta} if beta else None,
                timeout=timeout_seconds,  # explicit: a long answer is expected, not refused
            )

        message, response = self._made(create, request)
        return message.model_dump(mode="json"), response

    def _made(
        self, create: Callable[[], types.Message], request: ModelRequest
    ) -> tuple[types.Message, ModelResponse]:
        """``create`` called under the retry policy; failures translated; the message and
        its response (a reply that is no well-formed message is a MalformedReply)."""
        started = time.monotonic()
        try:
            message = retrying.call(
                create, policy=self._retry, retry_if=_transient, asked=_asked_wait, what=SERVICE
            )
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, request) from exc
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            # the SDK lets a body that does not parse as JSON through as is
            raise MalformedReply(
                SERVICE, f"the reply is not JSON a message can be read from ({type(exc).__name__})"
            ) from exc
        latency_ms = int((time.monotonic() - started) * 1000)
        try:
            return message, _response(message, latency_ms=latency_ms)
        except (TypeError, ValueError, AttributeError) as exc:
            raise MalformedReply(
                SERVICE, f"the reply does not have a message's shape ({type(exc).__name__})"
            ) from exc

    def close(self) -> None:
        """Release the HTTP connections (the model is unusable afterwards)."""
        self._client.close()

    def _translate(self, exc: anthropic.AnthropicError, request: ModelRequest) -> AdapterError:
        if isinstance(exc, anthropic.APITimeoutError):
            return TemporaryAdapterError(
                SERVICE,
                f"no answer from {self._base_url} within {self._timeout_seconds:g} s "
                "(after retries)",
                retry_after=DEFAULT_RETRY_AFTER,
            )
        if isinstance(exc, anthropic.APIConnectionError):
            return TemporaryAdapterError(
                SERVICE,
                f"cannot reach {self._base_url} ({exc.__cause__ or exc}); "
                "check the network or ANTHROPIC_BASE_URL",
                retry_after=DEFAULT_RETRY_AFTER,
            )
        if isinstance(exc, anthropic.APIStatusError):
            return _status_error(exc, request)
        if isinstance(exc, anthropic.APIResponseValidationError):
            return MalformedReply(SERVICE, f"the reply is not a well-formed message: {exc.message}")
        return PermanentAdapterError(SERVICE, f"unexpected answer from the API: {exc}")


def _system(request: ModelRequest) -> list[types.TextBlockParam]:
    """The stable prefix, each block the end of a cached prefix (tools included)."""
    blocks = caching.system_blocks(request)
    assert len(blocks) <= caching.MAX_BREAKPOINTS
    return [{"type": "text", "text": text, "cache_control": _EPHEMERAL} for text in blocks]


def _tools(request: ModelRequest) -> list[types.ToolParam]:
    """The tools, first in the prefix: cached with each system block, no mark of their own."""
    return [
        {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}
        for tool in request.tools
    ]


def _messages(request: ModelRequest) -> list[types.MessageParam]:
    messages: list[types.MessageParam] = [{"role": "user", "content": request.prompt}]
    for turn in request.turns:  # the tool loop: each answer that read, and what it read
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
                    for call in turn.calls
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": result.call_id,
                        "content": result.content,
                        "is_error": result.is_error,
                    }
                    for result in turn.results
                ],
            }
        )
    if request.feedback is None:
        return messages
    if not request.previous:
        messages.append({"role": "user", "content": request.feedback})
        return messages
    uses: list[types.ToolUseBlockParam] = [
        {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
        for call in request.previous
    ]
    results: list[types.ToolResultBlockParam] = [
        {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": request.feedback,
            "is_error": True,
        }
        for call in request.previous
    ]
    messages.append({"role": "assistant", "content": uses})
    messages.append({"role": "user", "content": results})
    return messages


def _response(message: types.Message, *, latency_ms: int) -> ModelResponse:
    calls = [
        ToolCall(id=block.id, name=block.name, input=dict(block.input))
        for block in message.content
        if isinstance(block, types.ToolUseBlock)
    ]
    text = "\n".join(block.text for block in message.content if isinstance(block, types.TextBlock))
    usage = message.usage
    return ModelResponse(
        provider=SERVICE,
        model=message.model,
        tool_calls=calls,
        text=text,
        stop_reason=message.stop_reason,
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
        ),
        latency_ms=max(latency_ms, 0),
    )


def _status_error(exc: anthropic.APIStatusError, request: ModelRequest) -> AdapterError:
    status = exc.status_code
    detail = _api_message(exc)
    if status == 429:
        return _temporary(exc, f"rate limited (HTTP 429) after retries: {detail}")
    if status == 529:
        return _temporary(exc, f"the API is overloaded (HTTP 529): {detail}")
    if status >= 500 or status in (408, 409):
        return _temporary(exc, f"server error (HTTP {status}): {detail}")
    if status == 401:
        message = f"the API key was rejected (HTTP 401: {detail}); check ANTHROPIC_API_KEY"
    elif status == 403:
        message = (
            f"the API key may not do this (HTTP 403: {detail}); check the key's "
            f"workspace and its access to model {request.model!r}"
        )
    elif status == 404:
        message = (
            f"not found (HTTP 404: {detail}); check the model name {request.model!r} "
            "in org/ and ANTHROPIC_BASE_URL"
        )
    elif status == 413:
        message = f"the request is too large (HTTP 413: {detail}); shorten the agent's context"
    else:
        message = f"the request was rejected (HTTP {status}: {detail})"
    return PermanentAdapterError(SERVICE, message)


def _temporary(exc: anthropic.APIStatusError, message: str) -> TemporaryAdapterError:
    retry_after = _retry_after(exc.response.headers)
    return TemporaryAdapterError(
        SERVICE, f"{message}; retry in {retry_after:g} s", retry_after=retry_after
    )


def _transient(exc: BaseException) -> bool:
    """Worth another attempt: what the SDK itself would retry."""
    if isinstance(exc, anthropic.APIConnectionError):  # timeouts included
        return True
    if not isinstance(exc, anthropic.APIStatusError):
        return False
    should = str(exc.response.headers.get("x-should-retry", ""))
    if should in ("true", "false"):
        return should == "true"
    status = int(exc.status_code)
    return status in (408, 409, 429) or status >= 500


def _asked_wait(exc: BaseException) -> float | None:
    if isinstance(exc, anthropic.APIStatusError):
        return _asked_seconds(exc.response.headers)
    return None


def _retry_after(headers: Mapping[str, str]) -> float:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds), else the default."""
    asked = _asked_seconds(headers)
    return DEFAULT_RETRY_AFTER if asked is None else asked


def _asked_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds), if the server said."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def _api_message(exc: anthropic.APIStatusError) -> str:
    """The API's own error message (``{"error": {"message": …}}``), else the SDK's."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            kind = error.get("type")
            prefix = f"{kind}: " if isinstance(kind, str) else ""
            return f"{prefix}{error['message']}"
    return exc.message
