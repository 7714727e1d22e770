"""A local Anthropic: an HTTP server that speaks the Messages API wire format.

Serves ``POST /v1/messages`` on 127.0.0.1 so :class:`aito.llm.anthropic.AnthropicModel`
is tested through the real ``anthropic`` SDK (nothing of ours is mocked). Answers are
built from the SDK's own types (``Message``, ``ToolUseBlock``, ``TextBlock``,
``Usage``) and serialised with ``model_dump_json``, so they have the wire shape; errors
have Anthropic's shape (``{"type": "error", "error": {"type": …, "message": …}}``).

It checks what the real API checks first: the ``x-api-key`` (401
``authentication_error`` when missing or not the server's key), ``anthropic-version``
and a JSON body with ``model``, ``max_tokens`` and ``messages`` (400
``invalid_request_error``).

Scripting: :meth:`FakeAnthropic.plan` queues replies (:func:`tool_use`, :func:`text`,
:func:`rate_limited`, :func:`overloaded`, :func:`server_error`, :func:`malformed`,
:func:`raw`, :func:`held`, or a function making one from the request's body);
each request takes the next one. With the queue empty it calls the ``summary`` tool
with ``{"text": "nothing to do"}``. Every request received (also rejected ones) is in
:attr:`FakeAnthropic.requests`.

Usage is simulated: input is ``len(json)/4`` tokens of ``tools``, ``system`` and
``messages``, read in that order as one prefix. Each block marked ``cache_control``
(a tool, a system block, a message's content block; at most four, else 400 as the
real API answers) ends a cacheable prefix: a request reads the longest marked prefix
an earlier request wrote (``cache_read_input_tokens``), writes the longer marked ones
(``cache_creation_input_tokens``) and the rest stays ``input_tokens``. System blocks
must be non-empty text.

Streaming: a request with ``"stream": true`` is answered as the API streams (server-sent
events ``message_start``, ``content_block_start``/``_delta``/``_stop`` per block,
``message_delta`` with the stop reason and output tokens, ``message_stop``), the whole
answer at once. Not modelled: the minimum cacheable length, cache expiry, token
counting, other endpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from anthropic import types

API_KEY = "sk-ant-test-key"
VERSION = "2023-06-01"
DEFAULT_CALL = ("summary", {"text": "nothing to do"})


@dataclasses.dataclass(frozen=True)
class ToolUseReply:
    calls: tuple[tuple[str, dict[str, Any]], ...]
    text: str = ""


@dataclasses.dataclass(frozen=True)
class TextReply:
    text: str


@dataclasses.dataclass(frozen=True)
class ErrorReply:
    status: int
    error_type: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class RawReply:
    """Exactly these bytes, with this status and content type (a broken server or proxy)."""

    status: int
    body: bytes
    content_type: str


@dataclasses.dataclass(frozen=True)
class HeldReply:
    """``reply``, sent only once the test calls :meth:`release` (a slow answer: the test
    acts while the request is in flight; :attr:`arrived` is set when it came)."""

    reply: ToolUseReply | TextReply | ErrorReply | RawReply
    arrived: threading.Event = dataclasses.field(default_factory=threading.Event)
    released: threading.Event = dataclasses.field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


Reply = ToolUseReply | TextReply | ErrorReply | RawReply | HeldReply
Planned = Reply | Callable[[dict[str, Any]], Reply]
"""A reply, or how to make it from the request's body (e.g. a path the request names)."""


def tool_use(*calls: tuple[str, dict[str, Any]], text: str = "") -> ToolUseReply:
    """An answer calling these tools (``(name, input)`` pairs), optionally after some text."""
    return ToolUseReply(calls=calls, text=text)


def malformed(name: str, bad_input: dict[str, Any]) -> ToolUseReply:
    """A tool call whose input will not validate against the tool's schema."""
    return ToolUseReply(calls=((name, bad_input),))


def text(answer: str) -> TextReply:
    """A plain text answer (no tool call; ``stop_reason`` ``end_turn``)."""
    return TextReply(answer)


def raw(
    body: str | bytes, *, status: int = 200, content_type: str = "application/json"
) -> RawReply:
    """A reply of these bytes as is: HTML from a proxy, JSON that does not parse or lacks
    the fields a message has, escapes no valid text has (``\\u0000``, lone surrogates)."""
    return RawReply(status, body.encode() if isinstance(body, str) else body, content_type)


