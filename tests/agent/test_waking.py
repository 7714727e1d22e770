"""What wakes an agent: unanswered requests stay in the CEO's prompt until they time
out; what an agent changed itself is no news to it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.agent_world import ScriptedModel, Spy, World

from aito.bus import streams
from aito.llm import offline
from aito.org.messages import MessageType

pytestmark = pytest.mark.services

MakeWorld = Callable[..., World]


def test_unanswered_status_requests_are_shown_to_the_ceo_then_time_out(
    make_world: MakeWorld,
) -> None:
    model = Spy(offline.OfflineModel())
    world = make_world(model)
    first = world.run("ceo", key="1")
    asked = [a for a in first.actions if a.type == "send_message" and a.status == "executed"]
    assert len(asked) == 5  # one status_request per C-level agent
    world.clock.advance(minutes=10)
    world.run("ceo", key="2", force=True)
    prompt = model.asked("ceo")[-1].prompt
    for clevel in ("cco", "cfo", "cmo", "coo", "cto"):
        assert f"`{clevel}` has not answered request" in prompt
    # the CFO answers; the others stay silent past the 30-minute deadline
    world.run("cfo", key="1")
    world.clock.advance(minutes=30)
    timeouts = streams.Messenger(world.runtime.bus).expire_requests(world.clock.now)
    assert sorted(t.recipient for t in timeouts) == ["cco", "cmo", "coo", "cto"]
    world.run("ceo", key="3")
    prompt = model.asked("ceo")[-1].prompt
    assert "has not answered request" not in prompt  # nothing open any more
    alerts = [m for m in world.stream("ceo") if m.type is MessageType.ALERT]
    assert len(alerts) == 4  # each miss, once, in the CEO's inbox
    answers = [m for m in world.stream("ceo") if m.type is MessageType.STATUS_RESPONSE]
    assert [m.from_ for m in answers] == ["cfo"]


def test_what_an_agent_changed_itself_does_not_wake_it_again(make_world: MakeWorld) -> None:
    proposal = (
        "propose_decision",
        {"tier": "minor", "title": "Weekly dependency window", "rationale": "Tuesdays."},
    )
    model = ScriptedModel([proposal, ("summary", {"text": "Proposed."})])
    world = make_world(model)
    assert world.run("cto", key="1").status == "completed"
    world.clock.advance(hours=1)
    again = world.run("cto", key="2")
    assert again.status == "skipped"  # its own open decision is no news to it
    assert len(model.requests) == 1
