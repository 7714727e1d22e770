"""The coingecko connector against a local server answering as CoinGecko's API v3 does
(its documented /simple/price and /coins/{id} bodies), through the MCP SDK's client: its
numbers come back as facts, and an agent may publish a number only by citing one."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.agent_world import ScriptedModel, World, edit_agent
from support.web_servers import Page, Site, site

from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

PRICE = {
    "shiba-inu": {
        "usd": 1.234e-05,
        "usd_market_cap": 7271035042.6,
        "usd_24h_vol": 160231412.3,
        "usd_24h_change": -1.52,
        "last_updated_at": 1796000000,
    }
}
COIN = {
    "id": "shiba-inu",
    "market_cap_rank": 14,
    "market_data": {
        "circulating_supply": 589247619085000.0,
        "total_supply": 589500000000000.0,
        "max_supply": None,
    },
}
PROBE = Path(__file__).resolve().parents[1] / "support" / "mcp_env_server.py"
Make = Callable[..., World]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    pages = {
        "/api/v3/simple/price": Page(json.dumps(PRICE).encode(), "application/json"),
        "/api/v3/coins/shiba-inu": Page(json.dumps(COIN).encode(), "application/json"),
    }
    with site(pages) as served:
        monkeypatch.setenv("AITO_MCP_COINGECKO_URL", served.url("/api/v3"))
        monkeypatch.setenv("AITO_MCP_COINGECKO_KEY", "cg-demo-key")
        yield served


def coingecko() -> McpServer:
    return McpServer(
        command=["aito", "mcp", "serve", "coingecko"],
        domains=["127.0.0.1"],
        env=["AITO_MCP_COINGECKO_URL", "AITO_MCP_COINGECKO_KEY"],
    )


def test_prices_and_supply_come_back_as_facts_with_their_source(api: Site) -> None:
    with hub.Hub({"coins": coingecko()}) as opened:
        assert {t.name for t in opened.tools() if t.read_only} == {"prices", "supply"}
        prices = opened.call("coins", "prices", {"coins": ["shiba-inu"]})
        supply = opened.call("coins", "supply", {"coin": "shiba-inu"})
    assert not prices.is_error and prices.structured is not None, prices.text
    facts = {f["id"]: f for f in prices.structured["facts"]}
    assert facts["price.shiba-inu.usd"]["value"] == 1.234e-05
    assert facts["market_cap.shiba-inu.usd"]["value"] == 7271035042.6
    assert facts["price.shiba-inu.usd"]["at"].startswith("2026-")  # the API's own stamp
    assert facts["price.shiba-inu.usd"]["source"].startswith(api.url("/api/v3/simple/price"))
    asked = api.asked[0]
    assert "ids=shiba-inu" in asked and "vs_currencies=usd" in asked
    assert api.headers[0]["x-cg-demo-api-key"] == "cg-demo-key"
    assert supply.structured is not None
    held = {f["id"]: f["value"] for f in supply.structured["facts"]}
    assert held == {
        "circulating_supply.shiba-inu": 589247619085000.0,
        "total_supply.shiba-inu": 589500000000000.0,
        "market_cap_rank.shiba-inu": 14,
    }


def with_coins(repo: Path) -> None:
    org_yaml = repo / "org" / "org.yaml"
    data = yaml.safe_load(org_yaml.read_text())
    probe = {"command": [sys.executable, str(PROBE)], "writes": True}
    data["mcp"] = {
        "servers": {
            "coins": coingecko().model_dump(mode="json", exclude_defaults=True),
            "social": probe,
        }
    }
    org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["coins", "social"]))


def post(text: str, cites: list[str]) -> tuple[str, dict[str, Any]]:
    return ("write__social__post", {"arguments": {"text": text}, "summary": text, "cites": cites})


def test_a_number_read_through_a_connector_may_be_published_citing_its_fact(
    make_world: Make, api: Site
) -> None:
    read = [("coins__prices", {"coins": ["shiba-inu"]})]
    model = ScriptedModel(
        read,
        [
            post("SHIB trades at $0.00001234 today.", ["coins.price.shiba-inu.usd"]),
            post("SHIB's market cap is $7.3B.", ["coingecko.market_cap.shiba-inu.usd"]),
        ],
    )
    world = make_world(model, edit=with_coins)
    outcome = world.run("cmo", force=True)
    cited, forged = outcome.actions
    assert (cited.type, cited.status) == ("mcp_write", "executed"), cited.reason
    assert forged.status == "refused" and "cites unknown fact" in (forged.reason or "")
    [turn] = model.requests[1].turns
    assert "coins.price.shiba-inu.usd" in turn.results[0].content  # named as it is cited
