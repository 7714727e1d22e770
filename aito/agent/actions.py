"""The action schema: everything an agent can do, as one pydantic union.

The prompt's action reference, the model's tools, validation of its answer and
the executor all come from these classes, so they cannot disagree. A tool call
named ``open_pr`` with input ``{...}`` is the action ``{"type": "open_pr", ...}``;
an unknown type is an error (never ignored).

Fields that carry numbers about the world cite the verified facts they come from
(``cites``: fact ids from the context); the checker refuses a citation of a fact
that was not in the context, so an agent cannot present an invented metric as data.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from aito.org.agents import Severity
from aito.org.common import Slug
from aito.org.organization import Tier
from aito.org.records import TaskStatus

Text = Annotated[str, Field(min_length=1, max_length=4000)]
Title = Annotated[str, Field(min_length=3, max_length=200)]
FactIds = Annotated[
    list[str], Field(default_factory=list, description="ids of verified facts this relies on")
]
MAX_FILE_BYTES = 64_000
MAX_FILES = 20


class ActionModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    def content_key(self) -> str:
        """What makes two actions "the same" for dedup and loop detection (no ids, no times)."""
        data = self.model_dump(mode="json", exclude={"cites"})
        return json.dumps(data, sort_keys=True, ensure_ascii=False)


FileMap = Annotated[
    dict[
        Annotated[str, Field(min_length=1, max_length=300)],
        # a file's content is kept exactly (the model's strip_whitespace is for fields)
        Annotated[str, StringConstraints(strip_whitespace=False), Field(max_length=MAX_FILE_BYTES)],
    ],
    Field(max_length=MAX_FILES, description="path (relative to the repo root) → new content"),
]


class OpenPr(ActionModel):
    """Open a pull request in one of your repositories, inside your path filters.
    The operational action: content, code and configuration changes."""

    type: Literal["open_pr"] = "open_pr"
    title: Title
    body: Text
    files: FileMap = Field(min_length=1)
    repo: str | None = Field(
        None, description="a repos key from org.yaml; default: your own git.repo"
    )
    cites: FactIds


class ProposeDecision(ActionModel):
    """Propose a decision: a pull request in the governance repo that the voters of its
    tier approve or veto. The files ride in the decision's PR and take effect when it merges."""

    type: Literal["propose_decision"] = "propose_decision"
    tier: Tier
    title: Title
    rationale: Text
    files: FileMap = Field(default_factory=dict)
    amount_usd: float = Field(0, ge=0, description="money the decision commits")
    cites: FactIds


class VoteChoice(enum.StrEnum):
    APPROVE = "approve"
    VETO = "veto"
    ABSTAIN = "abstain"
    ANALYSIS = "analysis"


class CastVote(ActionModel):
    """Vote on a decision awaiting you: approve, veto or abstain (round 1 and 3 voters),
    or give round-2 analysis (advisors). Always give the reason."""

    type: Literal["vote"] = "vote"
    decision: Slug = Field(description="the decision id")
    vote: VoteChoice
    reason: Text
    cites: FactIds


class CreateTask(ActionModel):
    """Create a task (org/tasks/<id>.yaml through a PR, and the assignee's queue)."""

    type: Literal["create_task"] = "create_task"
    title: Title
    description: Text
    assigned_to: Slug = Field(description="an agent id: yourself, or one you manage")
    priority: int = Field(5, ge=1, le=10, description="1 is most urgent")
    due: AwareDatetime | None = None
    decision: Slug | None = Field(None, description="the decision this task carries out")


class UpdateTask(ActionModel):
    """Change the status of a task assigned to you or created by you."""

    type: Literal["update_task"] = "update_task"
    task: Slug
    status: Literal[
        TaskStatus.PENDING, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED, TaskStatus.CANCELLED
    ]
    note: str = Field("", max_length=2000)


class CompleteTask(ActionModel):
    """Mark a task assigned to you done, with its result."""

    type: Literal["complete_task"] = "complete_task"
    task: Slug
    result: Text
    cites: FactIds


class MessageKind(enum.StrEnum):
    DIRECT = "direct"
    STATUS_REQUEST = "status_request"
    STATUS_RESPONSE = "status_response"
    BROADCAST = "broadcast"


class SendMessage(ActionModel):
    """Send a message: to an agent id, or to `head`, `clevel` or `all`. A status_response
    answers a status_request (give its id as correlation_id)."""

    type: Literal["send_message"] = "send_message"
    to: Slug
    kind: MessageKind = MessageKind.DIRECT
    subject: Title
    body: Text
    correlation_id: str | None = None
    deadline_minutes: int | None = Field(
        None, ge=1, le=10_080, description="for a status_request: when the answer is due"
    )
    cites: FactIds


