"""Writing to the world (issue 14): a tool that writes is an action, checked like a pull
request before anything reaches the server — the agent's own server, the write's tier,
numbers cited, no duplicate, the day's cap — made at most once, and only recorded in a
dry run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.agent_world import ScriptedModel, World, edit_agent

from aito.agent import world_writing
from aito.runtime import gateway, protocol, tool_gate
from aito.toolbox import hub

PROBE = Path(__file__).resolve().parents[1] / "support" / "mcp_env_server.py"
Make = Callable[..., World]


def servers(**mcp: Any) -> Callable[[Path], None]:
    def edit(repo: Path) -> None:
        org_yaml = repo / "org" / "org.yaml"
        data = yaml.safe_load(org_yaml.read_text())
        probe = {
            "command": [sys.executable, str(PROBE)],
            "writes": True,
            "env": ["AITO_MCP_PROBE_LOG"],
        }
        data["mcp"] = {
            **mcp,
            "servers": {"social": probe, "treasury": {**probe, "write_tier": "major"}},
        }
        org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
        edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["social", "treasury"]))

    return edit


def post(
    text: str, *, cites: list[str] | None = None, server: str = "social"
) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {"arguments": {"text": text}, "summary": f"Post: {text[:40]}"}
    if cites is not None:
        data["cites"] = cites
    return (f"write__{server}__post", data)


@pytest.fixture
def posted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "posted.txt"
    log.touch()
    monkeypatch.setenv("AITO_MCP_PROBE_LOG", str(log))
    return log


def statuses(outcome: Any) -> list[tuple[str, str]]:
    return [(a.type, a.status) for a in outcome.actions]


def test_a_write_is_offered_as_an_action_checked_and_made_once(
    make_world: Make, posted: Path
) -> None:
    model = ScriptedModel([post("We are listed on a new exchange!")])
    world = make_world(model, edit=servers())
    outcome = world.run("cmo", force=True)
    assert statuses(outcome) == [("mcp_write", "executed")], outcome.actions
    offered = {t.name for t in model.requests[0].tools}
    assert {"write__social__post", "write__treasury__post", "social__environment"} <= offered
    assert "social__post" not in offered  # a tool that writes is never a read
    assert posted.read_text() == "We are listed on a new exchange!\n"
    [written] = world.events("world.written")
    assert written["payload"]["tool"] == "social__post" and written["payload"]["error"] is None

    model.plan([post("We are listed on a new exchange!")])  # the same post, next run
    world.clock.advance(hours=4)
    again = world.run("cmo", key="2", force=True)
    [(kind, status)] = statuses(again)
    assert (kind, status) == ("mcp_write", "refused")
    assert "the same as open write" in (again.actions[0].reason or "")
    assert posted.read_text().count("\n") == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (post("Holders: 12,345"), "states a number without citing"),
        (post("Holders: 12,345", cites=["coingecko.holders"]), "cites unknown fact"),
        (post("Our treasury statement", server="treasury"), "is a major write"),
        (  # prose in an identifier's place is published text all the same
            (
                "write__social__post",
                {"arguments": {"text": "Hi", "thread_id": "Holders 12,345"}, "summary": "Hi"},
            ),
            "states a number without citing",
        ),
        (
            ("write__pages__post", {"arguments": {"text": "x"}, "summary": "x"}),
            "not one of your MCP servers",
        ),
    ],
)
def test_a_write_the_check_refuses_never_reaches_the_server(
    make_world: Make, posted: Path, answer: tuple[str, dict[str, Any]], reason: str
) -> None:
    world = make_world(ScriptedModel([answer]), edit=servers())
    outcome = world.run("cmo", force=True)
    [report] = outcome.actions
    assert report.status == "refused" and reason in (report.reason or ""), report.reason
    assert posted.read_text() == ""
    assert world.events("world.written") == []


@pytest.mark.parametrize(
    ("arguments", "published"),
    [
        ({"chat_id": -1001234567890, "text": "Welcome!"}, ["Welcome!"]),
        ({"chat_id": "-1001234567890", "text": "Welcome!"}, ["Welcome!"]),
        ({"chatId": "@shibaclassic", "replyToId": 1790000000000, "text": "Yes"}, ["Yes"]),
        ({"to": ["bob2@example.net"], "subject": "Re: Q3", "text": "Hi"}, ["Re: Q3", "Hi"]),
        ({"url": "https://example.org/2026/06", "in_reply_to": "17", "text": "See"}, ["See"]),
        ({"collection": "posts_2026", "id": 42, "data": {"title": "New"}}, ["New"]),
        ({"chat_id": "Holders 12,345", "text": "Hi"}, ["Holders 12,345", "Hi"]),
        ({"chat_id": "Holders:12,345", "text": "Hi"}, ["Holders:12,345", "Hi"]),
        ({"id": 7, "data": {"holders": 12345, "author_id": 3}}, ["12345", "3"]),
        ({"text": "Hi", "limit": 5, "silent": True}, ["Hi", "5"]),
    ],
)
def test_what_a_write_publishes_leaves_out_its_identifiers_and_nothing_else(
    arguments: dict[str, Any], published: list[str]
) -> None:
    """The number rule reads what a write publishes: a value the server's argument names
    as an identifier, and that looks like one, is left out; prose in its place, and every
    value inside an object (keys the model chose), count."""
    found = world_writing.published_text(arguments).split("\n")
    assert sorted(found) == sorted(published)


def test_a_dry_run_records_the_would_be_write_and_writes_nothing(
    make_world: Make, posted: Path
) -> None:
    world = make_world(ScriptedModel([post("Launch day!")]), edit=servers(dry_run=True))
    outcome = world.run("cmo", force=True)
    assert statuses(outcome) == [("mcp_write", "dry_run")]
    assert posted.read_text() == ""
    [would] = world.events("world.would_write")
    assert would["payload"]["arguments"] == {"text": "Launch day!"}
    assert would["payload"]["tool"] == "social__post"


def test_the_days_cap_stops_writes(make_world: Make, posted: Path) -> None:
    model = ScriptedModel([post("First news"), post("Second, a different story")])
    world = make_world(model, edit=servers(writes_per_day=1))
    outcome = world.run("cmo", force=True)
    assert statuses(outcome) == [("mcp_write", "executed"), ("mcp_write", "refused")]
    assert "writes_per_day" in (outcome.actions[1].reason or "")
    assert posted.read_text() == "First news\n"


def test_the_same_write_may_go_out_again_once_its_repeat_window_has_passed(
    make_world: Make, posted: Path
) -> None:
    """A monthly reminder: refused as a duplicate within `mcp.repeat_after_days`, made
    again after it (a run's start forgets the agent's older writes)."""
    reminder = "Reminder: the community call is on the first Monday."
    model = ScriptedModel([post(reminder)], [post(reminder)], [post(reminder)])
    world = make_world(model, edit=servers(repeat_after_days=7))
    assert statuses(world.run("cmo", force=True)) == [("mcp_write", "executed")]
    world.clock.advance(days=6)
    assert statuses(world.run("cmo", key="2", force=True)) == [("mcp_write", "refused")]
    world.clock.advance(days=2)
    assert statuses(world.run("cmo", key="3", force=True)) == [("mcp_write", "executed")]
    assert posted.read_text() == f"{reminder}\n{reminder}\n"


def test_the_launcher_checks_a_containers_write_again(make_world: Make, posted: Path) -> None:
    """An agent's container asks its launcher for writes: the launcher refuses one that
    breaks the write's rules, or that its run did not claim first, whatever the container
    says; a claimed, valid write is made."""
    world = make_world(ScriptedModel(), edit=servers())
    spec = world.org.org.mcp.servers
    with hub.Hub({"social": spec["social"], "treasury": spec["treasury"]}) as tools:
        gate = tool_gate.ToolGate(world.ports, world.org, agent_id="cmo", tools=tools)
        write = {"tool": "social__post", "arguments": {"text": "Hello"}, "summary": "Say hello"}

        def refusal(action: dict[str, Any], ref: str = "cmo:run#0") -> str:
            with pytest.raises(gateway.Refusal) as caught:
                gate.write(protocol.ToolWriteAsk(action=action, ref=ref))
            return str(caught.value)

        assert "no claim" in refusal(write)
        assert "major write" in refusal({**write, "tool": "treasury__post"})
        assert "without citing" in refusal({**write, "arguments": {"text": "1,000,000 holders"}})
        world.ports.memory.add_item(
            kind="write",
            ref="cmo:run#0",
            agent_id="cmo",
            title="social__post: Hello",
            content_hash="h",
            embedding=None,
            at=world.clock(),
        )
        made = gate.write(protocol.ToolWriteAsk(action=write, ref="cmo:run#0"))
        assert not made.is_error and posted.read_text() == "Hello\n"
        with pytest.raises(gateway.Refusal, match="writes: only a checked action"):
            gate.call(protocol.ToolCallAsk(server="social", tool="post", arguments={"text": "x"}))
