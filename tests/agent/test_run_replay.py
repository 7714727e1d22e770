"""A finished run can be replayed from its saved exchanges, and only for the same questions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.agent_world import World

from aito.agent import actions, running
from aito.errors import PermanentAdapterError
from aito.llm import offline, replay
from aito.llm.base import Exchange


def recorded(make_world: Callable[..., World]) -> tuple[dict, list[Exchange]]:
    world = make_world(offline.OfflineModel(seed=5))
    world.run("ceo")
    outcome = world.run("cmo")
    assert outcome.status == "completed"
    record = world.runtime.memory.run_record(running.run_id_for("cmo", "schedule", key="1"))
    assert record is not None
    return record, [Exchange.model_validate(e) for e in record["exchanges"]]


def test_replaying_a_run_reproduces_its_tool_calls(make_world: Callable[..., World]) -> None:
    record, exchanges = recorded(make_world)
    [exchange] = exchanges
    assert exchange.response is not None
    model = replay.ReplayModel(exchanges)
    answer = model.complete(exchange.request)
    assert answer.tool_calls == exchange.response.tool_calls
    assert model.remaining == 0
    parsed = actions.parse([(c.name, c.input) for c in answer.tool_calls])
    assert [a.model_dump(mode="json") for a in parsed] == record["actions"]
    # and the offline model itself answers the recorded request the same way again
    again = offline.OfflineModel(seed=5).complete(exchange.request)
    assert again.tool_calls == answer.tool_calls


def test_a_changed_request_diverges_with_a_clear_error(make_world: Callable[..., World]) -> None:
    _, exchanges = recorded(make_world)
    request = exchanges[0].request
    changed = request.model_copy(update={"prompt": request.prompt + "\nOne more thing."})
    with pytest.raises(PermanentAdapterError) as caught:
        replay.ReplayModel(exchanges).complete(changed)
    text = str(caught.value)
    assert "diverged from its recording at call 1" in text
    assert f"prompt differs at character {len(request.prompt)}" in text

    other_model = request.model_copy(update={"model": "claude-opus-4-5"})
    with pytest.raises(PermanentAdapterError, match="model differs"):
        replay.ReplayModel(exchanges).complete(other_model)


def test_a_replay_asked_more_often_than_recorded_says_so(
    make_world: Callable[..., World],
) -> None:
    _, exchanges = recorded(make_world)
    model = replay.ReplayModel(exchanges)
    model.complete(exchanges[0].request)
    with pytest.raises(PermanentAdapterError, match="the recording has only 1 calls"):
        model.complete(exchanges[0].request)


def test_what_is_not_compared_may_differ(make_world: Callable[..., World]) -> None:
    _, exchanges = recorded(make_world)
    request = exchanges[0].request.model_copy(update={"run_id": "another", "seed": 42})
    answer = replay.ReplayModel(exchanges).complete(request)
    assert exchanges[0].response is not None
    assert answer.tool_calls == exchanges[0].response.tool_calls
