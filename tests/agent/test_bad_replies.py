"""A model reply that is not well-formed is rejected, recorded, shown next time; the run
ends cleanly.

Through the real Anthropic adapter (the SDK against the local Messages API serving
broken bodies) and through the model port's test double and the replay model: no
traceback, no run left `running`, nothing of a rejected reply executed, and the
rejection itself recorded in Postgres even when the reply holds what Postgres refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.agent_world import ScriptedModel, World
from support.fake_anthropic import API_KEY, FakeAnthropic, raw, running_fake_anthropic, tool_use

from aito.agent import replaying, running
from aito.llm import replay
from aito.llm.base import Exchange, MalformedReply

MakeWorld = Callable[..., World]
RUN = running.run_id_for("cmo", "schedule", key="1")


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as server:
        yield server


def anthropic_world(make_world: MakeWorld, fake: FakeAnthropic) -> World:
    env = {"AITO_MODEL": "anthropic", "ANTHROPIC_API_KEY": API_KEY}
    return make_world(None, env={**env, "ANTHROPIC_BASE_URL": fake.base_url})


def summary_with(input_json: str) -> str:
    body = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "summary", "input": 0}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 1000, "output_tokens": 50},
    }
    return json.dumps(body).replace('"input": 0', f'"input": {input_json}')


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def rejections(world: World) -> list[dict[str, Any]]:
    return [e for e in world.events("agent.invalid_answer") if e["run_id"] == RUN]


def shown_next_time(world: World, model: ScriptedModel) -> list[dict[str, Any]]:
    world.clock.advance(hours=1)
    model.plan([("summary", {"text": "Back."})])
    world.run("cmo", key="2", force=True)
    return [o for o in model.requests[-1].context["outcomes"] if o["kind"] == "answer_rejected"]


def test_html_from_a_proxy_twice_fails_the_run_cleanly_and_is_shown_next_time(
    make_world: MakeWorld, fake: FakeAnthropic
) -> None:
    page = raw("<html><body>502 Bad Gateway</body></html>", content_type="text/html")
    fake.plan(page, page)
    world = anthropic_world(make_world, fake)
    outcome = world.run("cmo")
    assert outcome.status == "failed"
    assert "invalid model answer" in (outcome.error or "")
    assert "text/html" in (outcome.error or "")
    record = world.runtime.memory.run_record(RUN)
    assert record["status"] == "failed" and record["finished_at"] is not None
    assert sorted(e["payload"]["attempt"] for e in rejections(world)) == [1, 2]
    assert [Exchange.model_validate(e).rejected is not None for e in record["exchanges"]] == [
        True,
        True,
    ]
    assert world.runtime.memory.actions_of(RUN) == {}
    assert world.usage_rows("cmo") == 0  # nothing the provider could bill was read
    # the retry told the model why, without repeating the broken reply
    assert "rejected" in json.dumps(fake.requests[1].body["messages"])
    outcomes = world.runtime.memory.unseen_outcomes("cmo")
    assert [o["kind"] for o in outcomes] == ["answer_rejected", "answer_rejected"]
    assert "text/html" in outcomes[0]["summary"]


@pytest.mark.parametrize(
    "broken",
    [
        '{"text": "Done.\\u0000 rm -rf /"}',
        '{"text": "\\ud800 half a character"}',
        '{"text": "deep", "x": ' + '{"a":' * 40 + "1" + "}" * 40 + "}",
        '{"text": "not a number", "score": NaN}',
    ],
    ids=["NUL", "lone surrogate", "absurd nesting", "NaN"],
)
def test_a_reply_with_unfit_content_is_rejected_and_the_retry_runs(
    make_world: MakeWorld, fake: FakeAnthropic, broken: str
) -> None:
    fake.plan(raw(summary_with(broken)), tool_use(("summary", {"text": "Clean now."})))
    world = anthropic_world(make_world, fake)
    outcome = world.run("cmo")
    assert outcome.status == "completed", outcome.error
    assert outcome.summary == "Clean now."
    [rejected] = rejections(world)
    assert rejected["payload"]["attempt"] == 1
    record = world.runtime.memory.run_record(RUN)
    first = Exchange.model_validate(record["exchanges"][0])
    assert first.rejected and first.response is not None  # kept, made storable
    assert "\x00" not in json.dumps(record["exchanges"])
    assert world.usage_rows("cmo") == 2  # the rejected reply was billed: it counts
    history = world.runtime.memory.history("cmo", limit=10)
    assert [h["summary"] for h in history if h["action_type"] == "run_summary"] == ["Clean now."]


@pytest.mark.parametrize(
    "calls",
    [
        [("summary", {"text": "bad\x00byte"})],
        [("send_message", {"to": "cto", "subject": "Hi\ud83d", "body": "b"})],
        [("open_pr\x00", {"title": "x"})],
        [("summary", {"text": "ok", "extra": nested(30)})],
    ],
    ids=["NUL", "lone surrogate", "NUL in the tool name", "absurd nesting"],
)
def test_unfit_answers_twice_end_the_run_failed_and_recorded(
    make_world: MakeWorld, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    model = ScriptedModel(calls, calls)
    world = make_world(model)
    outcome = world.run("cmo")
    assert outcome.status == "failed"
    assert len(model.requests) == 2
    assert model.requests[1].previous == []  # a broken reply is not sent back
    record = world.runtime.memory.run_record(RUN)
    assert record["status"] == "failed"
    assert len(record["exchanges"]) == 2 and record["actions"] is None
    assert world.runtime.memory.actions_of(RUN) == {}
    assert len(rejections(world)) == 2
    [first, _] = shown_next_time(world, model)
    assert "rejected and nothing of it ran" in first["summary"]


def test_a_schema_invalid_answer_is_shown_next_time_with_its_reason(
    make_world: MakeWorld,
) -> None:
    model = ScriptedModel([("vote", {"decision": "x"})], [("summary", {"text": "Fixed."})])
    world = make_world(model)
    assert world.run("cmo").status == "completed"
    [shown] = shown_next_time(world, model)
    assert "vote: Field required" in shown["summary"]


def test_replaying_a_run_with_a_rejected_reply_rejects_it_again(make_world: MakeWorld) -> None:
    broken = [("summary", {"text": "bad\x00byte"})]
    world = make_world(ScriptedModel(broken, [("summary", {"text": "Fine."})]))
    assert world.run("cmo").status == "completed"
    record = world.runtime.memory.run_record(RUN)
    exchanges = [Exchange.model_validate(e) for e in record["exchanges"]]
    with pytest.raises(MalformedReply, match=r"rejected when it was recorded.*NUL"):
        replay.ReplayModel(exchanges).complete(exchanges[0].request)
    result = replaying.reproduce(record, world.runtime.memory.actions_of(RUN))
    assert result["reproduced"] is True
    assert "rejected when it was recorded" in result["calls"][0]["outcome"]
    assert result["calls"][1]["outcome"] == "1 valid action(s): summary"
