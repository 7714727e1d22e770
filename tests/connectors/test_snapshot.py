"""The snapshot connector against a local GraphQL endpoint answering as Snapshot's hub does
(`{"data": ...}`, or `{"errors": [...]}`), through the MCP SDK's client: fixed queries fed
GraphQL variables, proposals with their links, and their tallies as facts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.agent_world import ScriptedModel, World
from support.json_servers import JsonApi, Request, json_api
from support.mcp_world import serving

from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

SIP = "0x" + "ab" * 32
POLL = "0x" + "cd" * 32
CLOSED = {
    "id": SIP,
    "title": "SIP-7: Burn 10% of the treasury",
    "state": "closed",
    "author": "0x1111111111111111111111111111111111111111",
    "created": 1795900000,
    "start": 1796000000,
    "end": 1796600000,
    "snapshot": "21000000",
    "type": "single-choice",
    "quorum": 0,
    "choices": ["For", "Against", "Abstain"],
    "scores": [1250000.5, 250000.25, 0],
    "scores_total": 1500000.75,
    "scores_state": "final",
    "scores_updated": 1796600100,
    "votes": 321,
    "space": {"id": "shibainu.eth", "name": "Shiba Inu"},
}
ACTIVE = {
    **CLOSED,
    "id": POLL,
    "title": "Which logo?",
    "state": "active",
    "choices": ["Yes, the dog!", "Yes; the dog?", "🙂"],
    "scores": [10, 5, 1],
    "scores_total": 16,
    "scores_state": "pending",
    "scores_updated": 0,
    "votes": 3,
}
VOTES = [
    {"id": "v1", "voter": "0xaaa", "created": 1796000100, "choice": 1, "vp": 1e6, "reason": "burn"},
    {"id": "v2", "voter": "0xbbb", "created": 1796000200, "choice": {"1": 2, "2": 1}, "vp": 5.5},
]


def answer(request: Request) -> tuple[int, Any]:
    query, variables = request.body["query"], request.body["variables"]
    if variables.get("space") == "broken.eth":
        return 200, {"data": None, "errors": [{"message": "Space not found: broken.eth"}]}
    if query.startswith("query Proposals"):
        return 200, {"data": {"proposals": [CLOSED, ACTIVE]}}
    if query.startswith("query Proposal("):
        found = {**CLOSED, "body": "Burn it. " * 2000, "discussion": "https://forum.example/7"}
        return 200, {"data": {"proposal": found if variables["id"] == SIP else None}}
    return 200, {"data": {"votes": VOTES}}


@pytest.fixture
def graphql(monkeypatch: pytest.MonkeyPatch) -> Iterator[JsonApi]:
    with json_api(answer) as served:
        monkeypatch.setenv("AITO_MCP_SNAPSHOT_URL", served.url("/graphql"))
        monkeypatch.setenv("AITO_MCP_SNAPSHOT_KEY", "snap-key")
        yield served


def snapshot() -> McpServer:
    return McpServer(
        command=["aito", "mcp", "serve", "snapshot"],
        domains=["127.0.0.1"],
        env=["AITO_MCP_SNAPSHOT_URL", "AITO_MCP_SNAPSHOT_KEY"],
    )


def test_proposals_and_votes_come_with_links_and_their_tallies_as_facts(graphql: JsonApi) -> None:
    with hub.Hub({"dao": snapshot()}) as opened:
        assert {t.name for t in opened.tools() if t.read_only} == {"proposals", "proposal", "votes"}
        listed = opened.call("dao", "proposals", {"space": "shibainu.eth"})
        closed = opened.call(
            "dao", "proposals", {"space": "shibainu.eth", "state": "closed", "first": 500}
        )
        one = opened.call("dao", "proposal", {"id": SIP})
        votes = opened.call("dao", "votes", {"proposal_id": SIP, "first": 5000})
    assert listed.structured and one.structured and votes.structured, listed.text
    assert not closed.is_error
    first, second = listed.structured["proposals"]
    assert first["link"] == f"https://snapshot.org/#/shibainu.eth/proposal/{SIP}"
    assert first["end"] == "2026-12-06T23:33:20+00:00" and first["votes"] == 321
    assert second["choices"] == ["Yes, the dog!", "Yes; the dog?", "🙂"]
    facts = {f["id"]: f for f in listed.structured["facts"]}
    assert {k: f["value"] for k, f in facts.items()} == {
        f"votes.{SIP}.For": 1250000.5,
        f"votes.{SIP}.Against": 250000.25,
        f"votes.{SIP}.Abstain": 0,
        f"turnout.{SIP}": 1500000.75,
        f"vote_count.{SIP}": 321,
        f"votes.{POLL}.Yes_the_dog": 10,
        f"votes.{POLL}.choice2": 5,
        f"votes.{POLL}.choice3": 1,
        f"turnout.{POLL}": 16,
        f"vote_count.{POLL}": 3,
    }
    assert facts[f"votes.{SIP}.For"]["at"] == "2026-12-06T23:35:00+00:00"  # scores_updated
    assert facts[f"votes.{SIP}.For"]["source"] == graphql.url("/graphql")
    assert "'Yes; the dog?'" in facts[f"votes.{POLL}.choice2"]["statement"]
    assert len(one.structured["body"]) == 10_000 and one.structured["title"] == CLOSED["title"]
    assert {f["id"] for f in one.structured["facts"]} >= {f"turnout.{SIP}"}
    assert [v["choice"] for v in votes.structured["votes"]] == [1, {"1": 2, "2": 1}]
    sent = [r.body for r in graphql.received]
    assert all(r.method == "POST" and r.path == "/graphql" for r in graphql.received)
    assert all(r.headers["x-api-key"] == "snap-key" for r in graphql.received)
    assert sent[0]["variables"] == {"space": "shibainu.eth", "state": None, "first": 10}
    assert sent[1]["variables"] == {"space": "shibainu.eth", "state": "closed", "first": 50}
    assert sent[2]["variables"] == {"id": SIP} and sent[3]["variables"]["first"] == 1000
    assert "where: {space: $space, state: $state}" in sent[0]["query"]
    for field in ("choices", "scores", "scores_total", "votes", "start", "end", "space { id"):
        assert field in sent[0]["query"]
    assert "where: {proposal: $proposal}" in sent[3]["query"] and "vp" in sent[3]["query"]
    assert "shibainu" not in sent[0]["query"] and SIP not in sent[2]["query"]


def test_bad_input_is_refused_unsent_and_graphql_errors_are_clear(graphql: JsonApi) -> None:
    with hub.Hub({"dao": snapshot()}) as opened:
        injected = opened.call("dao", "proposals", {"space": 'x") { id } #'})
        bad_state = opened.call("dao", "proposals", {"space": "shibainu.eth", "state": "open"})
        bad_id = opened.call("dao", "votes", {"proposal_id": '0x1" }'})
        assert graphql.received == []
        broken = opened.call("dao", "proposals", {"space": "broken.eth"})
        missing = opened.call("dao", "proposal", {"id": POLL})
    assert injected.is_error and "Snapshot space id" in injected.text
    assert bad_state.is_error and "all, active, pending, closed" in bad_state.text
    assert bad_id.is_error and "proposal id" in bad_id.text
    assert broken.is_error and "Space not found: broken.eth" in broken.text
    assert missing.is_error and f"no proposal '{POLL}'" in missing.text


def test_an_agent_reads_its_dao_s_proposals_and_acts_on_them_next_turn(
    make_world: Callable[..., World], graphql: JsonApi
) -> None:
    """End to end through an agent's run: the CMO reads its space's closed proposals (a
    turn); the proposals, their links and their tallies as facts it may cite reach its
    next request, and it acts on them. The key went to the GraphQL endpoint only."""
    summary = "SIP-7 passed: 1,250,000.5 For."
    model = ScriptedModel(
        [("dao__proposals", {"space": "shibainu.eth", "state": "closed"})],
        [("summary", {"text": summary})],
    )
    world = make_world(model, edit=serving({"dao": snapshot()}))
    outcome = world.run("cmo", force=True)
    assert outcome.status == "completed", outcome.error
    [result] = model.requests[1].turns[0].results
    assert not result.is_error and "snap-key" not in result.content
    read = json.loads(result.content)
    assert read["proposals"][0]["link"] == f"https://snapshot.org/#/shibainu.eth/proposal/{SIP}"
    facts = {f["id"]: f["value"] for f in read["facts"]}
    assert facts[f"dao.votes.{SIP}.For"] == 1250000.5 and facts[f"dao.vote_count.{SIP}"] == 321
    [record] = [e["payload"] for e in world.events("tool.called")]
    assert (record["server"], record["tool"], record["error"]) == ("dao", "proposals", None)
    [asked] = graphql.received
    assert (asked.method, asked.path, asked.headers["x-api-key"]) == (
        "POST",
        "/graphql",
        "snap-key",
    )
    assert asked.body["variables"] == {"space": "shibainu.eth", "state": "closed", "first": 10}
    assert [(a.type, a.status) for a in outcome.actions] == [("summary", "executed")]
    assert outcome.summary == summary
