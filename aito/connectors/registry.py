"""AITO's connectors by name, as `aito mcp serve NAME` starts them."""

from __future__ import annotations

from collections.abc import Callable

from mcp.server import MCPServer

from aito.connectors import (
    chain,
    coingecko,
    directus,
    discord,
    email,
    github,
    rss,
    site,
    snapshot,
    telegram,
    web,
    x,
)
from aito.errors import ConfigError

CONNECTORS: dict[str, tuple[Callable[[list[str]], MCPServer], str]] = {
    "chain": (chain.server, "EVM JSON-RPC reads as facts: balances, token supply, calls"),
    "coingecko": (coingecko.server, "prices and market data as facts: prices, supply"),
    "directus": (directus.server, "Directus CMS items: read; create_item, update_item write"),
    "discord": (discord.server, "Discord: messages, guild (counts as facts); post via a webhook"),
    "email": (email.server, "e-mail: send (a write); inbox, message (read, nothing marked seen)"),
    "github": (github.server, "GitHub, read-only: repo (counts as facts), issues, issue, releases"),
    "rss": (rss.server, "RSS and Atom feeds: read_feed, latest (the feeds it follows)"),
    "site": (site.server, "a website's status, latency and certificate: check"),
    "snapshot": (snapshot.server, "Snapshot proposals and votes, tallies as facts"),
    "telegram": (telegram.server, "Telegram bot: updates, chat (members as a fact); send_message"),
    "web": (web.server, "a web page as text: fetch_page"),
    "x": (x.server, "X's API v2: search, user (counts as facts); post"),
}
"""name → (the server's factory, given the allowed hosts; what it offers)."""


def connector(name: str, allowed: list[str]) -> MCPServer:
    if name not in CONNECTORS:
        raise ConfigError(
            f"no connector {name!r}; AITO's connectors: {', '.join(sorted(CONNECTORS))}"
        )
    return CONNECTORS[name][0](allowed)
