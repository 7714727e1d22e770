"""The gateway: a small HTTP server on a Unix socket, the only way out of a container.

The launcher creates it in a private directory, mounts that directory read-only into the
container at ``/run/aito`` and serves what the container may ask, each route a function
the launcher supplies (absent ones answer 404):

- ``POST /v1/model``: a model call (:class:`~aito.runtime.protocol.ModelCall`)
- ``POST /v1/workers``: a worker for the agent (:class:`~aito.runtime.protocol.WorkerAsk`)
- ``GET /v1/task``: a worker's task (:class:`~aito.runtime.protocol.Task`)
- ``POST /v1/output``: a worker's answer (:class:`~aito.runtime.protocol.Output`)
- ``POST /v1/tools/list``, ``POST /v1/tools/call``: an agent's MCP tools that read,
  listed and called on the launcher's side (:class:`~aito.runtime.protocol.ToolCallAsk`)
- ``POST /v1/tools/write``: a write the run checked and claimed, checked again and made
  on the launcher's side (:class:`~aito.runtime.protocol.ToolWriteAsk`)
- ``POST /v1/messages``: the Messages API, for a ``claude-code`` worker's coding agent
  (a JSON object, size-capped; what it may carry is the handler's to check, see
  :mod:`aito.runtime.messages_relay`); the handler answers raw bytes (JSON or events)

Bodies are size-capped and validated; an invalid one is refused (400) and never reaches
a handler. A handler refuses with :class:`Refusal` (its status and message go back).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import logging
import os
import socketserver
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from aito.errors import AitoError
from aito.runtime import protocol

log = logging.getLogger(__name__)


class Refusal(AitoError):
    """The gateway refuses a request (``status`` is the HTTP status it answers)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclasses.dataclass
class Routes:
    """What this container may ask; None: not this container's to ask."""

    model: Callable[[protocol.ModelCall], protocol.ModelReply] | None = None
    workers: Callable[[protocol.WorkerAsk], protocol.WorkerReply] | None = None
    task: Callable[[], protocol.Task] | None = None
    output: Callable[[protocol.Output], None] | None = None
    tools_list: Callable[[protocol.ToolsAsk], protocol.ToolList] | None = None
    tools_call: Callable[[protocol.ToolCallAsk], protocol.ToolCallReply] | None = None
    tools_write: Callable[[protocol.ToolWriteAsk], protocol.ToolCallReply] | None = None
    messages: Callable[[dict[str, Any], Mapping[str, str]], RawAnswer] | None = None


@dataclasses.dataclass(frozen=True)
class RawAnswer:
    """A reply sent as is (the Messages API's JSON or server-sent events)."""

    status: int
    body: bytes
    content_type: str = "application/json"


_POSTS: dict[str, tuple[str, type[BaseModel]]] = {
    "/v1/model": ("model", protocol.ModelCall),
    "/v1/workers": ("workers", protocol.WorkerAsk),
    "/v1/output": ("output", protocol.Output),
    "/v1/tools/list": ("tools_list", protocol.ToolsAsk),
    "/v1/tools/call": ("tools_call", protocol.ToolCallAsk),
    "/v1/tools/write": ("tools_write", protocol.ToolWriteAsk),
}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    routes: Routes


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("gateway: " + format, *args)

    def address_string(self) -> str:
        return "container"

    def do_GET(self) -> None:
        if self.path != "/v1/task" or self.server.routes.task is None:
            self._send(404, protocol.Refused(error=f"no GET {self.path[:100]} here"))
            return
        self._answer(self.server.routes.task)

    def do_POST(self) -> None:
        if self.path.split("?")[0] == "/v1/messages" and self.server.routes.messages:
            self._messages(self.server.routes.messages)
            return
        route = _POSTS.get(self.path)
        handler = getattr(self.server.routes, route[0]) if route else None
        if route is None or handler is None:
            self._send(404, protocol.Refused(error=f"no POST {self.path[:100]} here"))
            return
        raw = self._read_body()
        if raw is None:
            return
        try:
            body = route[1].model_validate_json(raw)
        except ValidationError as exc:
            self._send(400, protocol.Refused(error=f"invalid {self.path}: {exc}"[:4000]))
            return
        self._answer(lambda: handler(body))

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length < 0 or length > protocol.MAX_BODY:
            self.close_connection = True
            self._send(413, protocol.Refused(error=f"a body of 0 to {protocol.MAX_BODY} bytes"))
            return None
        return self.rfile.read(length)

    def _messages(self, handler: Callable[[dict[str, Any], Mapping[str, str]], RawAnswer]) -> None:
        raw = self._read_body()
        if raw is None:
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send(400, protocol.Refused(error="the body is not a JSON object"))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            answer = handler(body, headers)
        except Exception as exc:  # the launcher's own failure: told, not hung
            log.exception("gateway: %s failed", self.path)
            answer = RawAnswer(
                500,
                protocol.Refused(error=f"the launcher failed: {exc}"[:2000])
                .model_dump_json()
                .encode(),
            )
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def _answer(self, call: Callable[[], BaseModel | None]) -> None:
        try:
            reply = call()
        except Refusal as exc:
            self._send(exc.status, protocol.Refused(error=str(exc)))
            return
        except Exception as exc:  # the launcher's own failure: the container is told, not hung
            log.exception("gateway: %s failed", self.path)
            self._send(500, protocol.Refused(error=f"the launcher failed: {exc}"[:2000]))
            return
        self._send(200, reply)

    def _send(self, status: int, reply: BaseModel | None) -> None:
        data = (reply or protocol.Done()).model_dump_json().encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def is_another_user(user: str) -> bool:
    """Whether a container running as ``user`` (``uid:gid``) is not this process's user."""
    return user != f"{os.getuid()}:{os.getgid()}"


def socket_mode(*, for_another_user: bool) -> int:
    return 0o666 if for_another_user else 0o600


@contextlib.contextmanager
def serving(
    routes: Routes, *, parent: Path | None = None, for_another_user: bool = True
) -> Iterator[Path]:
    """Serve ``routes`` on ``<private dir>/gateway.sock``; yields the directory (the one
    to mount). The directory and socket are removed when the block ends.

    They are the launcher's alone when the container runs as the launcher's own user (a
    runner); for a container of another user (a root launcher's, uid 10001) it may enter
    the directory and connect, nothing more: no one lists the directory, whose name is
    random."""
    directory = Path(tempfile.mkdtemp(prefix="aito-gw-", dir=parent))
    socket_path = directory / "gateway.sock"
    server = _Server(str(socket_path), _Handler)
    server.routes = routes
    directory.chmod(0o711 if for_another_user else 0o700)
    socket_path.chmod(socket_mode(for_another_user=for_another_user))
    try:
        with in_background(server, socket_path, name="aito-gateway"):
            yield directory
    finally:
        with contextlib.suppress(OSError):
            directory.rmdir()


@contextlib.contextmanager
def in_background(
    server: socketserver.UnixStreamServer, socket_path: Path, *, name: str
) -> Iterator[None]:
    """Serve in a daemon thread while the block runs; then stop and remove the socket."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        with contextlib.suppress(OSError):
            socket_path.unlink()