def held(reply: ToolUseReply | TextReply | ErrorReply | RawReply) -> HeldReply:
    """``reply``, held back until released (see :class:`HeldReply`)."""
    return HeldReply(reply)


def rate_limited(*, retry_after_ms: int | None = 50, retry_after: str | None = None) -> ErrorReply:
    """429 ``rate_limit_error`` with ``retry-after-ms`` and/or ``retry-after`` headers."""
    headers: list[tuple[str, str]] = []
    if retry_after_ms is not None:
        headers.append(("retry-after-ms", str(retry_after_ms)))
    if retry_after is not None:
        headers.append(("retry-after", retry_after))
    return ErrorReply(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        tuple(headers),
    )


def overloaded(*, retry_after_ms: int | None = 50) -> ErrorReply:
    """529 ``overloaded_error``."""
    headers = () if retry_after_ms is None else (("retry-after-ms", str(retry_after_ms)),)
    return ErrorReply(529, "overloaded_error", "Overloaded", headers)


def server_error(*, retry_after_ms: int | None = 50) -> ErrorReply:
    """500 ``api_error``."""
    headers = () if retry_after_ms is None else (("retry-after-ms", str(retry_after_ms)),)
    return ErrorReply(500, "api_error", "Internal server error", headers)


@dataclasses.dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON, or None when it was not JSON


class FakeAnthropic:
    """The server's state: planned replies, received requests, the prompt cache."""

    def __init__(self, *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.base_url = ""
        self.requests: list[ReceivedRequest] = []
        self._planned: list[Planned] = []
        self._cached: set[str] = set()  # keys of the prefixes written to the cache
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def plan(self, *replies: Planned) -> None:
        """Queue replies; each request takes the next (then the default tool call)."""
        with self._lock:
            self._planned.extend(replies)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._planned)

    def handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, str | bytes, dict[str, str]]:
        """One HTTP exchange: (status, body, extra headers; `content-type` among them
        when it is not JSON)."""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(ReceivedRequest(method, path, headers, body))
            problem = self._check(method, path, headers, body)
            if problem is not None:
                return problem
            planned = self._planned.pop(0) if self._planned else tool_use(DEFAULT_CALL)
            reply = planned(body) if callable(planned) else planned
        if isinstance(reply, HeldReply):
            reply.arrived.set()
            reply.released.wait(120)
            reply = reply.reply
        with self._lock:
            if isinstance(reply, ErrorReply):
                return _error(reply.status, reply.error_type, reply.message, dict(reply.headers))
            if isinstance(reply, RawReply):
                return reply.status, reply.body, {"content-type": reply.content_type}
            message = self._message(body, reply)
            if body.get("stream") is True:
                return 200, _events(message), {"content-type": "text/event-stream"}
            return 200, message.model_dump_json(), {}

    def _check(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, str, dict[str, str]] | None:
        if path.split("?")[0] != "/v1/messages":
            return _error(404, "not_found_error", f"Not found: {path}")
        if method != "POST":
            return _error(405, "invalid_request_error", f"Method {method} not allowed")
        key = headers.get("x-api-key")
        if not key:
            return _error(401, "authentication_error", "x-api-key header is required")
        if key != self.api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error", "The request body is not valid JSON")
        for field in ("model", "max_tokens", "messages"):
            if field not in body:
                return _error(400, "invalid_request_error", f"{field}: Field required")
        if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
            return _error(400, "invalid_request_error", "max_tokens: must be a positive integer")
        if not isinstance(body["messages"], list) or not body["messages"]:
            return _error(
                400, "invalid_request_error", "messages: at least one message is required"
            )
        system = body.get("system")
        if isinstance(system, list):
            for block in system:
                if not isinstance(block, dict) or block.get("type") != "text":
                    return _error(400, "invalid_request_error", "system: blocks must be text")
                if not str(block.get("text") or "").strip():
                    return _error(
                        400,
                        "invalid_request_error",
                        "system: text content blocks must be non-empty",
                    )
        marked = [item for item, mark in _prefix_items(body) if mark is not None]
        for _, mark in _prefix_items(body):
            if mark is not None and (
                not isinstance(mark, dict)
                or mark.get("type") != "ephemeral"
                or mark.get("ttl", "5m") not in ("5m", "1h")
            ):
                return _error(400, "invalid_request_error", f"cache_control: invalid {mark!r}")
        if len(marked) > 4:
            return _error(
                400,
                "invalid_request_error",
                f"A maximum of 4 blocks with cache_control may be provided. Found {len(marked)}.",
            )
        return None

    def _message(self, body: dict[str, Any], reply: ToolUseReply | TextReply) -> types.Message:
        content: list[types.TextBlock | types.ToolUseBlock] = []
        if reply.text:
            content.append(types.TextBlock(type="text", text=reply.text))
        if isinstance(reply, ToolUseReply):
            content.extend(
                types.ToolUseBlock(
                    type="tool_use", id=self.new_id("toolu"), name=name, input=tool_input
                )
                for name, tool_input in reply.calls
            )
        tool_calls = isinstance(reply, ToolUseReply) and reply.calls
        return types.Message(
            id=self.new_id("msg"),
            type="message",
            role="assistant",
            model=body["model"],
            content=content,
            stop_reason="tool_use" if tool_calls else "end_turn",
            stop_sequence=None,
            usage=self._usage(body, content),
        )

    def _usage(self, body: dict[str, Any], content: list[Any]) -> types.Usage:
        output = _tokens(_json([block.model_dump(exclude_none=True) for block in content]))
        digest = hashlib.sha256(body["model"].encode())
        marks: list[tuple[str, int]] = []  # (prefix key, its tokens) at each marked block
        text = ""
        for item, mark in _prefix_items(body):
            piece = _json(item)
            digest.update(piece.encode())
            text += piece
            if mark is not None:
                marks.append((digest.hexdigest(), _tokens(text)))
        total = _tokens(text)
        read = next((tokens for key, tokens in reversed(marks) if key in self._cached), 0)
        written = 0
        for key, tokens in marks:
            if tokens > read:
                self._cached.add(key)
                written = tokens - read
        return types.Usage(
            input_tokens=total - read - written,
            output_tokens=output,
            cache_creation_input_tokens=written,
            cache_read_input_tokens=read,
        )