class Alert(ActionModel):
    """Raise an alert. Critical alerts go to the head agents and to the human maintainers."""

    type: Literal["alert"] = "alert"
    severity: Severity
    title: Title
    details: Text
    cites: FactIds


class RequestHumanAction(ActionModel):
    """Ask the human maintainers to do something only a human can (an issue labelled
    `human-action-required` on the governance repo, and a notification)."""

    type: Literal["request_human_action"] = "request_human_action"
    title: Title
    body: Text


class SpawnWorker(ActionModel):
    """Start a worker of a kind you may spawn on a task; its result comes back to you."""

    type: Literal["spawn_worker"] = "spawn_worker"
    kind: Slug
    task: Slug = Field(description="the task the worker works on")
    instructions: Text


class ScheduleEvent(ActionModel):
    """Schedule something to do or post at a time; it becomes a task when due."""

    type: Literal["schedule_event"] = "schedule_event"
    at: AwareDatetime
    title: Title
    description: Text
    assigned_to: Slug | None = Field(None, description="default: yourself")


class ProposeInitiative(ActionModel):
    """Put a new idea on the table, scored 0-10, born of what you saw (a feed item, a
    community question, a price move: say which in `signal`). Near-duplicates of open or
    recent ideas are refused, and one `topic` is not raised again within a week."""

    type: Literal["propose_initiative"] = "propose_initiative"
    title: Title
    rationale: Text
    score: float = Field(ge=0, le=10)
    topic: Slug | None = Field(None, description="what it is about, e.g. `exchange-listing`")
    signal: Annotated[str, Field(max_length=500)] | None = Field(
        None, description="the outside signal it answers: a feed item's link, a fact id"
    )
    cites: FactIds


class UpdateState(ActionModel):
    """Remember a value across runs (your own key/value state)."""

    type: Literal["update_state"] = "update_state"
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,62}$")]
    value: Any


WRITE_PREFIX = "write__"
"""How a tool that writes is offered: `write__<server>__<tool>`, its input the McpWrite's."""


class McpWrite(ActionModel):
    """Write to the world with a tool of one of your MCP servers that writes (a post, an
    e-mail, a CMS item), offered to you as `write__<server>__<tool>`. It is checked like a
    pull request before it reaches the server: the server is yours, the write's tier
    (above operational it needs a decision), the caps, never the same write twice, an
    e-mail only to the server's listed recipients, and every number it publishes cited
    from the verified facts (ids, addresses and URLs are no numbers)."""

    type: Literal["mcp_write"] = "mcp_write"
    tool: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}__[A-Za-z0-9_-]{1,64}$")]
    arguments: dict[str, Any] = Field(description="the tool's own arguments")
    summary: Text = Field(description="what this publishes or sends, in a sentence")
    cites: FactIds

    @property
    def server(self) -> str:
        return self.tool.split("__", 1)[0]


def write_schema(tool_schema: dict[str, Any]) -> dict[str, Any]:
    """The input offered for a tool that writes: its arguments, a summary and citations."""
    return {
        "type": "object",
        "properties": {
            "arguments": tool_schema,
            "summary": {"type": "string", "description": "what this publishes, in a sentence"},
            "cites": {
                "type": "array",
                "items": {"type": "string"},
                "description": "ids of the verified facts behind every number in it",
            },
        },
        "required": ["arguments", "summary"],
    }


class RunSummary(ActionModel):
    """One or two sentences on what this run did and why (at most one per run)."""

    type: Literal["summary"] = "summary"
    text: Text


Action = Annotated[
    OpenPr
    | ProposeDecision
    | CastVote
    | CreateTask
    | UpdateTask
    | CompleteTask
    | SendMessage
    | Alert
    | RequestHumanAction
    | SpawnWorker
    | ScheduleEvent
    | ProposeInitiative
    | UpdateState
    | McpWrite
    | RunSummary,
    Field(discriminator="type"),
]

