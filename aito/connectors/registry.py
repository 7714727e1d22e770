"""AITO's connectors by name, as `aito mcp serve NAME` starts them."""

from __future__ import annotations

from collections.abc import Callable

from mcp.server import MCPServer

from aito.connectors import coingecko, discord, rss, telegram, web, x
from aito.errors import ConfigError

CONNECTORS: dict[str, tuple[Callable[[list[str]], MCPServer], str]] = {
    "coingecko": (coingecko.server, "prices and market data as facts: prices, supply"),
    "rss": (rss.server, "RSS and Atom feeds: read_feed"),
    "web": (web.server, "a web page as text: fetch_page"),
    "telegram": (telegram.server, "Telegram bot: updates, chat (members as a fact); send_message"),
    "discord": (discord.server, "Discord: messages, guild (counts as facts); post via a webhook"),
    "x": (x.server, "X's API v2: search, user (counts as facts); post"),
}
"""name → (the server's factory, given the allowed hosts; what it offers)."""


def connector(name: str, allowed: list[str]) -> MCPServer:
    if name not in CONNECTORS:
        raise ConfigError(
            f"no connector {name!r}; AITO's connectors: {', '.join(sorted(CONNECTORS))}"
        )
    return CONNECTORS[name][0](allowed)
