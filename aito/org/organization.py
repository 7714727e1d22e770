"""`org/org.yaml`: organization-wide settings."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from aito.org import channels, mcp_servers
from aito.org.common import Duration, GitHubLogin, OrgModel, RepoName, Slug


class Tier(enum.StrEnum):
    """How much approval a decision needs, from none to a human maintainer's."""

    OPERATIONAL = "operational"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class BotIdentity(OrgModel):
    """The GitHub account an agent acts and votes as. Votes are matched on the numeric id."""

    login: GitHubLogin
    id: PositiveInt = Field(description="the account's numeric GitHub id (logins can be renamed)")


class Maintainer(OrgModel):
    """A human who breaks deadlocks and approves critical decisions."""

    login: GitHubLogin
    id: PositiveInt = Field(description="the account's numeric GitHub id")
    name: str | None = None


class HumanMember(OrgModel):
    """A person who may propose decisions (a pull request adding `org/decisions/<id>.yaml`).

    Identified by the numeric ``id`` of the pull request's author, never by a name in the
    record or the pull request. A human member never votes; ``may_propose`` is the
    highest tier they may file (default ``minor``: a decision that carries no file and
    commits no money, which the CEO may veto; raise it to ``major`` to let them carry
    files or spend, with CEO and DAO approval). Maintainers may propose anything.
    """

    login: GitHubLogin
    id: PositiveInt = Field(description="the account's numeric GitHub id (logins can be renamed)")
    name: str | None = None
    may_propose: Tier = Field(
        Tier.MINOR, description="the highest tier this person may propose (default minor)"
    )


class GovernanceRepo(OrgModel):
    """The repository that holds org/ and profiles/ (this one)."""

    repo: RepoName
    branch: str = Field("main", description="the base branch whose org/ judges every decision")
    bot: BotIdentity | None = Field(
        None,
        description="the account that applies verdicts (labels, tally comment, merge); "
        "its tally comment is trusted, nobody else's",
    )


class TierRule(OrgModel):
    """Who must approve a decision of one tier, and how long each round may take."""

    approvers: list[Slug] = Field(
        default_factory=list, description="agents whose approval is required (round 1 voters)"
    )
    veto_by: list[Slug] = Field(
        default_factory=list,
        description="agents who may veto a lazy-consensus decision (minor tier)",
    )
    lazy_consensus: bool = Field(
        False, description="merge at the deadline unless vetoed (silence passes only here)"
    )
    maintainer_required: bool = Field(
        False, description="a human maintainer must approve even after the agents do"
    )
    deadline: Duration = Field("24h", description="how long one round may take")


def _default_tiers() -> dict[Tier, TierRule]:
    return {
        Tier.OPERATIONAL: TierRule(deadline="1h"),
        Tier.MINOR: TierRule(veto_by=["ceo"], lazy_consensus=True, deadline="4h"),
        Tier.MAJOR: TierRule(approvers=["ceo", "dao"], deadline="24h"),
        Tier.CRITICAL: TierRule(approvers=["ceo", "dao"], maintainer_required=True, deadline="48h"),
    }


class GovernanceRules(OrgModel):
    """The decision/veto loop: tiers, rounds, advisors, voters, quorum."""

    tiers: dict[Tier, TierRule] = Field(default_factory=_default_tiers)
    max_rounds: Annotated[int, Field(ge=1, le=9)] = Field(
        3, description="after this many rounds without a clear majority, humans decide"
    )
    advisors: list[Slug] | None = Field(
        None, description="round-2 analysts; default: every c-level agent"
    )
    voters: list[Slug] | None = Field(
        None, description="round-3 voters; default: the head agents and every c-level agent"
    )
    quorum: PositiveInt | None = Field(
        None, description="votes that must be cast in round 3; default: more than half the voters"
    )
    majority: str = Field(
        "strict", pattern="^strict$", description="round 3 needs more approvals than vetoes"
    )

    @model_validator(mode="after")
    def _every_tier_defined(self) -> GovernanceRules:
        missing = [tier.value for tier in Tier if tier not in self.tiers]
        if missing:
            raise ValueError(f"tiers must define every tier; missing: {', '.join(missing)}")
        return self


CACHE_WRITE_FACTOR = 1.25
"""A prompt-cache write costs this much of the input price (Anthropic's 5-minute cache)."""
CACHE_READ_FACTOR = 0.1
"""A prompt-cache read costs this much of the input price (Anthropic's)."""


class ModelPrice(OrgModel):
    """USD per million tokens, for cost accounting.

    Cache prices left out are the provider's usual multiples of the input price, never
    zero: a cached token is never free in AITO's books, so spend is not under-reported.
    """

    input: Annotated[float, Field(ge=0)]
    output: Annotated[float, Field(ge=0)]
    cache_write: Annotated[float, Field(ge=0)] | None = Field(
        None, description=f"default: {CACHE_WRITE_FACTOR} x input"
    )
    cache_read: Annotated[float, Field(ge=0)] | None = Field(
        None, description=f"default: {CACHE_READ_FACTOR} x input"
    )

    @property
    def write_price(self) -> float:
        """USD per million tokens written to the prompt cache."""
        if self.cache_write is None:
            return self.input * CACHE_WRITE_FACTOR
        return self.cache_write

    @property
    def read_price(self) -> float:
        """USD per million tokens read from the prompt cache."""
        if self.cache_read is None:
            return self.input * CACHE_READ_FACTOR
        return self.cache_read


