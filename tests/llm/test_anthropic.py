"""AnthropicModel through the real `anthropic` SDK against a local Messages API."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from support.fake_anthropic import (
    API_KEY,
    FakeAnthropic,
    malformed,
    overloaded,
    rate_limited,
    running_fake_anthropic,
    server_error,
    text,
    tool_use,
)

from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.llm import base
from aito.llm.anthropic import AnthropicModel
from aito.org.organization import ModelPrice

SYSTEM = "You are the CMO of Shiba Classic. " * 40
PROMPT = "Wake-up 7: two open decisions need your review."
MODEL = "claude-sonnet-4-5"
PROPOSE_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "body": {"type": "string"}},
    "required": ["title", "body"],
}
TOOLS = [
    base.ToolSpec(name="propose", description="Open a decision.", input_schema=PROPOSE_SCHEMA),
    base.ToolSpec(
        name="summary",
        description="End the wake-up with a summary.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    ),
]
PRICE = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)

MakeModel = Callable[..., AnthropicModel]


def make_request(**changes: Any) -> base.ModelRequest:
    fields: dict[str, Any] = {
        "agent_id": "cmo",
        "run_id": "run-1",
        "model": MODEL,
        "system": SYSTEM,
        "prompt": PROMPT,
        "tools": TOOLS,
        "max_tokens": 1024,
    }
    return base.ModelRequest(**(fields | changes))


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as server:
        yield server


@pytest.fixture
def make_model(fake: FakeAnthropic) -> Iterator[MakeModel]:
    made: list[AnthropicModel] = []

    def make(**options: Any) -> AnthropicModel:
        arguments: dict[str, Any] = {
            "api_key": SecretStr(API_KEY),
            "base_url": fake.base_url,
            "max_retries": 2,
            "timeout_seconds": 10,
        }
        model = AnthropicModel(**(arguments | options))
        made.append(model)
        return model

    yield make
    for model in made:
        model.close()


def test_request_caches_tools_with_the_system_and_forces_a_tool_answer(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    make_model().complete(make_request())

    [received] = fake.requests
    assert received.headers["x-api-key"] == API_KEY
    assert received.headers["anthropic-version"]
    body = received.body
    assert body["model"] == MODEL
    assert body["max_tokens"] == 1024
    assert body["system"] == [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    assert [tool["name"] for tool in body["tools"]] == ["propose", "summary"]
    assert body["tools"][0]["input_schema"] == PROPOSE_SCHEMA
    assert all("cache_control" not in tool for tool in body["tools"])  # cached with system
    assert body["tool_choice"] == {"type": "any"}
    assert body["messages"] == [{"role": "user", "content": PROMPT}]


def test_tool_calls_and_text_come_back_as_our_dtos(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(
        tool_use(
            ("propose", {"title": "Spring campaign", "body": "Budget 2k"}),
            ("summary", {"text": "proposed the campaign"}),
            text="Two things to do.",
        )
    )

    response = make_model().complete(make_request())

    assert response.provider == "anthropic"
    assert response.model == MODEL
    assert [(call.name, call.input) for call in response.tool_calls] == [
        ("propose", {"title": "Spring campaign", "body": "Budget 2k"}),
        ("summary", {"text": "proposed the campaign"}),
    ]
    assert all(call.id.startswith("toolu_") for call in response.tool_calls)
    assert len({call.id for call in response.tool_calls}) == 2
    assert response.text == "Two things to do."
    assert response.stop_reason == "tool_use"


def test_an_empty_plan_answers_with_the_default_summary(make_model: MakeModel) -> None:
    response = make_model().complete(make_request())

    assert [(call.name, call.input) for call in response.tool_calls] == [
        ("summary", {"text": "nothing to do"})
    ]


def test_a_text_only_answer_has_no_tool_calls(fake: FakeAnthropic, make_model: MakeModel) -> None:
    fake.plan(text("I would rather not."))

    response = make_model().complete(make_request())

    assert response.tool_calls == []
    assert response.text == "I would rather not."
    assert response.stop_reason == "end_turn"


def test_a_malformed_tool_input_is_passed_on_unchanged_for_the_agent_to_reject(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(malformed("propose", {"titel": 3}))

    response = make_model().complete(make_request())

    [call] = response.tool_calls
    assert (call.name, call.input) == ("propose", {"titel": 3})


SHARED = "Shiba Classic is an organization run by AI agents. " * 40
CMO = "You are the CMO (`cmo`). Profile: growth. " * 10


def test_the_shared_prefix_and_the_agents_own_part_are_two_breakpoints(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    model = make_model()
    request = make_request(system=SHARED + CMO, shared_chars=len(SHARED))

    model.complete(request)

    body = fake.requests[-1].body
    assert body["system"] == [
        {"type": "text", "text": SHARED, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": CMO, "cache_control": {"type": "ephemeral"}},
    ]
    marked = [b for b in body["system"] + body["tools"] if "cache_control" in b]
    assert len(marked) == 2  # the API takes at most 4


def test_another_agent_reads_the_shared_prefix_and_writes_only_its_own_part(
    make_model: MakeModel,
) -> None:
    model = make_model()
    cfo = "You are the CFO (`cfo`). Profile: money. " * 10
    cmo = make_request(system=SHARED + CMO, shared_chars=len(SHARED))
    other = make_request(system=SHARED + cfo, shared_chars=len(SHARED), prompt="Wake-up 9")

    first = model.complete(cmo).usage
    second = model.complete(other).usage
    again = model.complete(cmo.model_copy(update={"prompt": "Wake-up 10"})).usage

    assert first.cache_read_tokens == 0 and first.cache_write_tokens > 0
    assert 0 < second.cache_read_tokens < first.cache_write_tokens  # tools + shared part
    assert 0 < second.cache_write_tokens < first.cache_write_tokens  # its own part
    assert again.cache_read_tokens == first.cache_write_tokens and again.cache_write_tokens == 0


def test_usage_shows_a_cache_write_then_cache_reads_of_the_same_prefix(
    make_model: MakeModel,
) -> None:
    model = make_model()

    first = model.complete(make_request()).usage
    second = model.complete(make_request(prompt="Wake-up 8: nothing new.")).usage
    other = model.complete(make_request(system="You are the CFO.")).usage

    assert first.cache_write_tokens > 0
    assert first.cache_read_tokens == 0
    assert first.input_tokens > 0
    assert first.output_tokens > 0
    assert second.cache_write_tokens == 0
    assert second.cache_read_tokens == first.cache_write_tokens
    assert other.cache_write_tokens > 0
    assert other.cache_read_tokens == 0


def test_a_rate_limit_is_retried_after_the_servers_retry_after(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(rate_limited(retry_after_ms=60), tool_use(("summary", {"text": "done"})))

    response = make_model().complete(make_request())

    assert [call.input for call in response.tool_calls] == [{"text": "done"}]
    assert len(fake.requests) == 2
    assert fake.requests[0].body == fake.requests[1].body
    assert response.latency_ms >= 60  # the wait the server asked for is part of the call


def test_an_overloaded_api_is_retried(fake: FakeAnthropic, make_model: MakeModel) -> None:
    fake.plan(overloaded(), tool_use(("summary", {"text": "done"})))

    response = make_model().complete(make_request())

    assert [call.input for call in response.tool_calls] == [{"text": "done"}]
    assert len(fake.requests) == 2


def test_a_persistently_overloaded_api_is_a_temporary_error(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(overloaded(retry_after_ms=50), overloaded(retry_after_ms=50))

    with pytest.raises(TemporaryAdapterError) as caught:
        make_model(max_retries=1).complete(make_request())

    assert len(fake.requests) == 2
    assert caught.value.service == "anthropic"
    assert "overloaded" in str(caught.value)
    assert caught.value.retry_after == pytest.approx(0.05)


def test_an_exhausted_rate_limit_carries_the_retry_after_seconds(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(rate_limited(retry_after_ms=None, retry_after="7"))

    with pytest.raises(TemporaryAdapterError) as caught:
        make_model(max_retries=0).complete(make_request())

    assert caught.value.retry_after == 7.0
    assert "rate limited" in str(caught.value)


def test_a_server_error_without_retry_after_waits_the_default(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(server_error(retry_after_ms=None))

    with pytest.raises(TemporaryAdapterError) as caught:
        make_model(max_retries=0).complete(make_request())

    assert caught.value.retry_after == 30.0
    assert "HTTP 500" in str(caught.value)


def test_a_server_error_without_retry_after_is_retried_with_backoff_not_the_default(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(server_error(retry_after_ms=None), tool_use(("summary", {"text": "done"})))

    response = make_model().complete(make_request())

    assert [call.input for call in response.tool_calls] == [{"text": "done"}]
    assert len(fake.requests) == 2


def test_a_rate_limit_asking_for_more_than_a_minute_is_raised_at_once(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(rate_limited(retry_after_ms=None, retry_after="120"))

    with pytest.raises(TemporaryAdapterError) as caught:
        make_model(max_retries=3).complete(make_request())

    assert len(fake.requests) == 1  # not slept through: the caller schedules it
    assert caught.value.retry_after == 120.0


def test_a_rejected_key_is_permanent_and_says_which_variable_to_fix(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    wrong_key = "sk-ant-wrong-0123456789"

    with pytest.raises(PermanentAdapterError) as caught:
        make_model(api_key=SecretStr(wrong_key)).complete(make_request())

    message = str(caught.value)
    assert "ANTHROPIC_API_KEY" in message
    assert "401" in message
    assert wrong_key not in message
    assert len(fake.requests) == 1  # not retried


def test_an_unreachable_api_is_a_temporary_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    model = AnthropicModel(api_key=SecretStr(API_KEY), base_url=base_url, max_retries=0)

    try:
        with pytest.raises(TemporaryAdapterError) as caught:
            model.complete(make_request())
    finally:
        model.close()

    assert base_url in str(caught.value)
    assert caught.value.retry_after == 30.0


def test_a_retry_replays_the_rejected_tool_calls_with_the_feedback_as_errors(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    rejected = [
        base.ToolCall(id="toolu_01", name="propose", input={"title": "Spring"}),
        base.ToolCall(id="toolu_02", name="summary", input={"text": "proposed"}),
    ]
    feedback = "propose: 'body' is a required property"

    make_model().complete(make_request(feedback=feedback, previous=rejected))

    messages = fake.requests[0].body["messages"]
    assert messages == [
        {"role": "user", "content": PROMPT},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "propose",
                    "input": {"title": "Spring"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "summary",
                    "input": {"text": "proposed"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": feedback,
                    "is_error": True,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": feedback,
                    "is_error": True,
                },
            ],
        },
    ]


def test_a_retry_without_previous_tool_calls_sends_the_feedback_as_a_user_turn(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    make_model().complete(make_request(feedback="answer with a tool call"))

    assert fake.requests[0].body["messages"] == [
        {"role": "user", "content": PROMPT},
        {"role": "user", "content": "answer with a tool call"},
    ]


def test_the_worst_case_estimate_bounds_the_cost_of_a_real_call(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.plan(tool_use(("propose", {"title": "Spring campaign", "body": "x" * 400})))
    request = make_request()

    usage = make_model().complete(request).usage
    worst_usd, worst_tokens = base.worst_case(request, PRICE)

    cost = base.cost_usd(usage, PRICE)
    assert cost == pytest.approx(
        (
            usage.input_tokens * 3.0
            + usage.output_tokens * 15.0
            + usage.cache_write_tokens * 3.75
            + usage.cache_read_tokens * 0.30
        )
        / 1_000_000
    )
    assert 0 < cost <= worst_usd
    assert usage.total <= worst_tokens


def test_the_tool_loop_turns_become_tool_use_and_tool_result_messages(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    read = base.ToolCall(id="toolu_r1", name="news__read_feed", input={"url": "https://x.org/f"})
    early = base.ToolCall(id="toolu_r2", name="summary", input={"text": "too early"})
    turn = base.ToolTurn(
        calls=[read, early],
        results=[
            base.ToolResult(call_id="toolu_r1", content='{"items": []}'),
            base.ToolResult(call_id="toolu_r2", content="not run", is_error=True),
        ],
    )
    make_model().complete(make_request(turns=[turn]))

    assert fake.requests[0].body["messages"] == [
        {"role": "user", "content": PROMPT},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_r1",
                    "name": "news__read_feed",
                    "input": {"url": "https://x.org/f"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_r2",
                    "name": "summary",
                    "input": {"text": "too early"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_r1",
                    "content": '{"items": []}',
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_r2",
                    "content": "not run",
                    "is_error": True,
                },
            ],
        },
    ]
