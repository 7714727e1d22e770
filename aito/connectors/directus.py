"""The directus connector: a Directus CMS's items (its REST API), read and written.

Its address is `AITO_MCP_DIRECTUS_URL` (the instance's base URL, e.g.
https://cms.example.org; its host must be one of the server's `domains`) and its token
`AITO_MCP_DIRECTUS_TOKEN` (sent as `Authorization: Bearer`, to that host only; without
one, Directus answers as its public role). `items` and `item` read; `create_item` and
`update_item` write, so AITO offers them to agents only as checked actions. Directus's
own system collections (`directus_*`) are not items and are refused.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from aito.connectors import fetching, tooling
from aito.errors import AdapterError

URL_ENV = "AITO_MCP_DIRECTUS_URL"
TOKEN_ENV = "AITO_MCP_DIRECTUS_TOKEN"  # noqa: S105 - an env var's name
READS = ToolAnnotations(read_only_hint=True)
COLLECTION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ITEM_ID = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,199}$")
FIELD = re.compile(r"^[A-Za-z0-9_*$-][A-Za-z0-9_.*$:-]{0,199}$")
MESSAGE = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"')
MAX_LIMIT = 100
MAX_WRITE_BYTES = 1_000_000


def server(allowed: list[str]) -> MCPServer:
    mcp = MCPServer("aito-directus", instructions="A Directus CMS: its items, read and written.")
    token = os.environ.get(TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def address(collection: str, item_id: str | int | None = None) -> str:
        base = os.environ.get(URL_ENV, "").strip().rstrip("/")
        if not base:
            raise ValueError(f"{URL_ENV} is not set: the Directus instance's base URL")
        url = f"{base}/items/{_collection(collection)}"
        return url if item_id is None else f"{url}/{_item_id(item_id)}"

    def read(url: str, params: dict[str, str] | None = None) -> tuple[Any, fetching.Fetched]:
        try:
            reply, fetched = fetching.fetch_json(
                url, allowed=allowed, headers=headers, params=params
            )
        except AdapterError as exc:
            raise _clear(exc, "GET", url) from exc
        return _data(reply, url), fetched

    def write(method: str, url: str, data: dict[str, Any]) -> tuple[Any, fetching.Fetched]:
        if not data:
            raise ValueError("data must name at least one field")
        if len(json.dumps(data, default=str)) > MAX_WRITE_BYTES:
            raise ValueError(f"data is larger than {MAX_WRITE_BYTES} bytes")
        try:
            reply, fetched = fetching.send_json(
                method, url, allowed=allowed, body=data, headers=headers
            )
        except AdapterError as exc:
            raise _clear(exc, method, url) from exc
        return (None if reply is None else _data(reply, url)), fetched

    @mcp.tool(annotations=READS)
    def items(
        collection: str,
        limit: int = 20,
        filter: dict[str, Any] | None = None,
        fields: list[str] | None = None,
    ) -> dict[str, Any]:
        """Items of a collection (at most 100), optionally filtered by a Directus filter
        object (e.g. {"status": {"_eq": "published"}}) and cut to some fields (e.g.
        ["id", "title", "author.name"])."""
        with tooling.foreseen():
            url = address(collection)
            params = {"limit": str(max(1, min(limit, MAX_LIMIT)))}
            if filter:
                params["filter"] = json.dumps(filter, separators=(",", ":"))
            if fields:
                bad = [f for f in fields if not FIELD.match(f)]
                if bad:
                    raise ValueError(f"not field names: {', '.join(map(repr, bad[:5]))}")
                params["fields"] = ",".join(fields)
            data, fetched = read(url, params)
            found = data if isinstance(data, list) else []
            return {
                "source": fetched.url,
                "fetched_at": fetched.at.isoformat(),
                "collection": collection,
                "items": found,
            }

    @mcp.tool(annotations=READS)
    def item(collection: str, id: str | int) -> dict[str, Any]:
        """One item of a collection by its primary key."""
        with tooling.foreseen():
            data, fetched = read(address(collection, id))
            return {
                "source": fetched.url,
                "fetched_at": fetched.at.isoformat(),
                "collection": collection,
                "item": data,
            }

    @mcp.tool()
    def create_item(collection: str, data: dict[str, Any]) -> dict[str, Any]:
        """Create an item in a collection from its fields; answers its id and URL."""
        with tooling.foreseen():
            url = address(collection)
            made, fetched = write("POST", url, data)
            made_id = made.get("id") if isinstance(made, dict) else None
            return {
                "collection": collection,
                "id": made_id,
                "url": f"{url}/{made_id}" if made_id is not None else None,
                "item": made,
                "status": fetched.status,
                "at": fetched.at.isoformat(),
            }

    @mcp.tool()
    def update_item(collection: str, id: str | int, data: dict[str, Any]) -> dict[str, Any]:
        """Change some fields of an item; answers the item as Directus now holds it."""
        with tooling.foreseen():
            url = address(collection, id)
            changed, fetched = write("PATCH", url, data)
            return {
                "collection": collection,
                "id": id,
                "url": url,
                "item": changed,
                "status": fetched.status,
                "at": fetched.at.isoformat(),
            }

    return mcp


def _collection(name: str) -> str:
    if not COLLECTION.match(name) or name.lower().startswith("directus_"):
        raise ValueError(
            f"{name!r} is not a collection of items (letters, digits, _ and -; "
            "Directus's own directus_* collections are not served)"
        )
    return name


def _item_id(value: str | int) -> str:
    text = str(value).strip()
    if isinstance(value, bool) or not ITEM_ID.match(text):
        raise ValueError(f"{value!r} is not an item id (letters, digits, _ . : and -)")
    return urllib.parse.quote(text, safe="")


def _data(reply: Any, url: str) -> Any:
    if not isinstance(reply, dict) or "data" not in reply:
        raise ValueError(f"{url} answered no Directus data")
    return reply["data"]


def _clear(exc: AdapterError, method: str, url: str) -> AdapterError:
    """Directus's own words for a refusal (`{"errors": [{"message": ...}]}`), if it gave any."""
    said = str(exc)
    status = re.search(r"answered HTTP (\d{3})", said)
    messages = []
    for raw in MESSAGE.findall(said)[:3]:
        try:
            messages.append(str(json.loads(f'"{raw}"')))
        except ValueError:
            messages.append(raw)
    if status is None or not messages:
        return exc
    path = urllib.parse.urlsplit(url).path
    return type(exc)(
        "directus", f"{method} {path} answered HTTP {status[1]}: {'; '.join(messages)}"
    )