class OrgBudget(OrgModel):
    """What the whole organization may spend on models (hard limits, checked before each call)."""

    daily_usd: Annotated[float, Field(ge=0)]
    monthly_usd: Annotated[float, Field(ge=0)]
    daily_tokens: Annotated[int, Field(ge=0)] | None = None
    monthly_tokens: Annotated[int, Field(ge=0)] | None = None


class ContainerLimits(OrgModel):
    """Resources for one agent or worker container."""

    memory: str = Field("512m", pattern=r"^[1-9][0-9]*[kmg]$", description="e.g. 256m, 1g")
    cpu: PositiveFloat = Field(0.5, le=64, description="CPU cores, e.g. 0.5")
    pids: Annotated[int, Field(ge=16, le=32768)] = Field(
        256, description="most processes and threads at once (a fork bomb stops here)"
    )


class Defaults(OrgModel):
    """Values agents inherit unless their own file says otherwise."""

    model: str = "claude-sonnet-4-5"
    runner_labels: list[str] = Field(default_factory=lambda: ["self-hosted", "aito"])
    container: ContainerLimits = Field(default_factory=ContainerLimits)
    timeout_minutes: Annotated[int, Field(ge=1, le=360)] = Field(
        30, description="a run (or worker) still going after this long is killed"
    )
    max_workers: Annotated[int, Field(ge=0, le=50)] = Field(
        3, description="workers one agent may have running at once"
    )
    profile_max_bytes: Annotated[int, Field(ge=500)] = Field(
        8000, description="profiles larger than this fail validation (they slow every loop)"
    )
    prompt_max_bytes: Annotated[int, Field(ge=2000)] = Field(
        24000,
        description="the stable prompt prefix (organization, profile, action reference) of "
        "any agent larger than this fails validation",
    )


class RestartBudget(OrgModel):
    """How often the orchestrator restarts a dead agent before it gives up on it."""

    restarts: Annotated[int, Field(ge=0, le=100)] = Field(
        3, description="restarts allowed within the window; past them the agent is `error`"
    )
    window_minutes: Annotated[int, Field(ge=1, le=10080)] = 60


class OrchestratorSettings(OrgModel):
    """How `aito orchestrator` keeps the organization running."""

    wake: Literal["actions", "daemon"] = Field(
        "actions",
        description="`actions`: GitHub schedules the wake-ups (the orchestrator runs workers, "
        "deadlines, health, failover, notifications); `daemon`: it also keeps each agent's "
        "daemon running between slots",
    )
    interval_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        30, description="one reconcile pass this often"
    )
    heartbeat_grace_minutes: Annotated[int, Field(ge=1, le=1440)] = Field(
        15, description="how late past its expected heartbeat an agent counts as down"
    )
    restart_budget: RestartBudget = Field(default_factory=RestartBudget)


class OrgFile(OrgModel):
    """`org/org.yaml`."""

    name: str = Field(min_length=1)
    github_org: str = Field(min_length=1, description="the GitHub organization or user")
    governance_repo: GovernanceRepo
    repos: dict[Slug, RepoName] = Field(
        description="department repositories by key, e.g. `social: og-shibaclassic/shiba-social`"
    )
    bots: dict[Slug, BotIdentity] = Field(description="each agent's bot account, by agent id")
    maintainers: list[Maintainer] = Field(min_length=1)
    humans: list[HumanMember] = Field(
        default_factory=list,
        description="people who may propose decisions (up to their `may_propose` tier); "
        "they never vote",
    )
    governance: GovernanceRules = Field(default_factory=GovernanceRules)
    pricing: dict[str, ModelPrice] = Field(description="model prices by model name")
    budget: OrgBudget
    defaults: Defaults = Field(default_factory=Defaults)
    orchestrator: OrchestratorSettings = Field(default_factory=OrchestratorSettings)
    mcp: mcp_servers.McpSettings = Field(
        default_factory=mcp_servers.McpSettings,
        description="the MCP servers agents and workers may be given (`servers`, by name) "
        "and the organization-wide `dry_run`",
    )
    notify: list[channels.NotifyChannel] = Field(
        default_factory=list,
        description="where humans are told when something needs them (an escalation, a "
        "budget exhausted, an agent down): each `{kind: email|webhook|telegram, …}`; secrets "
        "come from the environment (AITO_SMTP_URL, AITO_WEBHOOK_URL, AITO_TELEGRAM_BOT_TOKEN)",
    )

    @field_validator("notify")
    @classmethod
    def _channel_names_unique(
        cls, value: list[channels.NotifyChannel]
    ) -> list[channels.NotifyChannel]:
        repeated = channels.duplicate_names(value)
        if repeated:
            raise ValueError(
                f"two channels are named {', '.join(repeated)}: give each a distinct `name`"
            )
        return value
