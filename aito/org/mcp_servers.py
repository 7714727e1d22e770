"""`mcp:` in org/org.yaml: the MCP servers agents and workers may be given, by name.

An agent or worker kind lists the servers it may use in its own file (`mcp_servers:`);
a worker receives exactly its kind's and nothing else. A server is a command started
inside the worker's sandbox (stdio: AITO's own connectors are `aito mcp serve NAME`) or
a URL reached through the gateway (Streamable HTTP). Its secrets never appear here: it
names the environment variables that hold them, whose values are handed to that server
alone (never to the model, the worker's own process or another server), and it may not
name AITO's own secrets. A server that `writes` (posts, e-mails, CMS writes) is dropped
by a dry run, and each write it would make is recorded instead.

A server that sends e-mail lists who it may write to (`recipients`: addresses, or
`@domain` for every address at that domain): a write whose `to`, `cc` or `bcc` names
anyone else is refused before it reaches the server. AITO's own email connector
(`aito mcp serve email`) with no `recipients` sends nothing at all: a prompt-injected
agent cannot mail an attacker, however digit-free its text.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import PurePath
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

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

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
MAIL_DOMAIN = _LABEL + r"(\." + _LABEL + r")+"
RECIPIENT = re.compile(
    r"^([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64})?@(?=.{1,253}$)" + MAIL_DOMAIN + "$"
)
"""An e-mail address (plain: no name, no whitespace), or `@domain` for every address there."""


def _recipient(value: str) -> str:
    found = value.strip().lower()
    if not RECIPIENT.fullmatch(found):
        raise ValueError(
            f"{value[:100]!r} is not an e-mail address (ops@example.org) or a domain (@example.org)"
        )
    return found


Recipient = Annotated[
    str,
    AfterValidator(_recipient),
    Field(
        description="an e-mail address, e.g. `board@example.org`, or `@example.org` for "
        "every address at that domain (not its subdomains)",
        json_schema_extra={"pattern": RECIPIENT.pattern},
    ),
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

    recipients: list[Recipient] = Field(
        default_factory=list,
        description="who its writes may e-mail: addresses, or `@domain` for every address "
        "at that domain; a write whose `to`, `cc` or `bcc` names anyone else is refused "
        "before it reaches the server. Empty: not checked, except for AITO's own email "
        "connector (`aito mcp serve email`), which then sends to nobody",
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

    def connector(self) -> str | None:
        """The name of AITO's own connector it runs (`aito mcp serve NAME`, or
        `python -m aito mcp serve NAME`), if it runs one."""
        command = self.command or []
        for start in range(len(command) - 3):
            launcher = command[: start + 1]
            is_aito = (len(launcher) == 1 and PurePath(launcher[0]).name == "aito") or launcher[
                -2:
            ] == ["-m", "aito"]
            if is_aito and command[start + 1 : start + 3] == ["mcp", "serve"]:
                return command[start + 3]
        return None

    def recipient_allowed(self, address: str) -> bool:
        """Whether ``address`` (a plain address) is one of `recipients`, or at one of
        their `@domain`s (letter case aside)."""
        address = address.strip().lower()
        domain = "@" + address.rpartition("@")[2]
        return address in self.recipients or domain in self.recipients

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
    repeat_after_days: Annotated[int, Field(ge=1, le=365)] = Field(
        30,
        description="the same write (same tool, same words or meaning) is refused as a "
        "duplicate for this many days after it was made; after that it may be made again "
        "(a monthly reminder)",
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
