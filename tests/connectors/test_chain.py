"""The chain connector against a local node answering Ethereum JSON-RPC 2.0 (eth_blockNumber,
eth_getBalance, eth_call by selector; an error object for what it does not know), through
the MCP SDK's client: exact numbers and facts, strict input, the provider's key unshown."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.agent_world import ScriptedModel, World
from support.json_servers import JsonApi, Request, json_api
from support.mcp_world import post, probe, serving

from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

KEY = "k3y-0f-the-provider"
TOKEN = "0x95aD61b0a150d79219dCF64E1E6Cc01f0B64C4cE"
HOLDER = "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B"
TREASURY = "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"
REVERTS = "0x00000000000000000000000000000000000000aa"
NO_CODE = "0x00000000000000000000000000000000000000bb"
SUPPLY = 589_500_000_000_000 * 10**18 + 123
HELD = 12_345 * 10**18 + 5 * 10**17
WEI = 1_500_000_000_000_000_001


def word(value: int) -> str:
    return "0x" + format(value, "064x")


@dataclasses.dataclass
class Node:
    """A node behind a provider's URL holding its key in the path."""

    known: set[str] = dataclasses.field(
        default_factory=lambda: {"eth_blockNumber", "eth_getBalance", "eth_call"}
    )
    revoked: bool = False

    def answer(self, request: Request) -> tuple[int, Any]:
        if self.revoked or request.path != f"/v3/{KEY}":
            return 401, {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32001, "message": "bad key"},
            }
        ask = request.body
        method, params = ask["method"], ask["params"]
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": ask["id"]}
        if method not in self.known:
            error = {"code": -32601, "message": f"the method {method} does not exist"}
            return 200, {**reply, "error": error}
        if method == "eth_blockNumber":
            return 200, {**reply, "result": hex(21_000_000)}
        if method == "eth_getBalance":
            return 200, {**reply, "result": hex(WEI if params[0] == TREASURY else 0)}
        call, data = params[0], params[0]["data"]
        if call["to"] == REVERTS:
            error = {"code": 3, "message": "execution reverted", "data": "0x08c379a0"}
            return 200, {**reply, "error": error}
        if call["to"] == NO_CODE:
            return 200, {**reply, "result": "0x"}
        if data == "0x18160ddd":
            return 200, {**reply, "result": word(SUPPLY)}
        if data.startswith("0x70a08231"):
            return 200, {**reply, "result": word(HELD if data.endswith(HOLDER[2:].lower()) else 0)}
        return 200, {**reply, "result": "0x" + data[2:].upper()[::-1].lower()}


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Node, JsonApi]]:
    state = Node()
    with json_api(state.answer) as served:
        monkeypatch.setenv("AITO_MCP_CHAIN_URL", served.url(f"/v3/{KEY}"))
        yield state, served


def chain() -> McpServer:
    return McpServer(
        command=["aito", "mcp", "serve", "chain"], domains=["127.0.0.1"], env=["AITO_MCP_CHAIN_URL"]
    )


def test_reads_are_exact_numbers_and_facts_naming_the_host_never_the_key(
    node: tuple[Node, JsonApi],
) -> None:
    _, served = node
    origin = served.url()
    with hub.Hub({"eth": chain()}) as opened:
        listed = {t.name for t in opened.tools() if t.read_only}
        assert listed == {"block_number", "balance", "token_supply", "token_balance", "call"}
        results = [
            opened.call("eth", "block_number", {}),
            opened.call("eth", "balance", {"address": TREASURY.upper().replace("0X", "0x")}),
            opened.call("eth", "token_supply", {"token_address": TOKEN}),
            opened.call("eth", "token_balance", {"token_address": TOKEN, "holder": HOLDER}),
            opened.call("eth", "call", {"to": TOKEN, "data": "0xABCD", "block": 19_000_000}),
        ]
    assert not any(r.is_error for r in results), [r.text for r in results]
    block, balance, supply, held, called = (r.structured or {} for r in results)
    assert block["block_number"] == 21_000_000
    assert balance["wei"] == WEI and balance["ether"] == 1.5
    assert supply["raw"] == SUPPLY and supply["supply"] == 589_500_000_000_000.0
    assert held["raw"] == HELD and held["balance"] == 12_345.5
    assert called["result"] == "0xdcba"
    facts = {f["id"]: f for r in (block, balance, supply, held) for f in r["facts"]}
    token, holder = TOKEN.lower(), HOLDER.lower()
    assert {k: f["value"] for k, f in facts.items()} == {
        "block_number": 21_000_000,
        f"balance.{TREASURY}": 1.5,
        f"supply.{token}": 589_500_000_000_000.0,
        f"token_balance.{token}.{holder}": 12_345.5,
    }
    assert facts[f"balance.{TREASURY}"]["source"] == f"{origin} (eth_getBalance)"
    assert str(WEI) in facts[f"balance.{TREASURY}"]["statement"]
    assert all(f["at"] for f in facts.values())
    assert not any(KEY in r.text for r in results)
    asked = [r.body for r in served.received]
    assert all(r.method == "POST" and r.path == f"/v3/{KEY}" for r in served.received)
    assert [(a["jsonrpc"], a["method"]) for a in asked] == [
        ("2.0", "eth_blockNumber"),
        ("2.0", "eth_getBalance"),
        ("2.0", "eth_call"),
        ("2.0", "eth_call"),
        ("2.0", "eth_call"),
    ]
    assert len({a["id"] for a in asked}) == 5
    assert asked[0]["params"] == [] and asked[1]["params"] == [TREASURY, "latest"]
    assert asked[2]["params"] == [{"to": token, "data": "0x18160ddd"}, "latest"]
    assert asked[3]["params"] == [
        {"to": token, "data": "0x70a08231" + holder[2:].zfill(64)},
        "latest",
    ]
    assert asked[4]["params"] == [{"to": token, "data": "0xabcd"}, hex(19_000_000)]


