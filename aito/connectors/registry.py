"""AITO's connectors by name, as `aito mcp serve NAME` starts them."""

from __future__ import annotations

from collections.abc import Callable

from mcp.server import MCPServer

from aito.connectors import coingecko, email, github, rss, site, web
from aito.errors import ConfigError

CONNECTORS: dict[str, tuple[Callable[[list[str]], MCPServer], str]] = {
    "coingecko": (coingecko.server, "prices and market data as facts: prices, supply"),
    "email": (email.server, "e-mail: send (a write); inbox, message (read, nothing marked seen)"),
    "github": (github.server, "GitHub, read-only: repo (counts as facts), issues, issue, releases"),
    "rss": (rss.server, "RSS and Atom feeds: read_feed"),
    "site": (site.server, "a website's status, latency and certificate: check"),
    "web": (web.server, "a web page as text: fetch_page"),
}
"""name → (the server's factory, given the allowed hosts; what it offers)."""


def connector(name: str, allowed: list[str]) -> MCPServer:
    if name not in CONNECTORS:
        raise ConfigError(
            f"no connector {name!r}; AITO's connectors: {', '.join(sorted(CONNECTORS))}"
        )
    return CONNECTORS[name][0](allowed)
