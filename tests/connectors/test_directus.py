"""The directus connector against a local server answering as Directus's REST API does
(`{"data": ...}`, refusals as `{"errors": [{"message": ...}]}`), through the MCP SDK's
client: items read with their filter and fields, items created and updated (tools that
write, never offered as reads), the token sent as a bearer, bad names refused unsent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.agent_world import ScriptedModel, edit_agent
from support.json_servers import JsonApi, Request, json_api

from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

TOKEN = "cms-token-123"
ARTICLES = [
    {"id": 7, "title": "Listing day", "status": "published", "author": {"name": "Ada"}},
    {"id": 9, "title": "Community call", "status": "published", "author": {"name": "Bo"}},
]
FORBIDDEN = {
    "errors": [
        {
            "message": "You don't have permission to access this.",
            "extensions": {"code": "FORBIDDEN"},
        }
    ]
}


def answer(request: Request) -> tuple[int, Any]:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return 401, {"errors": [{"message": "Invalid user credentials."}]}
    route = (request.method, request.path)
    if request.path.startswith("/cms/items/secrets"):
        return 403, FORBIDDEN
    if route == ("GET", "/cms/items/articles"):
        return 200, {"data": ARTICLES}
    if route == ("GET", "/cms/items/articles/7"):
        return 200, {"data": ARTICLES[0]}
    if route == ("POST", "/cms/items/articles"):
        return 200, {"data": {"id": 10, **request.body}}
    if route == ("POST", "/cms/items/drafts"):
        return 204, None  # created; this token may not read it back
    if route == ("PATCH", "/cms/items/articles/7"):
        return 200, {"data": {**ARTICLES[0], **request.body}}
    return 404, {"errors": [{"message": "Route doesn't exist."}]}


@pytest.fixture
def cms(monkeypatch: pytest.MonkeyPatch) -> Iterator[JsonApi]:
    with json_api(answer) as served:
        monkeypatch.setenv("AITO_MCP_DIRECTUS_URL", served.url("/cms/"))
        monkeypatch.setenv("AITO_MCP_DIRECTUS_TOKEN", TOKEN)
        yield served


def directus() -> McpServer:
    return McpServer(
        command=["aito", "mcp", "serve", "directus"],
        domains=["127.0.0.1"],
        env=["AITO_MCP_DIRECTUS_URL", "AITO_MCP_DIRECTUS_TOKEN"],
        writes=True,
    )


def test_items_are_read_with_their_filter_and_fields_and_the_token_as_bearer(
    cms: JsonApi,
) -> None:
    published = {"status": {"_eq": "published"}}
    with hub.Hub({"cms": directus()}) as opened:
        kinds = {t.name: t.read_only for t in opened.tools()}
        listed = opened.call(
            "cms",
            "items",
            {
                "collection": "articles",
                "limit": 500,
                "filter": published,
                "fields": ["id", "title", "author.name"],
            },
        )
        one = opened.call("cms", "item", {"collection": "articles", "id": 7})
        plain = opened.call("cms", "items", {"collection": "articles"})
        refused = opened.call("cms", "items", {"collection": "secrets"})
    assert kinds == {"items": True, "item": True, "create_item": False, "update_item": False}
    assert listed.structured and one.structured and not plain.is_error, listed.text
    assert listed.structured["items"] == ARTICLES and one.structured["item"] == ARTICLES[0]
    assert listed.structured["source"].startswith(cms.url("/cms/items/articles?"))
    first, second, third, _ = cms.received
    assert (first.method, first.path) == ("GET", "/cms/items/articles")
    assert first.query == {
        "limit": "100",
        "filter": '{"status":{"_eq":"published"}}',
        "fields": "id,title,author.name",
    }
    assert json.loads(first.query["filter"]) == published
    assert (second.method, second.path, second.query) == ("GET", "/cms/items/articles/7", {})
    assert third.query == {"limit": "20"}
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in cms.received)
    assert refused.is_error
    assert "GET /cms/items/secrets answered HTTP 403: You don't have permission" in refused.text
    assert TOKEN not in refused.text


def test_items_are_created_and_updated_answering_their_id_and_url(cms: JsonApi) -> None:
    draft = {"title": "Burn report", "status": "draft", "tags": ["burn", "q4"]}
    with hub.Hub({"cms": directus()}) as opened:
        made = opened.call("cms", "create_item", {"collection": "articles", "data": draft})
        changed = opened.call(
            "cms",
            "update_item",
            {"collection": "articles", "id": "7", "data": {"status": "archived"}},
        )
        unread = opened.call("cms", "create_item", {"collection": "drafts", "data": draft})
        refused = opened.call(
            "cms", "update_item", {"collection": "secrets", "id": 1, "data": {"x": 1}}
        )
    assert made.structured and changed.structured and unread.structured, made.text
    assert made.structured["id"] == 10
    assert made.structured["url"] == cms.url("/cms/items/articles/10")
    assert made.structured["item"] == {"id": 10, **draft}
    assert changed.structured["item"]["status"] == "archived"
    assert changed.structured["url"] == cms.url("/cms/items/articles/7")
    assert unread.structured["id"] is None and unread.structured["status"] == 204
    assert refused.is_error
    assert "PATCH /cms/items/secrets/1 answered HTTP 403: You don't have permission" in refused.text
    post, patch, _, _ = cms.received
    assert (post.method, post.path, post.body) == ("POST", "/cms/items/articles", draft)
    assert post.headers["content-type"] == "application/json"
    assert (patch.method, patch.path, patch.body) == (
        "PATCH",
        "/cms/items/articles/7",
        {"status": "archived"},
    )
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in cms.received)


def test_bad_names_and_empty_writes_are_refused_before_anything_is_sent(cms: JsonApi) -> None:
    refused = [
        ("items", {"collection": "../users"}, "not a collection"),
        ("items", {"collection": "directus_users"}, "directus_* collections"),
        ("items", {"collection": "articles", "fields": ["title,secret"]}, "not field names"),
        ("item", {"collection": "articles", "id": "../../users/me"}, "not an item id"),
        ("create_item", {"collection": "articles", "data": {}}, "at least one field"),
        ("update_item", {"collection": "art icles", "id": 7, "data": {"a": 1}}, "not a collection"),
    ]
    with hub.Hub({"cms": directus()}) as opened:
        for tool, arguments, why in refused:
            outcome = opened.call("cms", tool, arguments)
            assert outcome.is_error and why in outcome.text, (tool, outcome.text)
    assert cms.received == []


def test_an_agent_reads_its_articles_then_drafts_one_and_never_the_same_twice(
    make_world,  # type: ignore[no-untyped-def]
    cms: JsonApi,
) -> None:
    """End to end through an agent's run: the CMO reads the published articles through the
    directus connector (a turn), then creates a draft as a checked write (made with the
    CMS token, sent to the CMS alone); the same draft asked for in a later run is refused
    and never sent."""

    def with_cms(repo: Path) -> None:
        org_yaml = repo / "org" / "org.yaml"
        data = yaml.safe_load(org_yaml.read_text())
        entry = directus().model_dump(mode="json", exclude_defaults=True)
        data["mcp"] = {"servers": {"cms": entry}}
        org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
        edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["cms"]))

    draft = {"title": "This week: Listing day and the Community call", "status": "draft"}
    create = (
        "write__cms__create_item",
        {"arguments": {"collection": "articles", "data": draft}, "summary": "Draft the recap"},
    )
    read = {"collection": "articles", "filter": {"status": {"_eq": "published"}}}
    model = ScriptedModel([("cms__items", read)], [create])
    world = make_world(model, edit=with_cms)
    outcome = world.run("cmo", force=True)
    [made] = outcome.actions
    assert (made.type, made.status) == ("mcp_write", "executed"), made.reason
    [turn] = model.requests[1].turns
    assert "Community call" in turn.results[0].content and not turn.results[0].is_error
    [record] = [e["payload"] for e in world.events("tool.called")]
    assert (record["server"], record["tool"], record["error"]) == ("cms", "items", None)
    [written] = world.events("world.written")
    assert written["payload"]["tool"] == "cms__create_item"

    model.plan([create])  # the same draft, in the next run
    world.clock.advance(hours=4)
    again = world.run("cmo", key="2", force=True)
    [refused] = again.actions
    assert refused.status == "refused" and "the same as open write" in (refused.reason or "")
    listed, post = cms.received  # the read, then exactly one write
    assert (listed.method, listed.query["filter"]) == ("GET", '{"status":{"_eq":"published"}}')
    assert (post.method, post.path, post.body) == ("POST", "/cms/items/articles", draft)
    assert {r.headers["authorization"] for r in cms.received} == {f"Bearer {TOKEN}"}
    assert not any(TOKEN in request.model_dump_json() for request in model.requests)