ACTION_CLASSES: tuple[type[ActionModel], ...] = (
    OpenPr,
    ProposeDecision,
    CastVote,
    CreateTask,
    UpdateTask,
    CompleteTask,
    SendMessage,
    Alert,
    RequestHumanAction,
    SpawnWorker,
    ScheduleEvent,
    ProposeInitiative,
    UpdateState,
    RunSummary,
)
ACTION_TYPES: dict[str, type[ActionModel]] = {
    str(cls.model_fields["type"].default): cls for cls in ACTION_CLASSES
}
MAX_ACTIONS_PER_ANSWER = 30
WORKER_ACTIONS = frozenset(
    {
        "open_pr",
        "update_task",
        "complete_task",
        "send_message",
        "alert",
        "update_state",
        "mcp_write",
        "summary",
    }
)
"""What a worker may do: its tool allowlist (it is offered no other tools, and the
checker refuses any other action)."""

_ACTIONS: TypeAdapter[list[Action]] = TypeAdapter(list[Action])


class InvalidActions(ValueError):
    """The model's answer does not fit the action schema; ``problems`` says where."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def parse(calls: Sequence[tuple[str, dict[str, Any]]]) -> list[ActionModel]:
    """(action type, input) pairs → validated actions, or InvalidActions naming each problem.

    Unknown types and extra fields are errors; nothing in a rejected answer runs.
    """
    problems: list[str] = []
    if len(calls) > MAX_ACTIONS_PER_ANSWER:
        problems.append(f"{len(calls)} actions in one answer; at most {MAX_ACTIONS_PER_ANSWER}")
    raw: list[dict[str, Any]] = []
    for index, (name, data) in enumerate(calls):
        if name.startswith(WRITE_PREFIX) and isinstance(data, dict):  # a tool that writes
            raw.append({**data, "type": "mcp_write", "tool": name.removeprefix(WRITE_PREFIX)})
            continue
        if name not in ACTION_TYPES and name != "mcp_write":
            problems.append(
                f"action {index}: unknown action type {name!r}; "
                f"known: {', '.join(sorted(ACTION_TYPES))}"
            )
            continue
        if not isinstance(data, dict):
            problems.append(f"action {index} ({name}): input must be an object")
            continue
        if "type" in data and data["type"] != name:
            problems.append(f"action {index} ({name}): its type field says {data['type']!r}")
            continue
        raw.append({**data, "type": name})
    if problems:
        raise InvalidActions(problems)
    try:
        parsed = _ACTIONS.validate_python(raw)
    except ValidationError as exc:
        raise InvalidActions(
            [
                f"action {err['loc'][0]} ({raw[int(err['loc'][0])]['type']}): "
                f"{'.'.join(str(p) for p in err['loc'][2:]) or 'input'}: {err['msg']}"
                if err["loc"] and isinstance(err["loc"][0], int)
                else err["msg"]
                for err in exc.errors()
            ]
        ) from exc
    summaries = sum(isinstance(a, RunSummary) for a in parsed)
    if summaries > 1:
        raise InvalidActions([f"{summaries} summary actions; give at most one"])
    return list(parsed)


def input_schema(cls: type[ActionModel]) -> dict[str, Any]:
    """The JSON Schema of an action's input (its fields without ``type``)."""
    schema = cls.model_json_schema()
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k != "type"}
    schema["required"] = [k for k in schema.get("required", []) if k != "type"]
    schema.pop("title", None)
    schema.pop("description", None)
    return schema


def describe(cls: type[ActionModel]) -> str:
    return " ".join((cls.__doc__ or "").split())


def reference() -> str:
    """The action reference for prompts, generated from the schema (Markdown)."""
    lines: list[str] = []
    for name, cls in ACTION_TYPES.items():
        schema = input_schema(cls)
        required = set(schema.get("required", []))
        fields = []
        for field, spec in schema["properties"].items():
            kind = _kind(spec, schema.get("$defs", {}))
            fields.append(f"{field}{'' if field in required else '?'}: {kind}")
        lines.append(f"- `{name}`({', '.join(fields)}) — {describe(cls)}")
    return "\n".join(lines)


def _kind(spec: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in spec:
        target = defs.get(spec["$ref"].rsplit("/", 1)[-1], {})
        if "enum" in target:
            return "|".join(str(v) for v in target["enum"])
        return str(target.get("type", "object"))
    if "enum" in spec:
        return "|".join(str(v) for v in spec["enum"])
    if "const" in spec:
        return str(spec["const"])
    if "anyOf" in spec:
        kinds = [_kind(option, defs) for option in spec["anyOf"] if option.get("type") != "null"]
        return " or ".join(kinds) or "null"
    if spec.get("type") == "array":
        return f"list[{_kind(spec.get('items', {}), defs)}]"
    if spec.get("format") == "date-time":
        return "datetime"
    return str(spec.get("type", "any"))
