"""`mcp:` in org/org.yaml: the MCP servers agents and workers may be given, by name.

An agent or worker kind lists the servers it may use in its own file (`mcp_servers:`);
a worker receives exactly its kind's and nothing else. A server is a command started
inside the worker's sandbox (stdio: AITO's own connectors are `aito mcp serve NAME`) or
a URL reached through the gateway (Streamable HTTP). Its secrets never appear here: it
names the environment variables that hold them, whose values are handed to that server
alone (never to the model, the worker's own process or another server), and it may not
name AITO's own secrets. A server that `writes` (posts, e-mails, CMS writes) is dropped
by a dry run, and each write it would make is recorded instead.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints, field_validator, model_validator

from aito.org.common import OrgModel, Slug

EnvName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,127}$"),
    Field(description="an environment variable's name, e.g. `AITO_MCP_TELEGRAM_TOKEN`"),
]
Domain = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$",
        max_length=253,
    ),
    Field(description="a host name, e.g. `api.coingecko.com`; `*.example.org` for its subdomains"),
]

TIERS = ("operational", "minor", "major", "critical")
TierName = Literal["operational", "minor", "major", "critical"]

RESERVED_ENV = re.compile(r"^(ANTHROPIC_|POSTGRES_URL$|REDIS_URL$|DATABASE_URL$|AITO_(?!MCP_))")
"""Names a server may not be handed: the model key, the database and bus addresses, and
AITO's own settings and tokens (a server's own secrets are `AITO_MCP_*` or any other name)."""


class McpServer(OrgModel):
    """One MCP server, by name in `mcp.servers`."""

    command: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        None,
        min_length=1,
        description="stdio: the command and its arguments, started inside the worker's "
        "sandbox, e.g. `[aito, mcp, serve, rss]`",
    )
    url: AnyHttpUrl | None = Field(
        None, description="Streamable HTTP: the server's endpoint, reached through the gateway"
    )
    env: list[EnvName] = Field(
        default_factory=list,
        description="environment variables holding its secrets, handed to this server alone",
    )
    writes: bool = Field(
        False,
        description="whether any of its tools changes the world (a post, an e-mail, a CMS "
        "write): such calls are actions the check layer judges, and a dry run drops it",
    )
    domains: list[Domain] = Field(
        default_factory=list,
        description="the hosts it may reach (its `url`'s host is always one); a fetching "
        "connector reads nothing else",
    )
    description: str = Field("", max_length=500)
    write_tier: TierName = Field(
        "operational",
        description="the tier of its writes: above `operational` a write needs a decision "
        "(the agent proposes it) instead of being made by the agent alone",
    )
    tool_tiers: dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], TierName] = (
        Field(
            default_factory=dict,
            description="a tier per tool that writes, where it differs from `write_tier` "
            "(e.g. `{publish_treasury_report: major}`)",
        )
    )

    def tier_of(self, tool: str) -> str:
        """The tier of a write with ``tool`` (the higher of the server's and the tool's)."""
        found = self.tool_tiers.get(tool, self.write_tier)
        return max(found, self.write_tier, key=TIERS.index)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of `command` (stdio) or `url` (Streamable HTTP)")
        return self

    @field_validator("env")
    @classmethod
    def _not_aito_secrets(cls, names: list[str]) -> list[str]:
        reserved = [name for name in names if RESERVED_ENV.match(name)]
        if reserved:
            raise ValueError(
                f"{', '.join(reserved)} may not be handed to an MCP server (the model key, "
                "the database and bus, AITO's own settings and tokens); give the server its "
                "own secret, e.g. AITO_MCP_<NAME>_TOKEN"
            )
        return names

    def hosts(self) -> list[str]:
        """Where it may connect: its URL's host and its `domains`."""
        found = list(self.domains)
        if self.url is not None:
            host = urllib.parse.urlsplit(str(self.url)).hostname or ""
            if host and host not in found:
                found.insert(0, host)
        return found


class McpSettings(OrgModel):
    """`mcp:` in org.yaml."""

    servers: dict[Slug, McpServer] = Field(
        default_factory=dict, description="MCP servers by name; agents list theirs by name"
    )
    max_turns: Annotated[int, Field(ge=0, le=16)] = Field(
        6,
        description="answers that read (call tools of MCP servers) a run may give before "
        "its answer with actions; 0 offers no tool that reads",
    )
    max_result_chars: Annotated[int, Field(ge=200, le=200_000)] = Field(
        20_000, description="what the model is shown of one tool result, at most"
    )
    writes_per_day: Annotated[int, Field(ge=0, le=10_000)] = Field(
        20, description="writes (posts, e-mails, CMS items) one agent may make per day (UTC)"
    )
    dry_run: bool = Field(
        False,
        description="drop every server that writes, organization-wide, and record what "
        "would have been written (a run can ask for the same with `--dry-run`)",
    )


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether ``host`` is one of ``allowed`` (`*.example.org` covers its subdomains)."""
    host = host.lower().rstrip(".")
    for pattern in allowed:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False
