"""What crosses the gateway socket: JSON bodies, each a pydantic model.

Everything a container sends is untrusted: the gateway validates it here first, then
checks it against what the launcher knows (whose run, which model, which call).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aito.llm.base import ModelRequest, ModelResponse, ToolCall, ToolTurn
from aito.toolbox import hub

MAX_BODY = 4_000_000
"""Bytes one request may carry; a larger one is refused before it is read."""
MAX_CALLS = 20
"""Model calls one run may make through the gateway (two answers and at most
`mcp.max_turns`, 16, answers that read)."""


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelCall(Message):
    """One model call of a run: its index in the run (names its budget reservation)."""

    index: int = Field(ge=0, lt=MAX_CALLS)
    request: ModelRequest


class ModelReply(Message):
    """The answer, or why there is none: ``refused`` (a budget), ``malformed`` (the
    provider's reply could not be read) or ``error`` (the provider failed)."""

    response: ModelResponse | None = None
    refused: dict[str, Any] | None = None
    malformed: str | None = None
    error: str | None = None
    temporary: bool = False
    turn: ToolTurn | None = None
    """The answer read (a sandboxed worker's tool loop): the trusted side made its reads
    and gives their results; the next call's request carries every turn so far."""


class WorkerAsk(Message):
    """An agent asks for a worker (its ``spawn_worker`` action, already checked there;
    checked again here)."""

    requester_run: str
    position: int = Field(ge=0, lt=1000)
    kind: str
    task: str
    instructions: str = Field(max_length=20_000)


class WorkerReply(Message):
    """The worker's run, as `aito agent run --json` prints one."""

    outcome: dict[str, Any]


class Task(Message):
    """What a worker is asked: the first request, and how many calls it may make.

    A ``claude-code`` worker also gets the ``title`` of its pull request, its ``brief``
    (the task in words), the ``files`` it may change (a copy: path → text) and its
    ``max_turns``; it thinks through
    ``POST /v1/messages`` (the Messages API, relayed by the launcher) instead of
    ``/v1/model``."""

    request: ModelRequest
    first_index: int = Field(ge=0)
    attempts: int = Field(ge=0)
    engine: Literal["aito", "claude-code"] = "aito"
    title: str = Field("", max_length=200)
    brief: str = ""
    files: dict[str, str] = Field(default_factory=dict)
    max_turns: int = Field(0, ge=0)


class Output(Message):
    """A worker's answer: the actions it chose (tool calls), checked on the trusted side."""

    tool_calls: list[ToolCall] = Field(max_length=100)
    note: str = Field("", max_length=2000)


class ToolsAsk(Message):
    """An agent's run in a container asks for the tools of its MCP servers."""


class ToolDescription(Message):
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool

    @property
    def qualified(self) -> str:
        return hub.qualified_name(self.server, self.name)


class ToolList(Message):
    """The tools of the run's MCP servers (open on the launcher's side)."""

    tools: list[ToolDescription]


class ToolCallAsk(Message):
    """A call of one tool that reads (the launcher refuses any other)."""

    server: str = Field(max_length=63)
    tool: str = Field(max_length=200)
    arguments: dict[str, Any]


class ToolWriteAsk(Message):
    """A write an agent's run checked and claimed (``ref``), made on the launcher's side
    after the launcher's own checks."""

    action: dict[str, Any]
    ref: str = Field(max_length=400)


class ToolCallReply(Message):
    text: str
    is_error: bool
    duration_ms: float
    structured: dict[str, Any] | None = None


class Done(Message):
    """Received (nothing to report)."""


class Refused(Message):
    """Why the gateway said no (HTTP 4xx)."""

    error: str
