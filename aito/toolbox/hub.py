"""The MCP servers of one run, on the trusted side: started, listed and called here.

Every server a worker kind may use runs beside its launcher, never in the worker's
sandbox: a stdio server is a subprocess of its own whose environment holds only its own
secrets (the names its org.yaml entry lists), its allowed hosts (``AITO_MCP_DOMAINS``)
and the basics (PATH, HOME); a URL server is reached only if its host is allowed. So a
sandbox has no secret to leak and no network to leak it on, and what a worker calls is
checked and recorded here (:mod:`aito.toolbox.calling`).

The ``mcp`` SDK is asynchronous; the hub runs its sessions on an event loop in a thread of
its own and offers plain calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, Tool

from aito.connectors import fetching
from aito.errors import ConfigError, PermissionDenied, TemporaryAdapterError
from aito.org.mcp_servers import McpServer

log = logging.getLogger(__name__)
T = TypeVar("T")
START_SECONDS = 30.0
"""How long a server may take to start and list its tools."""
CALL_SECONDS = 60.0
"""How long one tool call may take."""
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR", "SSL_CERT_FILE")
"""What of the launcher's environment every server gets besides its own secrets."""
SEPARATOR = "__"
"""Between a server's and a tool's name in what the model is offered."""


@dataclasses.dataclass(frozen=True)
class RemoteTool:
    """A tool of one of the run's servers."""

    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    """Called during the worker's loop; otherwise a write, which only a checked action
    can make."""

    @property
    def qualified(self) -> str:
        """The name the model sees: `<server>__<tool>` (letters, digits, _ and -)."""
        return qualified_name(self.server, self.name)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one call gave back, as text for the model."""

    text: str
    is_error: bool
    duration_ms: float
    structured: dict[str, Any] | None = None


def qualified_name(server: str, tool: str) -> str:
    return f"{server}{SEPARATOR}{re.sub(r'[^A-Za-z0-9_-]', '_', tool)}"[:64]


class Hub:
    """Opens ``servers`` (name → entry), lists their tools and calls them."""

    def __init__(
        self,
        servers: Mapping[str, McpServer],
        *,
        environ: Mapping[str, str] | None = None,
        start_seconds: float = START_SECONDS,
    ) -> None:
        self.servers = dict(servers)
        self._environ = dict(os.environ if environ is None else environ)
        self._start_seconds = start_seconds
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-hub", daemon=True)
        # (the loop is closed by close(), which open() calls itself when it fails)
        self._stack: contextlib.AsyncExitStack | None = None
        self._clients: dict[str, Client] = {}
        self._tools: dict[str, RemoteTool] = {}

    def __enter__(self) -> Hub:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Start every server and list its tools; a server that cannot start is an error
        naming it (a run never goes on with fewer tools than its files give it)."""
        try:
            for name, server in self.servers.items():
                missing = [env for env in server.env if not self._environ.get(env)]
                if missing:
                    raise ConfigError(
                        f"the MCP server {name!r} needs {', '.join(missing)} in the "
                        "environment (on a runner: runner/.env or the workflow's secrets)"
                    )
            self._thread.start()
            self._run(self._open(), timeout=self._start_seconds * max(1, len(self.servers)))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop every server (each subprocess ends with its session)."""
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._run(self._close(), timeout=self._start_seconds)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self._start_seconds)
        if not self._loop.is_closed() and not self._loop.is_running():
            self._loop.close()

    def tools(self) -> list[RemoteTool]:
        return list(self._tools.values())

    def tool(self, qualified: str) -> RemoteTool | None:
        return self._tools.get(qualified)

    def call(
        self, server: str, tool: str, arguments: Mapping[str, Any], *, timeout: float = CALL_SECONDS
    ) -> Outcome:
        """Call ``tool`` of ``server``: an error result (not an exception) when the tool
        failed; PermissionDenied for a server or tool this run does not have."""
        client = self._clients.get(server)
        if client is None or self._tools.get(qualified_name(server, tool)) is None:
            raise PermissionDenied(f"this run has no tool {tool!r} of an MCP server {server!r}")
        started = time.perf_counter()
        try:
            result = self._run(client.call_tool(tool, dict(arguments)), timeout=timeout)
        except TimeoutError:
            return Outcome(
                f"{server}.{tool} took longer than {timeout:.0f} s", True, timeout * 1000
            )
        elapsed = (time.perf_counter() - started) * 1000
        return _outcome(result, elapsed)

    def write(self, action: Mapping[str, Any], *, ref: str) -> Outcome:
        """A write the run checked and claimed (on this side: the check was made here)."""
        tool = self._tools.get(str(action.get("tool", "")))
        if tool is None or tool.read_only:
            raise PermissionDenied(f"this run has no tool that writes named {action.get('tool')!r}")
        return self.call(tool.server, tool.name, dict(action.get("arguments") or {}))

    async def _open(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        for name, server in self.servers.items():
            client = Client(self._transport(name, server), read_timeout_seconds=CALL_SECONDS)
            self._clients[name] = await self._stack.enter_async_context(client)
            listed = await self._clients[name].list_tools()
            for tool in listed.tools:
                remote = _remote(name, server, tool)
                self._tools[remote.qualified] = remote

    async def _close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()

    def _transport(self, name: str, server: McpServer) -> StdioServerParameters | str:
        if server.url is not None:
            fetching.check_url(str(server.url), server.hosts())
            return str(server.url)
        command = list(server.command or [])
        if command[0] == "aito":  # AITO's own connectors: this very installation
            command = [sys.executable, "-m", "aito", *command[1:]]
        env = {key: self._environ[key] for key in PASSED_ENV if key in self._environ}
        env.update({key: self._environ[key] for key in server.env})
        env[fetching.DOMAINS_ENV] = ",".join(server.hosts())
        return StdioServerParameters(command=command[0], args=command[1:], env=env)

    def _run(self, coroutine: Coroutine[Any, Any, T], *, timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise TimeoutError(str(exc)) from exc
        except OSError as exc:
            raise TemporaryAdapterError(
                "mcp", f"an MCP server could not be reached: {exc}"
            ) from exc


def _remote(server: str, entry: McpServer, tool: Tool) -> RemoteTool:
    hinted = bool(tool.annotations is not None and tool.annotations.read_only_hint)
    return RemoteTool(
        server=server,
        name=tool.name,
        description=(tool.description or "")[:1000],
        input_schema=dict(tool.input_schema),
        read_only=(not entry.writes) or hinted,
    )


def _outcome(result: CallToolResult, elapsed_ms: float) -> Outcome:
    parts = [str(getattr(item, "text", "")) for item in result.content if hasattr(item, "text")]
    structured = result.structured_content
    text = "\n".join(p for p in parts if p)
    return Outcome(
        text=text,
        is_error=bool(result.is_error),
        duration_ms=elapsed_ms,
        structured=dict(structured) if isinstance(structured, dict) else None,
    )


def servers_of(entries: Mapping[str, McpServer], names: Iterable[str]) -> dict[str, McpServer]:
    """The servers an agent or worker kind lists (and the organization has)."""
    return {name: entries[name] for name in names if name in entries}