def _prefix_items(body: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Everything a request's prompt holds, in the API's order (tools, system, messages),
    each with its ``cache_control`` (None when unmarked)."""
    items: list[tuple[Any, Any]] = []
    for tool in body.get("tools") or []:
        items.append((tool, tool.get("cache_control") if isinstance(tool, dict) else None))
    system = body.get("system")
    if isinstance(system, str):
        items.append((system, None))
    elif isinstance(system, list):
        items += [(b, b.get("cache_control") if isinstance(b, dict) else None) for b in system]
    for message in body.get("messages") or []:
        blocks = message.get("content") if isinstance(message, dict) else None
        if isinstance(blocks, list):
            items += [(b, b.get("cache_control") if isinstance(b, dict) else None) for b in blocks]
        else:
            items.append((message, None))
    return items


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _tokens(text: str) -> int:
    return len(text) // 4


def _error(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return status, json.dumps(body), headers or {}


def _events(message: types.Message) -> bytes:
    """``message`` as the Messages API streams it (server-sent events)."""
    events: list[tuple[str, dict[str, Any]]] = []
    start = message.model_dump(mode="json")
    start.update(content=[], stop_reason=None)
    start["usage"] = {**start["usage"], "output_tokens": 1}
    events.append(("message_start", {"type": "message_start", "message": start}))
    for index, block in enumerate(message.content):
        if isinstance(block, types.TextBlock):
            opened: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block.text}
        else:
            assert isinstance(block, types.ToolUseBlock)
            opened = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block.input)}
        events += [
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opened},
            ),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": message.usage.output_tokens},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def _handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, payload, extra = fake.handle(self.command, self.path, headers, raw)
            data = payload if isinstance(payload, bytes) else payload.encode()
            self.send_response(status)
            self.send_header("content-type", extra.pop("content-type", "application/json"))
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", fake.new_id("req"))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # the client may have died meanwhile (a crash test)

        do_POST = _serve  # noqa: N815 - http.server's naming
        do_GET = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_fake_anthropic(*, api_key: str = API_KEY) -> Iterator[FakeAnthropic]:
    """Start the server on a free port of 127.0.0.1; ``base_url`` points at it."""
    fake = FakeAnthropic(api_key=api_key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="fake-anthropic",
        daemon=True,
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
