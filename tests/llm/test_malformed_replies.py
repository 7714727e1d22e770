"""Replies that are not well-formed never reach the loop as answers.

The Anthropic provider is driven through the real SDK against the local Messages API
serving broken bodies: anything that is not a well-formed message is a MalformedReply
(never a traceback, never a half answer). A well-formed message whose content no
valid text can hold (NUL, lone surrogates, absurd nesting, non-finite numbers) comes
back, and `reply_problems` names what is wrong without repeating it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from support.fake_anthropic import API_KEY, FakeAnthropic, raw, running_fake_anthropic

from aito.llm import base, replay
from aito.llm.anthropic import AnthropicModel


def message(content: Any = None, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "summary", "input": {}}]
        if content is None
        else content,
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 3},
    }
    data.update(changes)
    return data


def summary_input(text_json: str) -> str:
    """A message whose summary call's input is this raw JSON text."""
    body = json.dumps(message([{"type": "tool_use", "id": "t", "name": "summary", "input": 0}]))
    return body.replace('"input": 0', f'"input": {text_json}')


def without(field: str) -> str:
    data = message()
    del data[field]
    return json.dumps(data)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as server:
        yield server


@pytest.fixture
def model(fake: FakeAnthropic) -> Iterator[AnthropicModel]:
    made = AnthropicModel(
        api_key=SecretStr(API_KEY), base_url=fake.base_url, max_retries=0, timeout_seconds=10
    )
    yield made
    made.close()


REQUEST = base.ModelRequest(
    agent_id="cmo", run_id="r", model="claude-sonnet-4-5", system="s", prompt="p", tools=[]
)

UNREADABLE = {
    "an HTML page from a proxy": raw(
        "<html><body>502 Bad Gateway</body></html>", content_type="text/html"
    ),
    "HTML labelled as JSON": raw("<!doctype html><title>oops</title>"),
    "JSON cut short": raw('{"id": "msg_01", "type": "mess'),
    "an empty body": raw(""),
    "bytes that are not UTF-8": raw(b'{"id": "\xff\xfe"}'),
    "no content": raw(without("content")),
    "no usage": raw(without("usage")),
    "content as a string": raw(json.dumps(message("hello"))),
    "a tool input that is not an object": raw(summary_input('"text"')),
    "a tool name that is a number": raw(
        json.dumps(message([{"type": "tool_use", "id": "t", "name": 7, "input": {}}]))
    ),
    "token counts as text": raw(json.dumps(message(usage={"input_tokens": "many"}))),
    "a negative token count": raw(
        json.dumps(message(usage={"input_tokens": -1_000_000, "output_tokens": 3}))
    ),
    "an absurd token count": raw(
        json.dumps(message(usage={"input_tokens": 12, "output_tokens": 10**12}))
    ),
    "nesting deeper than any parser goes": raw(summary_input("[" * 50_000 + "]" * 50_000)),
}


@pytest.mark.parametrize("reply", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_reply_is_a_malformed_reply(
    fake: FakeAnthropic, model: AnthropicModel, reply: Any
) -> None:
    fake.plan(reply)
    with pytest.raises(base.MalformedReply) as caught:
        model.complete(REQUEST)
    assert caught.value.service == "anthropic"
    assert "<html" not in str(caught.value)  # the body is not echoed


UNFIT = {
    "a NUL character": (summary_input('{"text": "a\\u0000b"}'), "a NUL character"),
    "a lone surrogate": (summary_input('{"text": "\\ud800"}'), "lone surrogate"),
    "a NUL in a key": (summary_input('{"te\\u0000xt": "a"}'), "a key: a NUL character"),
    "absurd nesting": (summary_input('{"a":' * 40 + "1" + "}" * 40), "nested deeper than"),
    "not a number": (summary_input('{"score": NaN}'), "not finite"),
}


@pytest.mark.parametrize(("body", "problem"), UNFIT.values(), ids=UNFIT.keys())
def test_a_well_formed_message_with_unfit_content_is_named_by_reply_problems(
    fake: FakeAnthropic, model: AnthropicModel, body: str, problem: str
) -> None:
    fake.plan(raw(body))
    response = model.complete(REQUEST)
    problems = base.reply_problems(response)
    assert problems and problem in problems[0]
    assert "\x00" not in problems[0] and "\ud800" not in problems[0]
    kept = base.storable(response.model_dump(mode="json"))
    assert "\\u0000" not in json.dumps(kept) and "\\ud800" not in json.dumps(kept)
    assert base.ModelResponse.model_validate(kept).tool_calls  # recordable, still a reply


def test_an_ordinary_reply_has_no_problems(fake: FakeAnthropic, model: AnthropicModel) -> None:
    fake.plan(raw(summary_input('{"text": "Done: 3 posts, \\u00e9t\\u00e9 \\ud83d\\ude00"}')))
    response = model.complete(REQUEST)
    assert base.reply_problems(response) == []
    assert response.tool_calls[0].input == {"text": "Done: 3 posts, été 😀"}


def test_a_replayed_rejection_is_rejected_again() -> None:
    recorded = base.Exchange(
        request=REQUEST,
        response=base.ModelResponse(provider="anthropic", model="claude-sonnet-4-5"),
        rejected="tool call 0's input.text: a NUL character",
    )
    with pytest.raises(base.MalformedReply, match="rejected when it was recorded"):
        replay.ReplayModel([recorded]).complete(REQUEST)