def test_bad_input_is_refused_unsent_and_node_errors_are_clear(
    node: tuple[Node, JsonApi],
) -> None:
    state, served = node
    refused = [
        ("balance", {"address": "0x1234"}, "40 hex digits"),
        ("balance", {"address": TREASURY + "00"}, "40 hex digits"),
        ("balance", {"address": TREASURY, "block": "yesterday"}, "block must be"),
        ("token_balance", {"token_address": TOKEN, "holder": "vitalik.eth"}, "holder must be"),
        ("call", {"to": TOKEN, "data": "0xabc"}, "even number of hex digits"),
        ("call", {"to": TOKEN, "data": "0xzz"}, "even number of hex digits"),
        ("token_supply", {"token_address": TOKEN, "decimals": 99}, "decimals"),
    ]
    with hub.Hub({"eth": chain()}) as opened:
        for tool, arguments, why in refused:
            outcome = opened.call("eth", tool, arguments)
            assert outcome.is_error and why in outcome.text, (tool, outcome.text)
        assert served.received == []
        reverted = opened.call("eth", "call", {"to": REVERTS, "data": "0x12345678"})
        no_contract = opened.call("eth", "token_supply", {"token_address": NO_CODE})
        state.known.discard("eth_blockNumber")
        unknown = opened.call("eth", "block_number", {})
        state.revoked = True
        revoked = opened.call("eth", "balance", {"address": TREASURY})
    assert reverted.is_error and "error 3: execution reverted (data: 0x08c379a0)" in reverted.text
    assert no_contract.is_error and "returned no number" in no_contract.text
    assert unknown.is_error and "-32601" in unknown.text
    assert "eth_blockNumber does not exist" in unknown.text
    assert revoked.is_error and "HTTP 401" in revoked.text
    assert KEY not in revoked.text and served.url() in revoked.text


def test_an_agent_reads_the_token_supply_then_posts_it_citing_the_fact(
    make_world: Callable[..., World],
    node: tuple[Node, JsonApi],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end through an agent's run: the CMO reads the token's supply on chain (a
    turn), then posts the number citing the fact it read (a checked write, made); the
    same post without the citation is refused. The provider's key stays in its URL."""
    _, served = node
    posted = tmp_path / "posted.txt"
    monkeypatch.setenv("AITO_MCP_PROBE_LOG", str(posted))
    text = "589,500,000,000,000 SHIB exist today."
    supply = f"eth.supply.{TOKEN.lower()}"
    model = ScriptedModel(
        [("eth__token_supply", {"token_address": TOKEN})],
        [post(text, cites=[supply]), post(text)],
    )
    world = make_world(model, edit=serving({"eth": chain(), "social": probe()}))
    outcome = world.run("cmo", force=True)
    [result] = model.requests[1].turns[0].results
    assert not result.is_error and KEY not in result.content
    facts = {f["id"]: f["value"] for f in json.loads(result.content)["facts"]}
    assert facts == {supply: 589_500_000_000_000.0}  # named as it is cited
    [record] = [e["payload"] for e in world.events("tool.called")]
    assert (record["server"], record["tool"], record["error"]) == ("eth", "token_supply", None)
    [asked] = served.received
    assert (asked.method, asked.path) == ("POST", f"/v3/{KEY}")
    assert asked.body["params"] == [{"to": TOKEN.lower(), "data": "0x18160ddd"}, "latest"]
    cited, unsourced = outcome.actions
    assert (cited.type, cited.status) == ("mcp_write", "executed"), cited.reason
    assert unsourced.status == "refused" and "without citing" in (unsourced.reason or "")
    assert posted.read_text() == text + "\n"  # once: the cited post
