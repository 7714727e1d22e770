"""A local JSON API for the connectors' tests: answers every method (GET, POST, …) through
a route the test gives (the service's documented replies) and records each request:
method, path, query, headers and JSON body."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    """Each parameter's last value."""
    headers: dict[str, str]
    """Names in lower case."""
    body: Any
    """The decoded JSON body (None when there was none)."""


Answer = tuple[int, Any, dict[str, str]]
"""HTTP status, JSON body (None: an empty body), extra headers."""
Route = Callable[[Request], Answer]


@dataclasses.dataclass
class Api:
    port: int
    received: list[Request] = dataclasses.field(default_factory=list)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def api(route: Route) -> Iterator[Api]:
    state = Api(port=0)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urllib.parse.urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=json.loads(raw) if raw.strip() else None,
            )
            state.received.append(request)
            status, body, headers = route(request)
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

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


def verbose_serve(connector: str, log: Path) -> list[str]:
    """The command of `aito -vv mcp serve CONNECTOR` (its log as verbose as it gets), its
    stderr appended to ``log``: what a test reads for a leaked secret."""
    python, kept = shlex.quote(sys.executable), shlex.quote(str(log))
    return ["/bin/sh", "-c", f"exec {python} -m aito -vv mcp serve {connector} 2>>{kept}"]
