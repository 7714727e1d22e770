"""Initiatives born of outside signals (issue 14): an idea is not raised again while it
is open or was closed lately, and one topic not within a week, whoever raises it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.agent_world import ScriptedModel, World

Make = Callable[..., World]


def idea(
    title: str, *, topic: str | None = None, signal: str | None = None
) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {"title": title, "rationale": "Because the news says so.", "score": 6}
    if topic:
        data["topic"] = topic
    if signal:
        data["signal"] = signal
    return ("propose_initiative", data)


def status(world: World, agent: str, key: str) -> tuple[str, str]:
    outcome = world.run(agent, key=key, force=True)
    [report] = [a for a in outcome.actions if a.type == "propose_initiative"]
    return report.status, report.reason or ""


def test_a_topic_is_raised_once_a_week_whoever_raises_it(make_world: Make) -> None:
    model = ScriptedModel(
        [idea("Announce the listing", topic="exchange-listing", signal="https://wire.example/l")],
        [idea("A listing AMA", topic="exchange-listing")],
        [idea("Listing follow-up", topic="exchange-listing")],
    )
    world = make_world(model)
    assert status(world, "cmo", "1") == ("executed", "")
    [item] = world.runtime.memory.items(kind="initiative")
    assert item["details"]["signal"] == "https://wire.example/l"
    world.clock.advance(days=3)
    state, reason = status(world, "cco", "2")  # another agent, the same topic
    assert state == "refused" and "topic 'exchange-listing' was raised within 7 days" in reason
    world.clock.advance(days=5)
    assert status(world, "cco", "3") == ("executed", "")


def test_an_idea_closed_lately_is_still_a_duplicate_and_one_closed_long_ago_is_not(
    make_world: Make,
) -> None:
    same = idea("Publish a monthly operations report")
    model = ScriptedModel([same], [same], [same])
    world = make_world(model)
    assert status(world, "coo", "1") == ("executed", "")
    [item] = world.runtime.memory.items(kind="initiative")
    world.runtime.memory.close_item(kind="initiative", ref=item["ref"], at=world.clock())
    world.clock.advance(days=5)
    state, reason = status(world, "coo", "2")
    assert state == "refused" and "the same as recently closed initiative" in reason
    world.clock.advance(days=31)
    assert status(world, "coo", "3") == ("executed", "")
    assert len(world.runtime.memory.items(kind="initiative")) == 1  # open again, anew
