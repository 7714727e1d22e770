"""The action schema: what a model's answer may contain, and the tools generated from it."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from aito.agent import actions, prompting

EXAMPLES: dict[str, dict[str, Any]] = {
    "open_pr": {
        "title": "Weekly update",
        "body": "The weekly community update.",
        "files": {"content/weekly.md": "# Week 10\n"},
        "cites": ["tasks.open"],
    },
    "propose_decision": {
        "tier": "major",
        "title": "Q1 campaign",
        "rationale": "Grow weekly active holders.",
        "amount_usd": 900,
    },
    "vote": {"decision": "20260302-q1-campaign", "vote": "approve", "reason": "Fits the plan."},
    "create_task": {
        "title": "Draft the update",
        "description": "Summarise the week.",
        "assigned_to": "content-writer",
        "priority": 3,
        "due": "2026-03-03T09:00:00+00:00",
    },
    "update_task": {"task": "20260302-draft", "status": "in_progress", "note": "Starting."},
    "complete_task": {"task": "20260302-draft", "result": "Drafted.", "cites": []},
    "send_message": {
        "to": "ceo",
        "kind": "status_response",
        "subject": "Status of cmo",
        "body": "On track.",
        "correlation_id": "ceo:schedule:1:0",
    },
    "alert": {"severity": "warning", "title": "Spend spike", "details": "Twice the average."},
    "request_human_action": {"title": "Rotate the key", "body": "The token expires."},
    "spawn_worker": {"kind": "analyst", "task": "20260302-report", "instructions": "Do it."},
    "schedule_event": {
        "at": "2026-03-02T13:00:00+00:00",
        "title": "Status round",
        "description": "Ask for status.",
    },
    "propose_initiative": {"title": "Monthly report", "rationale": "Transparency.", "score": 6.5},
    "update_state": {"key": "status_round", "value": {"asked": ["cmo"]}},
    "summary": {"text": "Did things."},
}


def test_every_action_type_has_a_valid_example() -> None:
    assert set(EXAMPLES) == set(actions.ACTION_TYPES)
    parsed = actions.parse(list(EXAMPLES.items()))
    assert [a.model_dump()["type"] for a in parsed] == list(EXAMPLES)


def test_unknown_action_type_is_an_error_naming_the_known_types() -> None:
    with pytest.raises(actions.InvalidActions) as caught:
        actions.parse([("delete_repo", {"repo": "social"}), ("summary", {"text": "ok"})])
    [problem] = caught.value.problems
    assert "unknown action type 'delete_repo'" in problem
    for name in actions.ACTION_TYPES:
        assert name in problem


def test_extra_fields_are_rejected() -> None:
    with pytest.raises(actions.InvalidActions) as caught:
        actions.parse([("summary", {"text": "ok", "sudo": True})])
    assert "sudo" in str(caught.value)


def test_a_type_field_that_disagrees_with_the_tool_name_is_rejected() -> None:
    with pytest.raises(actions.InvalidActions, match="type field says 'summary'"):
        actions.parse([("alert", {**EXAMPLES["alert"], "type": "summary"})])


def test_more_than_one_summary_is_rejected() -> None:
    with pytest.raises(actions.InvalidActions, match="2 summary actions"):
        actions.parse([("summary", {"text": "one"}), ("summary", {"text": "two"})])


def test_a_rejected_answer_names_the_position_and_field_of_each_problem() -> None:
    with pytest.raises(actions.InvalidActions) as caught:
        actions.parse([("summary", {"text": "ok"}), ("vote", {**EXAMPLES["vote"], "vote": "yes"})])
    assert any(p.startswith("action 1 (vote): vote:") for p in caught.value.problems)


def test_too_many_actions_in_one_answer_are_rejected() -> None:
    calls = [
        ("update_state", {"key": f"k{i}", "value": i})
        for i in range(actions.MAX_ACTIONS_PER_ANSWER + 1)
    ]
    with pytest.raises(actions.InvalidActions, match="at most 30"):
        actions.parse(calls)


def test_reference_lists_every_action_type_and_every_required_field() -> None:
    reference = actions.reference()
    lines = {line.split("`")[1]: line for line in reference.splitlines()}
    assert set(lines) == set(actions.ACTION_TYPES)
    for name, cls in actions.ACTION_TYPES.items():
        schema = actions.input_schema(cls)
        for field in schema["required"]:
            assert f"{field}: " in lines[name], (name, field)
        for field in set(schema["properties"]) - set(schema["required"]):
            assert f"{field}?: " in lines[name], (name, field)


def test_tools_are_one_per_action_type() -> None:
    tools = prompting.tools()
    assert [t.name for t in tools] == list(actions.ACTION_TYPES)
    assert all(t.description for t in tools)
    assert all("type" not in t.input_schema["properties"] for t in tools)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_tool_input_schemas_accept_real_examples(name: str) -> None:
    tool = next(t for t in prompting.tools() if t.name == name)
    jsonschema.validate(EXAMPLES[name], tool.input_schema)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("open_pr", {"title": "x", "body": "b", "files": {"a.md": "a"}}),  # title too short
        ("open_pr", {"title": "Fine title", "body": "b", "files": {}}),  # no files
        ("vote", {"decision": "d", "vote": "yes", "reason": "r"}),
        ("summary", {"text": "ok", "extra": 1}),
        ("propose_initiative", {"title": "Idea", "rationale": "r", "score": 11}),
    ],
)
def test_tool_input_schemas_reject_bad_input_as_parse_does(name: str, bad: dict[str, Any]) -> None:
    tool = next(t for t in prompting.tools() if t.name == name)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, tool.input_schema)
    with pytest.raises(actions.InvalidActions):
        actions.parse([(name, bad)])
