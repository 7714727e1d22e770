"""The x connector against a local server answering as X's API v2 does (recent search,
users by username, `POST /2/tweets`; errors as `{"errors": [...]}` or `{"title",
"detail"}`, a rate limit as a 429 with `x-rate-limit-reset`), through the MCP SDK's
client: reads with the app's bearer token, posts with the user's, counts as facts, and a
post X would refuse for its length is refused before it is sent."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.agent_world import ScriptedModel, edit_agent
from support.api_servers import Answer, Api, Request, Route, api

from aito.connectors.x import weighted_length
from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

APP_TOKEN = "AAAAAAAAAAAAAAAAAAAAAx-app-bearer-test"
USER_TOKEN = "VGhpcyBpcyBhIHVzZXIgdG9rZW4-user-test"
POSTS = [
    {
        "id": "1862000000000000001",
        "text": "SHIB community call tonight #shib",
        "author_id": "2244994945",
        "created_at": "2026-11-30T00:53:20.000Z",
        "public_metrics": {
            "retweet_count": 12,
            "reply_count": 3,
            "like_count": 140,
            "quote_count": 1,
            "bookmark_count": 2,
            "impression_count": 5120,
        },
        "edit_history_tweet_ids": ["1862000000000000001"],
    }
]
ACCOUNT = {
    "id": "2244994945",
    "name": "Shiba Classic",
    "username": "ShibaClassic",
    "public_metrics": {
        "followers_count": 48210,
        "following_count": 312,
        "tweet_count": 5120,
        "listed_count": 87,
        "like_count": 1900,
    },
}
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
APP_ONLY = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}


def x_api(queued: list[Answer]) -> Route:
    def route(request: Request) -> Answer:
        if queued:
            return queued.pop(0)
        auth = request.headers.get("authorization")
        if request.method == "POST" and request.path == "/2/tweets":
            if auth == f"Bearer {APP_TOKEN}":
                return 403, APP_ONLY, {}
            if auth != f"Bearer {USER_TOKEN}":
                return 401, UNAUTHORIZED, {}
            posted = {"id": "1862000000000000077", "text": (request.body or {}).get("text")}
            return 201, {"data": {**posted, "edit_history_tweet_ids": [posted["id"]]}}, {}
        if auth != f"Bearer {APP_TOKEN}":
            return 401, UNAUTHORIZED, {}
        if request.path == "/2/tweets/search/recent":
            if not 10 <= int(request.query.get("max_results", "10")) <= 100:
                problem = {
                    "message": "The `max_results` query parameter value is not between 10 and 100"
                }
                return 400, {"errors": [problem], "title": "Invalid Request"}, {}
            meta = {"newest_id": POSTS[0]["id"], "oldest_id": POSTS[0]["id"], "result_count": 1}
            return 200, {"data": POSTS, "meta": meta}, {}
        name = request.path.removeprefix("/2/users/by/username/")
        if name.lower() == "shibaclassic":
            return 200, {"data": ACCOUNT}, {}
        missing = {
            "value": name,
            "detail": f"Could not find user with username: [{name}].",
            "title": "Not Found Error",
            "resource_type": "user",
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
        return 200, {"errors": [missing]}, {}

    return route


@pytest.fixture
def queued() -> list[Answer]:
    return []


@pytest.fixture
def x(monkeypatch: pytest.MonkeyPatch, queued: list[Answer]) -> Iterator[Api]:
    with api(x_api(queued)) as served:
        monkeypatch.setenv("AITO_MCP_X_URL", served.url())
        monkeypatch.setenv("AITO_MCP_X_BEARER_TOKEN", APP_TOKEN)
        monkeypatch.setenv("AITO_MCP_X_USER_TOKEN", USER_TOKEN)
        yield served


def entry(*, posts: bool = True) -> McpServer:
    env = ["AITO_MCP_X_URL", "AITO_MCP_X_BEARER_TOKEN"]
    return McpServer(
        command=["aito", "mcp", "serve", "x"],
        domains=["127.0.0.1"],
        env=[*env, "AITO_MCP_X_USER_TOKEN"] if posts else env,
        writes=True,
    )


def shown(outcome: hub.Outcome) -> str:
    return outcome.text + json.dumps(outcome.structured)


def test_search_and_user_read_with_the_app_token_and_counts_are_facts(x: Api) -> None:
    with hub.Hub({"x": entry()}) as opened:
        reads = {t.name for t in opened.tools() if t.read_only}
        writes = {t.name for t in opened.tools() if not t.read_only}
        found = opened.call("x", "search", {"query": "#shib -is:retweet", "max_results": 5})
        account = opened.call("x", "user", {"username": "@shibaclassic"})
    assert (reads, writes) == ({"search", "user"}, {"post"})
    assert found.structured is not None and not found.is_error, found.text
    [post] = found.structured["posts"]
    assert post["id"] == "1862000000000000001" and post["text"].endswith("#shib")
    assert (post["author_id"], post["metrics"]["like_count"]) == ("2244994945", 140)
    searched, looked_up = x.received
    assert (searched.method, searched.path) == ("GET", "/2/tweets/search/recent")
    assert searched.query == {
        "query": "#shib -is:retweet",
        "max_results": "10",  # X's minimum
        "tweet.fields": "created_at,public_metrics,author_id",
    }
    assert account.structured is not None and not account.is_error, account.text
    facts = {f["id"]: f for f in account.structured["facts"]}
    assert {k: f["value"] for k, f in facts.items()} == {
        "followers.ShibaClassic": 48210,
        "following.ShibaClassic": 312,
        "posts.ShibaClassic": 5120,
        "listed.ShibaClassic": 87,
    }
    assert facts["followers.ShibaClassic"]["source"] == looked_up_url(x)
    assert (looked_up.path, looked_up.query) == (
        "/2/users/by/username/shibaclassic",
        {"user.fields": "public_metrics"},
    )
    assert {r.headers["authorization"] for r in x.received} == {f"Bearer {APP_TOKEN}"}
    for outcome in (found, account):
        assert APP_TOKEN not in shown(outcome) and USER_TOKEN not in shown(outcome)


def looked_up_url(x: Api) -> str:
    return x.url("/2/users/by/username/shibaclassic?user.fields=public_metrics")


def test_a_post_is_made_with_the_user_token_and_returns_its_id_and_url(x: Api) -> None:
    text = "Community call tonight, 18:00 UTC: https://shibaclassic.example/call/2026-11-30"
    with hub.Hub({"x": entry()}) as opened:
        posted = opened.call("x", "post", {"text": text})
    assert posted.structured is not None and not posted.is_error, posted.text
    assert posted.structured["id"] == "1862000000000000077"
    assert posted.structured["url"] == "https://x.com/i/web/status/1862000000000000077"
    [request] = x.received
    assert (request.method, request.path, request.body) == ("POST", "/2/tweets", {"text": text})
    assert request.headers["authorization"] == f"Bearer {USER_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert USER_TOKEN not in shown(posted)


def test_a_post_longer_than_x_counts_is_refused_before_it_is_sent(x: Api) -> None:
    link = "https://shibaclassic.example/" + "a" * 200  # any link counts 23
    with hub.Hub({"x": entry()}) as opened:
        latin = opened.call("x", "post", {"text": "a" * 281})
        cjk = opened.call("x", "post", {"text": "柴" * 141})  # each counts 2
        linked = opened.call("x", "post", {"text": "b" * 250 + " " + link})
    assert latin.is_error and "counts at most 280; this one counts 281" in latin.text
    assert cjk.is_error and "this one counts 282" in cjk.text
    assert not linked.is_error, linked.text
    assert [r.body["text"][:3] for r in x.received] == ["bbb"]  # only the one that fits
    assert weighted_length("a" * 280) == 280
    assert weighted_length("é" * 280) == 280  # Latin-1 and the like count 1
    assert weighted_length("e\u0301" * 280) == 280  # the same, decomposed (NFC first)
    assert weighted_length("🐕" * 140) == 280


def test_refusals_and_rate_limits_are_clear_errors(x: Api, queued: list[Answer]) -> None:
    reset = int(time.time()) + 120
    limited = {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}
    queued.append((429, limited, {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}))
    as_app = {**os.environ, "AITO_MCP_X_USER_TOKEN": APP_TOKEN}
    with hub.Hub({"x": entry()}, environ=as_app) as opened:
        throttled = opened.call("x", "search", {"query": "shib"})
        nobody = opened.call("x", "user", {"username": "nobody_here"})
        app_only = opened.call("x", "post", {"text": "gm"})
        not_a_name = opened.call("x", "user", {"username": "not a name"})
    with hub.Hub({"x": entry(posts=False)}) as read_only:
        unset = read_only.call("x", "post", {"text": "gm"})
    assert throttled.is_error and "rate limited: Too Many Requests; try again in" in throttled.text
    waited = float(throttled.text.rsplit("try again in ", 1)[1].split(" s")[0])
    assert 100 <= waited <= 121  # until the window resets
    assert nobody.is_error and "Could not find user with username: [nobody_here]." in nobody.text
    assert app_only.is_error and "HTTP 403: Authenticating with OAuth 2.0 Application-Only" in (
        app_only.text
    )
    assert "(what AITO_MCP_X_USER_TOKEN may not do)" in app_only.text
    assert not_a_name.is_error and "is not an X username" in not_a_name.text
    assert unset.is_error and "AITO_MCP_X_USER_TOKEN is not set" in unset.text
    assert len(x.received) == 3  # neither bad input nor a missing token reached X
    for outcome in (throttled, nobody, app_only, not_a_name, unset):
        assert APP_TOKEN not in outcome.text and USER_TOKEN not in outcome.text


def test_an_agent_reads_its_followers_then_posts_the_number_citing_it(
    make_world,  # type: ignore[no-untyped-def]
    x: Api,
) -> None:
    """End to end through an agent's run: the CMO reads its account through the x
    connector (a turn), then posts the follower count citing the fact it read (a checked
    write, made with the user's token); the same post without the citation is refused."""

    def with_x(repo: Path) -> None:
        org_yaml = repo / "org" / "org.yaml"
        data = yaml.safe_load(org_yaml.read_text())
        data["mcp"] = {
            "servers": {"social": entry().model_dump(mode="json", exclude_defaults=True)}
        }
        org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
        edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["social"]))

    text = "48,210 of you follow Shiba Classic. Thank you!"
    post = {"arguments": {"text": text}, "summary": "Thank our followers"}
    model = ScriptedModel(
        [("social__user", {"username": "ShibaClassic"})],
        [
            ("write__social__post", {**post, "cites": ["social.followers.ShibaClassic"]}),
            ("write__social__post", {**post, "summary": "Thank them again"}),
        ],
    )
    world = make_world(model, edit=with_x)
    outcome = world.run("cmo", force=True)
    cited, unsourced = outcome.actions
    assert (cited.type, cited.status) == ("mcp_write", "executed"), cited.reason
    assert unsourced.status == "refused" and "without citing" in (unsourced.reason or "")
    [made] = [r for r in x.received if r.method == "POST"]
    assert made.body == {"text": text} and made.headers["authorization"] == f"Bearer {USER_TOKEN}"
    assert [e["payload"]["tool"] for e in world.events("tool.called")] == ["user"]
