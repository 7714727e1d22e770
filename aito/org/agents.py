"""`org/agents/<id>.yaml`: one agent of the organization."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field, model_validator

from aito.org.common import OrgModel, Slug
from aito.org.organization import ContainerLimits


class Engine(enum.StrEnum):
    """How a worker thinks: AITO's own loop (it answers with actions), or a full coding
    agent (Claude Code) that edits a copy of the files it may change."""

    AITO = "aito"
    CLAUDE_CODE = "claude-code"


class Layer(enum.StrEnum):
    HEAD = "head"
    C_LEVEL = "c-level"
    WORKER = "worker"


class Permission(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Loop(OrgModel):
    """When the agent wakes on its own."""

    schedule: str = Field(description="an interval (`4h`, `30m`, `1d`) or a cron expression")
    timeout_minutes: Annotated[int, Field(ge=1, le=360)] | None = None


class AgentBudget(OrgModel):
    """The agent's share of the model budget."""

    daily_usd: Annotated[float, Field(ge=0)]
    monthly_usd: Annotated[float, Field(ge=0)]
    daily_tokens: Annotated[int, Field(ge=0)] | None = None
    monthly_tokens: Annotated[int, Field(ge=0)] | None = None


class GitAccess(OrgModel):
    """Where the agent may read and open pull requests."""

    repo: str = Field(
        description="a key of `repos` in org.yaml, one of its `owner/name` values, or `*` for all"
    )
    branch: str = "main"
    paths: list[str] = Field(
        default_factory=lambda: ["**"],
        description="gitignore-style patterns (relative to the repo root; `!` excludes) of "
        "the files the agent may change; protected automation files (workflows, CODEOWNERS, "
        "CI definitions) stay out of reach whatever they say",
    )
    permissions: list[Permission] = Field(default_factory=lambda: [Permission.READ])


class SpendLimits(OrgModel):
    """Money the agent may commit: alone (minor) and with the CEO (major); above: critical."""

    alone: Annotated[float, Field(ge=0)] = 0
    with_ceo: Annotated[float, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _ordered(self) -> SpendLimits:
        if self.with_ceo and self.with_ceo < self.alone:
            raise ValueError("with_ceo must be at least alone")
        return self


class Authority(OrgModel):
    """What the agent may decide alone, and what needs the CEO or the DAO."""

    alone: list[str] = Field(default_factory=list)
    needs_ceo: list[str] = Field(default_factory=list)
    needs_dao: list[str] = Field(default_factory=list)
    spend_limits_usd: SpendLimits = Field(default_factory=SpendLimits)


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EscalationRule(OrgModel):
    """When something happens, whom to tell."""

    when: str = Field(min_length=1)
    notify: list[str] = Field(
        min_length=1, description="agent ids, `head`, `clevel`, `all` or `maintainers`"
    )
    severity: Severity = Severity.WARNING


class AgentSpec(OrgModel):
    """`org/agents/<id>.yaml`."""

    id: Slug
    type: Slug = Field(description="ceo, dao, cmo, cto, cfo, coo, cco, or a worker kind")
    layer: Layer
    name: str = Field(min_length=1)
    profile: str = Field(description="path of the profile, relative to the repo root")
    reports_to: Slug | None = None
    manages: list[Slug] = Field(default_factory=list)
    department: str = Field(min_length=1)
    loop: Loop | None = Field(None, description="required except for workers (spawned on demand)")
    model: str | None = Field(None, description="default: `defaults.model` in org.yaml")
    budget: AgentBudget
    git: GitAccess
    authority: Authority = Field(default_factory=Authority)
    escalation: list[EscalationRule] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list, description="tools the agent may use")
    mcp_servers: list[Slug] = Field(
        default_factory=list,
        description="MCP servers it may use, by name in org.yaml `mcp.servers` (a worker "
        "receives exactly its kind's)",
    )
    container: ContainerLimits | None = Field(None, description="default: `defaults.container`")
    timeout_minutes: Annotated[int, Field(ge=1, le=360)] | None = Field(
        None,
        description="workers only (agents set `loop.timeout_minutes`): a worker still going "
        "after this long is killed; default: `defaults.timeout_minutes`",
    )
    max_workers: Annotated[int, Field(ge=0, le=50)] | None = Field(
        None, description="workers it may have running at once; default: `defaults`"
    )
    workers: list[Slug] = Field(default_factory=list, description="worker kinds it may spawn")
    engine: Engine = Field(
        Engine.AITO,
        description="workers only: `aito` (answers with actions) or `claude-code` (a coding "
        "agent in the same sandbox that edits a copy of the files its `git.paths` allow; "
        "its changes come back as one pull request, checked like any other)",
    )

    @model_validator(mode="after")
    def _layer_rules(self) -> AgentSpec:
        if self.layer is Layer.HEAD and self.type not in ("ceo", "dao"):
            raise ValueError(f"layer head is for the ceo and dao types, not {self.type!r}")
        if self.type in ("ceo", "dao") and self.layer is not Layer.HEAD:
            raise ValueError(f"type {self.type} belongs to layer head")
        if self.layer is not Layer.WORKER and self.loop is None:
            raise ValueError(f"a {self.layer.value} agent needs `loop: {{schedule: ...}}`")
        if self.layer is Layer.WORKER and self.workers:
            raise ValueError("workers cannot spawn workers; remove `workers`")
        if self.engine is not Engine.AITO and self.layer is not Layer.WORKER:
            raise ValueError(f"engine {self.engine.value} is for workers only; remove `engine`")
        if self.engine is Engine.CLAUDE_CODE and self.mcp_servers:
            raise ValueError(
                "a claude-code worker reaches no MCP server (its sandbox has no network); "
                "remove `mcp_servers` or use engine aito"
            )
        if self.layer is not Layer.WORKER and self.timeout_minutes is not None:
            raise ValueError(
                "an agent's timeout is `loop.timeout_minutes`; remove `timeout_minutes`"
            )
        return self
