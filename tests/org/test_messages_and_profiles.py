"""The AgentMessage wire format and profile parsing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydantic
import pytest

from aito.org import profiles
from aito.org.messages import AgentMessage, MessageType

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def test_a_message_round_trips_with_the_seeds_field_names() -> None:
    message = AgentMessage.model_validate(
        {
            "id": "msg-001",
            "type": "status_request",
            "from": "ceo",
            "to": "cmo",
            "payload": {"include": ["metrics", "pending_tasks", "blockers"]},
            "priority": "normal",
            "timestamp": NOW.isoformat(),
            "requires_response": True,
            "response_deadline": (NOW + dt.timedelta(minutes=5)).isoformat(),
        }
    )
    wire = message.to_wire()
    assert '"from":"ceo"' in wire
    assert AgentMessage.from_wire(wire) == message
    assert message.type is MessageType.STATUS_REQUEST and not message.is_group


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"to": "Everyone!"}, "String should match pattern"),
        ({"type": "gossip"}, "Input should be"),
        ({"timestamp": "2026-11-21T12:00:00"}, "timezone"),
        ({"response_deadline": "2026-11-21T11:00:00+00:00", "requires_response": True}, "before"),
        ({"response_deadline": "2026-11-21T13:00:00+00:00"}, "requires_response is false"),
        ({"type": "status_response"}, "correlation_id"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_malformed_messages_are_rejected(change: dict[str, object], message: str) -> None:
    base = {
        "id": "m",
        "type": "direct",
        "from": "ceo",
        "to": "clevel",
        "timestamp": NOW.isoformat(),
    }
    with pytest.raises(pydantic.ValidationError, match=message):
        AgentMessage.model_validate(base | change)


def test_a_profile_is_parsed_into_sections_and_facts() -> None:
    path = Path(__file__).resolve().parents[2] / "profiles" / "cmo.md"
    profile, problems = profiles.parse_profile(path, path.read_text())
    assert problems == []
    assert list(profile.sections)[: len(profiles.REQUIRED_SECTIONS)] == list(
        profiles.REQUIRED_SECTIONS
    )
    assert profile.fact("Identity", "Reports To") is not None
    interval = profile.interval_seconds()
    assert interval is not None and interval[0] == 4 * 3600


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("Every 4 hours", 14400),
        ("Every hour", 3600),
        ("Every 24 hours", 86400),
        ("Daily", 86400),
        ("Every 30 minutes", 1800),
        ("On demand", None),
    ],
)
def test_interval_phrases(text: str, seconds: int | None) -> None:
    assert profiles.parse_interval_text(text) == seconds


def test_an_unreadable_interval_phrase_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot read interval"):
        profiles.parse_interval_text("whenever it feels like it")
