"""A local JSON API for the connectors' tests: each request (GET, POST, PATCH) is recorded
(method, path, query, headers, decoded JSON body) and answered by a function the test
gives, in the service's own format (a JSON-RPC node, a GraphQL endpoint, a REST API)."""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    """Each parameter's (last) value, decoded."""
    headers: dict[str, str]
    """Names in lower case."""
    body: Any
    """The decoded JSON body (None when there was none)."""


Answer = Callable[[Request], tuple[int, Any]]
"""A request → (the HTTP status, the JSON body to answer; None: an empty body)."""


@dataclasses.dataclass
class JsonApi:
    port: int
    received: list[Request] = dataclasses.field(default_factory=list)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def json_api(answer: Answer) -> Iterator[JsonApi]:
    state = JsonApi(port=0)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size) if size else b""
            request = Request(
                method=self.command,
                path=parts.path,
                query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=json.loads(raw) if raw.strip() else None,
            )
            state.received.append(request)
            status, reply = answer(request)
            body = b"" if reply is None else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PATCH(self) -> None:
            self._handle()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
