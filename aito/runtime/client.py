"""Inside a container: the gateway's client, and the model port that calls through it.

:class:`GatewayModel` is what `bootstrap.model` returns when `AITO_MODEL_GATEWAY` is set:
the key and the budget are the launcher's. It is ``gated``: the run does not reserve
budget itself (the gateway reserves each call before forwarding it and settles it
after); it still saves each exchange and writes its usage row, which the gateway's row
for the same call makes a no-op.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from aito.agent import acting, executing, runs
from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.llm.base import GatewayRefused, LauncherGone, MalformedReply, ModelRequest, ModelResponse
from aito.org.mcp_servers import McpServer
from aito.runtime import protocol

Reply = TypeVar("Reply", bound=BaseModel)
SERVICE = "model gateway"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, *, timeout: float) -> None:
        super().__init__("gateway", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self._path))
        self.sock = sock


class GatewayClient:
    """One request per connection (the gateway is local; simplicity over reuse)."""

    def __init__(self, path: Path, *, timeout: float = 900.0) -> None:
        self.path = path
        self.timeout = timeout

    def call(self, method: str, route: str, body: BaseModel | None, reply: type[Reply]) -> Reply:
        connection = _UnixConnection(self.path, timeout=self.timeout)
        try:
            data = body.model_dump_json().encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, route, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except OSError as exc:  # no one listens, or the launcher died mid-call
            raise LauncherGone(SERVICE, f"{self.path}: {exc}") from exc
        finally:
            connection.close()
        if response.status != 200:
            try:
                error = protocol.Refused.model_validate_json(raw).error
            except ValidationError:
                error = raw[:500].decode(errors="replace")
            raise PermanentAdapterError(SERVICE, f"{route} refused ({response.status}): {error}")
        return reply.model_validate_json(raw)

    def forward(
        self, route: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, str, bytes]:
        """A request passed on as is (a coding agent's Messages API call): its status,
        content type and body, whatever they are."""
        connection = _UnixConnection(self.path, timeout=self.timeout)
        try:
            connection.request("POST", route, body=body, headers=dict(headers))
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        except OSError as exc:
            raise LauncherGone(SERVICE, f"{self.path}: {exc}") from exc
        finally:
            connection.close()

    def model(self, call: protocol.ModelCall) -> protocol.ModelReply:
        return self.call("POST", "/v1/model", call, protocol.ModelReply)

    def workers(self, ask: protocol.WorkerAsk) -> protocol.WorkerReply:
        return self.call("POST", "/v1/workers", ask, protocol.WorkerReply)

    def task(self) -> protocol.Task:
        return self.call("GET", "/v1/task", None, protocol.Task)

    def output(self, output: protocol.Output) -> None:
        self.call("POST", "/v1/output", output, protocol.Done)

    def tools_list(self) -> protocol.ToolList:
        return self.call("POST", "/v1/tools/list", protocol.ToolsAsk(), protocol.ToolList)

    def tools_call(self, ask: protocol.ToolCallAsk) -> protocol.ToolCallReply:
        return self.call("POST", "/v1/tools/call", ask, protocol.ToolCallReply)

    def tools_write(self, ask: protocol.ToolWriteAsk) -> protocol.ToolCallReply:
        return self.call("POST", "/v1/tools/write", ask, protocol.ToolCallReply)


class GatewayTools:
    """A run in a container reads through its launcher: the MCP servers (and their
    secrets) stay on the launcher's side, which refuses anything but their reads."""

    def __init__(self, client: GatewayClient) -> None:
        self._client = client
        self._tools = {t.qualified: t for t in client.tools_list().tools}

    def tools(self) -> list[protocol.ToolDescription]:
        return list(self._tools.values())

    def tool(self, qualified: str) -> protocol.ToolDescription | None:
        return self._tools.get(qualified)

    def call(self, server: str, tool: str, arguments: Mapping[str, Any]) -> protocol.ToolCallReply:
        return self._client.tools_call(
            protocol.ToolCallAsk(server=server, tool=tool, arguments=dict(arguments))
        )

    def write(self, action: Mapping[str, Any], *, ref: str) -> protocol.ToolCallReply:
        return self._client.tools_write(protocol.ToolWriteAsk(action=dict(action), ref=ref))


def gateway_tools(
    path: Path,
) -> Callable[[Mapping[str, McpServer]], contextlib.AbstractContextManager[GatewayTools]]:
    """The tools opener of a run in a container (the servers are the launcher's choice)."""

    @contextlib.contextmanager
    def opened(servers: Mapping[str, McpServer]) -> Iterator[GatewayTools]:
        yield GatewayTools(GatewayClient(path))

    return opened


class GatewayModel:
    """The model port of a run in a container."""

    gated = True

    def __init__(self, client: GatewayClient, *, provider: str) -> None:
        self._client = client
        self._provider = provider
        self._calls: dict[str, int] = {}

    @property
    def provider(self) -> str:
        return self._provider

    def complete(self, request: ModelRequest) -> ModelResponse:
        """Not through a gateway: each call must say its index (its budget reservation)."""
        raise PermanentAdapterError(
            SERVICE, "a model call through the gateway needs its index (complete_at)"
        )

    def complete_at(self, request: ModelRequest, *, index: int) -> ModelResponse:
        reply = self._client.model(protocol.ModelCall(index=index, request=request))
        return answer(reply)


def answer(reply: protocol.ModelReply) -> ModelResponse:
    """The response a reply carries, or the error the thinking step expects for it."""
    if reply.response is not None:
        return reply.response
    if reply.refused is not None:
        raise GatewayRefused(reply.refused)
    if reply.malformed is not None:
        raise MalformedReply(SERVICE, reply.malformed)
    if reply.temporary:
        raise TemporaryAdapterError(SERVICE, reply.error or "the provider failed")
    raise PermanentAdapterError(SERVICE, reply.error or "the provider failed")


def spawner(client: GatewayClient) -> acting.RunWorker:
    """How a run in a container spawns workers: it asks its launcher, which checks the
    request again, runs the worker (sandboxed) and reports its run."""

    def run(kind: str, run_id: str, request: executing.WorkerRequest) -> runs.RunOutcome:
        reply = client.workers(
            protocol.WorkerAsk(
                requester_run=request.requester_run,
                position=request.position,
                kind=request.kind,
                task=request.task,
                instructions=request.instructions,
            )
        )
        return runs.outcome_from_json(reply.outcome)

    return run
