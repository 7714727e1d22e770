"""Recording a run's model calls and replaying them without a model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.llm import base
from aito.llm.replay import RecordingModel, ReplayModel, request_fingerprint

TOOLS = [
    base.ToolSpec(
        name="summary",
        description="End the wake-up.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    )
]


class ScriptedModel:
    """Answers each call with the next scripted response, or raises the scripted error."""

    def __init__(self, *script: base.ModelResponse | Exception) -> None:
        self._script = list(script)

    @property
    def provider(self) -> str:
        return "scripted"

    def complete(self, request: base.ModelRequest) -> base.ModelResponse:
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def make_request(**changes: Any) -> base.ModelRequest:
    fields: dict[str, Any] = {
        "agent_id": "cmo",
        "run_id": "run-1",
        "model": "claude-sonnet-4-5",
        "system": "You are the CMO.",
        "prompt": "Wake-up 1: review decision 12.",
        "tools": TOOLS,
    }
    return base.ModelRequest(**(fields | changes))


def answer(summary: str, *, tokens: int = 10) -> base.ModelResponse:
    return base.ModelResponse(
        provider="scripted",
        model="claude-sonnet-4-5",
        tool_calls=[base.ToolCall(id=f"t-{summary}", name="summary", input={"text": summary})],
        usage=base.Usage(input_tokens=tokens, output_tokens=3),
        latency_ms=120,
    )


def record(*calls: tuple[base.ModelRequest, base.ModelResponse]) -> list[base.Exchange]:
    recorder = RecordingModel(ScriptedModel(*(response for _, response in calls)))
    for request, _ in calls:
        recorder.complete(request)
    return recorder.exchanges


def test_recording_passes_answers_through_and_keeps_every_exchange() -> None:
    recorder = RecordingModel(ScriptedModel(answer("first"), answer("second")))
    first_request = make_request()
    second_request = make_request(feedback="call a tool", prompt="Wake-up 1, again")

    assert recorder.provider == "scripted"
    assert recorder.complete(first_request) == answer("first")
    assert recorder.complete(second_request) == answer("second")
    assert recorder.exchanges == [
        base.Exchange(request=first_request, response=answer("first")),
        base.Exchange(request=second_request, response=answer("second")),
    ]


def test_a_replay_gives_the_recorded_answers_in_order() -> None:
    exchanges = record(
        (make_request(), answer("first")),
        (make_request(feedback="answer with a tool"), answer("second")),
    )
    replay = ReplayModel(exchanges)

    # a new run: other ids and context, same questions
    again = {"run_id": "run-2", "agent_id": "cmo-2", "context": {"wake": 2}}
    assert replay.complete(make_request(**again)) == answer("first")
    assert replay.complete(make_request(feedback="answer with a tool", **again)) == answer("second")
    assert replay.provider == "replay"
    assert replay.remaining == 0


def test_a_recording_survives_a_round_trip_through_json() -> None:
    exchanges = record((make_request(), answer("first")))
    adapter = TypeAdapter(list[base.Exchange])

    loaded = adapter.validate_json(adapter.dump_json(exchanges))

    assert ReplayModel(loaded).complete(make_request()) == answer("first")


def test_a_changed_prompt_is_reported_as_divergence_at_that_call() -> None:
    replay = ReplayModel(
        record(
            (make_request(), answer("first")),
            (make_request(prompt="Wake-up 2: review decision 12."), answer("second")),
        )
    )
    replay.complete(make_request())

    with pytest.raises(PermanentAdapterError) as caught:
        replay.complete(make_request(prompt="Wake-up 2: review decision 13."))

    message = str(caught.value)
    assert caught.value.service == "replay"
    assert "run diverged from its recording at call 2" in message
    assert "prompt differs at character 28" in message
    assert "system" not in message


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        ({"model": "claude-opus-4-5"}, "model differs"),
        ({"system": "You are the CFO."}, "system differs"),
        ({"feedback": "try again"}, "feedback differs (None recorded, 'try again' now)"),
        ({"tools": []}, "tools differ (['summary'] recorded, [] now)"),
        (
            {"tools": [TOOLS[0].model_copy(update={"description": "Stop."})]},
            "tools differ (same names, changed descriptions or schemas)",
        ),
    ],
)
def test_each_compared_field_is_named_when_it_differs(
    change: dict[str, Any], reported: str
) -> None:
    replay = ReplayModel(record((make_request(), answer("first"))))

    with pytest.raises(PermanentAdapterError, match="at call 1") as caught:
        replay.complete(make_request(**change))

    assert reported in str(caught.value)


def test_a_recorded_error_replays_as_an_error() -> None:
    failure = TemporaryAdapterError("anthropic", "the API is overloaded (HTTP 529)")
    recorder = RecordingModel(ScriptedModel(failure, answer("after the error")))

    with pytest.raises(TemporaryAdapterError):
        recorder.complete(make_request())
    recorder.complete(make_request())
    [failed, succeeded] = recorder.exchanges
    assert succeeded.response == answer("after the error")
    assert failed.response is None
    assert failed.error is not None
    assert "overloaded (HTTP 529)" in failed.error

    replay = ReplayModel(recorder.exchanges)
    with pytest.raises(PermanentAdapterError, match=r"call 1 failed when it was recorded.*529"):
        replay.complete(make_request())
    assert replay.complete(make_request()) == answer("after the error")


def test_asking_for_more_calls_than_recorded_is_an_error() -> None:
    replay = ReplayModel(record((make_request(), answer("only"))))
    replay.complete(make_request())

    with pytest.raises(PermanentAdapterError, match="at call 2: the recording has only 1 calls"):
        replay.complete(make_request())


def test_the_fingerprint_covers_the_question_not_the_run() -> None:
    fingerprint = request_fingerprint(make_request())

    assert fingerprint == request_fingerprint(
        make_request(run_id="run-9", agent_id="other", context={"x": 1}, seed=3)
    )
    assert fingerprint != request_fingerprint(make_request(feedback="again"))
    assert fingerprint != request_fingerprint(make_request(prompt="Wake-up 2"))
    assert len(fingerprint) == 64
