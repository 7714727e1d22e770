"""The coingecko connector: prices and market data (CoinGecko's API v3), as verified
facts.

Its address is `AITO_MCP_COINGECKO_URL` (default https://api.coingecko.com/api/v3; its
host must be one of the server's `domains`) and its key, optional, `AITO_MCP_COINGECKO_KEY`
(sent as `x-cg-demo-api-key`). Every number it returns is also a fact, named for what it
is (`price.<coin>.<currency>`, `market_cap.<coin>.<currency>`, …), with the URL it came
from and when: what a post or report that states it must cite.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from aito.connectors import fetching, tooling

DEFAULT_URL = "https://api.coingecko.com/api/v3"
READS = ToolAnnotations(read_only_hint=True)


def server(allowed: list[str]) -> MCPServer:
    mcp = MCPServer("aito-coingecko", instructions="Crypto prices and market data.")
    base = os.environ.get("AITO_MCP_COINGECKO_URL", DEFAULT_URL).rstrip("/")
    key = os.environ.get("AITO_MCP_COINGECKO_KEY")
    headers = {"x-cg-demo-api-key": key} if key else {}

    @mcp.tool(annotations=READS)
    def prices(coins: list[str], currency: str = "usd") -> dict[str, Any]:
        """Current price, market cap, 24 h volume and 24 h change of each coin (CoinGecko
        ids, e.g. `shiba-inu`), in ``currency``; each number also a citable fact."""
        with tooling.foreseen():
            wanted = ",".join(c.strip().lower() for c in coins[:25] if c.strip())
            if not wanted:
                raise ValueError("name at least one coin id, e.g. shiba-inu")
            vs = currency.strip().lower()
            data, fetched = fetching.fetch_json(
                f"{base}/simple/price",
                allowed=allowed,
                headers=headers,
                params={
                    "ids": wanted,
                    "vs_currencies": vs,
                    "include_market_cap": "true",
                    "include_24hr_vol": "true",
                    "include_24hr_change": "true",
                    "include_last_updated_at": "true",
                },
            )
            if not isinstance(data, dict):
                raise ValueError(f"{fetched.url} answered no price table")
            facts = []
            for coin, row in sorted(data.items()):
                if not isinstance(row, dict):
                    continue
                at = _at(row.get("last_updated_at"), fetched.at)
                for field, what in (
                    (vs, "price"),
                    (f"{vs}_market_cap", "market_cap"),
                    (f"{vs}_24h_vol", "volume_24h"),
                    (f"{vs}_24h_change", "change_24h_percent"),
                ):
                    value = row.get(field)
                    if isinstance(value, int | float):
                        facts.append(
                            {
                                "id": f"{what}.{coin}.{vs}",
                                "statement": f"{coin} {what.replace('_', ' ')} ({vs})",
                                "value": value,
                                "source": fetched.url,
                                "at": at,
                            }
                        )
            return {
                "source": fetched.url,
                "fetched_at": fetched.at.isoformat(),
                "prices": data,
                "facts": facts,
            }

    @mcp.tool(annotations=READS)
    def supply(coin: str) -> dict[str, Any]:
        """A coin's circulating, total and maximum supply and its market-cap rank."""
        with tooling.foreseen():
            data, fetched = fetching.fetch_json(
                f"{base}/coins/{coin.strip().lower()}",
                allowed=allowed,
                headers=headers,
                params={
                    "localization": "false",
                    "tickers": "false",
                    "community_data": "false",
                    "developer_data": "false",
                },
            )
            market = data.get("market_data") if isinstance(data, dict) else None
            if not isinstance(market, dict):
                raise ValueError(f"{fetched.url} answered no market data")
            name = str(data.get("id", coin))
            at = fetched.at.isoformat()
            facts = [
                {
                    "id": f"{field}.{name}",
                    "statement": f"{name} {field.replace('_', ' ')}",
                    "value": value,
                    "source": fetched.url,
                    "at": at,
                }
                for field, value in (
                    ("circulating_supply", market.get("circulating_supply")),
                    ("total_supply", market.get("total_supply")),
                    ("max_supply", market.get("max_supply")),
                    ("market_cap_rank", data.get("market_cap_rank")),
                )
                if isinstance(value, int | float)
            ]
            return {"source": fetched.url, "fetched_at": at, "coin": name, "facts": facts}

    return mcp


def _at(stamp: object, fallback: dt.datetime) -> str:
    if isinstance(stamp, int | float) and stamp > 0:
        return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat()
    return fallback.isoformat()
