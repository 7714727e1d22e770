"""The chain connector: reads of an EVM chain (Ethereum JSON-RPC 2.0 over HTTP), as facts.

Its endpoint is `AITO_MCP_CHAIN_URL` (a node's or a provider's URL, whose path or query
may hold the provider's key: it is never shown; results name only its scheme and host,
e.g. `https://mainnet.infura.io (eth_getBalance)`; that host must be one of the server's
`domains`). Balances and supplies come back in base units (wei, exact) and scaled (ether,
tokens); the scaled numbers are also facts: `block_number`, `balance.<address>`,
`supply.<token>`, `token_balance.<token>.<holder>` (addresses in lower case).
"""

from __future__ import annotations

import itertools
import os
import re
import urllib.parse
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from aito.connectors import fetching, tooling
from aito.errors import AdapterError, PermanentAdapterError, TemporaryAdapterError

URL_ENV = "AITO_MCP_CHAIN_URL"
READS = ToolAnnotations(read_only_hint=True)
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
DATA = re.compile(r"^0x(?:[0-9a-fA-F]{2}){0,50000}$")
QUANTITY = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
TAGS = ("latest", "earliest", "pending", "safe", "finalized")
TOTAL_SUPPLY = "0x18160ddd"
BALANCE_OF = "0x70a08231"
BUSY_CODES = (-32005, -32603)
"""JSON-RPC errors worth retrying (EIP-1474: limit exceeded; internal error)."""


def server(allowed: list[str]) -> MCPServer:
    mcp = MCPServer("aito-chain", instructions="Reads an EVM chain: balances, supply, calls.")
    ids = itertools.count(1)

    def rpc(method: str, params: list[Any]) -> tuple[Any, str, str]:
        """(the call's result, where it came from, when)."""
        url = os.environ.get(URL_ENV, "").strip()
        if not url:
            raise ValueError(f"{URL_ENV} is not set: the JSON-RPC endpoint of the chain")
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.hostname or ''}" + (
            f":{parts.port}" if parts.port else ""
        )
        source = f"{origin} ({method})"
        ask = {"jsonrpc": "2.0", "id": next(ids), "method": method, "params": params}
        try:
            reply, fetched = fetching.send_json("POST", url, allowed=allowed, body=ask)
        except AdapterError as exc:  # its message names the URL: keep its key out
            said = str(exc).removeprefix(f"{exc.service}: ").replace(url, origin)
            hidden = url.removeprefix(origin)
            said = said.replace(hidden, "/…") if hidden.strip("/") else said
            raise type(exc)("chain", said) from exc
        if not isinstance(reply, dict) or reply.get("id") != ask["id"]:
            raise PermanentAdapterError("chain", f"{source} gave no JSON-RPC answer to {method}")
        error = reply.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), str(error.get("message", "no message"))[:300]
            data = error.get("data")
            extra = f" (data: {data[:200]})" if isinstance(data, str) and data else ""
            kind = TemporaryAdapterError if code in BUSY_CODES else PermanentAdapterError
            raise kind("chain", f"{source} answered error {code}: {message}{extra}")
        if "result" not in reply:
            raise PermanentAdapterError("chain", f"{source} answered {method} without a result")
        return reply["result"], source, fetched.at.isoformat()

    def fact(fact_id: str, statement: str, value: Any, source: str, at: str) -> dict[str, Any]:
        return {"id": fact_id, "statement": statement, "value": value, "source": source, "at": at}

    @mcp.tool(annotations=READS)
    def block_number() -> dict[str, Any]:
        """The number of the chain's latest block (eth_blockNumber), also a fact."""
        with tooling.foreseen():
            result, source, at = rpc("eth_blockNumber", [])
            number = _quantity(result, "eth_blockNumber")
            facts = [fact("block_number", "the chain's latest block number", number, source, at)]
            return {"source": source, "fetched_at": at, "block_number": number, "facts": facts}

    @mcp.tool(annotations=READS)
    def balance(address: str, block: str | int = "latest") -> dict[str, Any]:
        """The native balance of ``address`` (eth_getBalance) at ``block`` (a number or
        latest, earliest, pending, safe, finalized): wei (exact) and ether, also a fact."""
        with tooling.foreseen():
            who, at_block = _address(address, "address"), _block(block)
            result, source, at = rpc("eth_getBalance", [who, at_block])
            wei = _quantity(result, "eth_getBalance")
            ether = wei / 10**18
            said = f"native balance of {who} in ether at block {at_block} (wei: {wei})"
            return {
                "source": source,
                "fetched_at": at,
                "address": who,
                "block": at_block,
                "wei": wei,
                "ether": ether,
                "facts": [fact(f"balance.{who}", said, ether, source, at)],
            }

    @mcp.tool(annotations=READS)
    def token_supply(token_address: str, decimals: int = 18) -> dict[str, Any]:
        """An ERC-20 token's total supply (totalSupply()): base units (exact) and scaled
        by ``decimals``, also a fact."""
        with tooling.foreseen():
            token, scale = _address(token_address, "token_address"), _decimals(decimals)
            result, source, at = rpc("eth_call", [{"to": token, "data": TOTAL_SUPPLY}, "latest"])
            raw = _word(result, f"totalSupply() of {token}")
            supply = raw / 10**scale
            said = f"total supply of the token {token} (raw: {raw}, {scale} decimals)"
            return {
                "source": source,
                "fetched_at": at,
                "token": token,
                "raw": raw,
                "supply": supply,
                "facts": [fact(f"supply.{token}", said, supply, source, at)],
            }

    @mcp.tool(annotations=READS)
    def token_balance(token_address: str, holder: str, decimals: int = 18) -> dict[str, Any]:
        """What ``holder`` holds of an ERC-20 token (balanceOf(address)): base units
        (exact) and scaled by ``decimals``, also a fact."""
        with tooling.foreseen():
            token, scale = _address(token_address, "token_address"), _decimals(decimals)
            who = _address(holder, "holder")
            data = BALANCE_OF + who[2:].rjust(64, "0")
            result, source, at = rpc("eth_call", [{"to": token, "data": data}, "latest"])
            raw = _word(result, f"balanceOf({who}) of {token}")
            held = raw / 10**scale
            said = f"balance of {who} in the token {token} (raw: {raw}, {scale} decimals)"
            return {
                "source": source,
                "fetched_at": at,
                "token": token,
                "holder": who,
                "raw": raw,
                "balance": held,
                "facts": [fact(f"token_balance.{token}.{who}", said, held, source, at)],
            }

    @mcp.tool(annotations=READS)
    def call(to: str, data: str, block: str | int = "latest") -> dict[str, Any]:
        """A raw read-only contract call (eth_call): ``data`` is the ABI-encoded call as
        0x-prefixed hex; the answer is the raw hex the contract returned."""
        with tooling.foreseen():
            target = _address(to, "to")
            if not DATA.match(data.strip()):
                raise ValueError("data must be 0x followed by an even number of hex digits")
            at_block = _block(block)
            ask = {"to": target, "data": data.strip().lower()}
            result, source, at = rpc("eth_call", [ask, at_block])
            if not isinstance(result, str) or not DATA.match(result):
                raise PermanentAdapterError("chain", f"{source} answered no hex data: {result!r}")
            return {"source": source, "fetched_at": at, "to": target, "result": result}

    return mcp


def _address(value: str, name: str) -> str:
    if not ADDRESS.match(value.strip()):
        raise ValueError(f"{name} must be an address: 0x followed by 40 hex digits")
    return value.strip().lower()


def _block(value: str | int) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return hex(value)
    text = str(value).strip().lower()
    if text in TAGS or QUANTITY.match(text):
        return text
    if text.isdigit():
        return hex(int(text))
    raise ValueError(f"block must be a number, 0x-hex or one of {', '.join(TAGS)}")


def _decimals(value: int) -> int:
    if not 0 <= value <= 77:
        raise ValueError("decimals must be between 0 and 77")
    return value


def _quantity(result: Any, method: str) -> int:
    if not isinstance(result, str) or not QUANTITY.match(result):
        raise PermanentAdapterError("chain", f"{method} answered no quantity: {result!r}")
    return int(result, 16)


def _word(result: Any, what: str) -> int:
    """The first 32-byte word of an eth_call's answer, as an unsigned integer."""
    if not isinstance(result, str) or not DATA.match(result):
        raise PermanentAdapterError("chain", f"{what} answered no hex data: {result!r}")
    if len(result) < 66:
        raise ValueError(f"{what} returned no number ({result!r}): is it an ERC-20 contract?")
    return int(result[2:66], 16)
