"""One wake-up, start to finish, on the real services and forges.

The model is the only test double: a scripted model (tool calls given by the test),
the offline model, or the real Anthropic adapter against a local server speaking
the Messages API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import agent_world
from support.agent_world import ScriptedModel, Spy, World
from support.fake_anthropic import API_KEY, running_fake_anthropic, tool_use

from aito.agent import executing, running
from aito.decisions import reading
from aito.forge.base import Forge, PullState
from aito.llm import offline
from aito.org.messages import MessageType

MakeWorld = Callable[..., World]


def pr(title: str = "Weekly community post", path: str = "content/week-10.md", text: str = "Hi"):
    return ("open_pr", {"title": title, "body": "The weekly post.", "files": {path: text}})


def message(to: str, subject: str = "Hello there", **extra: Any) -> tuple[str, dict[str, Any]]:
    return ("send_message", {"to": to, "subject": subject, "body": "A note.", **extra})


def summary(text: str = "Done.") -> tuple[str, dict[str, Any]]:
    return ("summary", {"text": text})


def human_issues(world: World) -> list[str]:
    return [
        i.title for i in world.governance.issues(state=None, labels=[executing.HUMAN_ACTION_LABEL])
    ]


# -- answers that do not fit the schema --------------------------------------------------


def test_an_invalid_answer_is_retried_once_with_the_validation_error(
    make_world: MakeWorld,
) -> None:
    model = ScriptedModel([("vote", {"decision": "x"})], [pr(), summary()])
    world = make_world(model)
    outcome = world.run("cmo")
    assert outcome.status == "completed"
    first, second = model.requests
    assert first.feedback is None
    assert second.feedback is not None
    assert "rejected and nothing of it was executed" in second.feedback
    assert "action 0 (vote): vote: Field required" in second.feedback
    assert [c.name for c in second.previous] == ["vote"]
    assert [(a.type, a.status) for a in outcome.actions] == [
        ("open_pr", "executed"),
        ("summary", "executed"),
    ]


def test_a_still_invalid_answer_fails_the_run_and_nothing_runs(make_world: MakeWorld) -> None:
    model = ScriptedModel(
        [pr(), ("delete_repo", {"repo": "social"})],
        [pr(), summary("one"), summary("two")],
    )
    world = make_world(model)
    outcome = world.run("cmo")
    assert outcome.status == "failed"
    assert len(model.requests) == 2
    assert "2 summary actions" in (outcome.error or "")
    run_id = running.run_id_for("cmo", "schedule", key="1")
    assert world.runtime.memory.actions_of(run_id) == {}
    assert world.forge("social").pulls(state=None) == []
    events = [e for e in world.events("agent.invalid_answer") if e["run_id"] == run_id]
    assert sorted(e["payload"]["attempt"] for e in events) == [1, 2]
    assert "unknown action type 'delete_repo'" in str(events)
    assert world.runtime.memory.run_record(run_id)["status"] == "failed"


# -- exactly once ------------------------------------------------------------------------


def test_the_same_run_id_does_its_work_once(make_world: MakeWorld) -> None:
    model = ScriptedModel([pr(), message("cto"), summary()])
    world = make_world(model)
    first = world.run("cmo")
    assert first.status == "completed" and not first.repeated
    world.clock.advance(minutes=5)
    again = world.run("cmo")
    assert again.status == "completed"
    assert again.repeated and again.as_json()["already_done"] is True
    assert [(a.type, a.status, a.ref) for a in again.actions] == [
        (a.type, a.status, a.ref) for a in first.actions
    ]
    assert len(model.requests) == 1
    assert len(world.forge("social").pulls(state=None)) == 1
    assert [m.from_ for m in world.stream("cto")] == ["cmo"]


class Crash(BaseException):
    """The process dies (not an error the loop could handle)."""


class CrashingForge:
    """A department forge whose ``open_pull`` dies once, at the n-th call."""

    def __init__(self, inner: Forge, *, at_call: int) -> None:
        self._inner = inner
        self._at_call = at_call
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def open_pull(self, **arguments: Any) -> Any:
        self.calls += 1
        if self.calls == self._at_call:
            raise Crash("power cut")
        return self._inner.open_pull(**arguments)


def crash_on_the_second_pull_request(make_world: MakeWorld) -> tuple[World, ScriptedModel]:
    model = ScriptedModel(
        [pr("First post", "content/a.md"), pr("Second post", "content/b.md"), summary()]
    )
    world = make_world(model)
    real = world.ports.repo_forge
    crashing = CrashingForge(real("social"), at_call=2)
    world.ports.repo_forge = lambda key: crashing if key == "social" else real(key)
    with pytest.raises(Crash):
        world.run("cmo")
    world.ports.repo_forge = real
    run_id = running.run_id_for("cmo", "schedule", key="1")
    assert world.runtime.memory.run_record(run_id)["status"] == "running"
    assert {p: r["status"] for p, r in world.runtime.memory.actions_of(run_id).items()} == {
        0: "executed",
        1: "started",
    }
    return world, model


def test_a_resumed_run_never_asks_the_model_again_nor_repeats_an_executed_action(
    make_world: MakeWorld,
) -> None:
    world, model = crash_on_the_second_pull_request(make_world)
    world.run("cmo")
    world.run("cmo")
    assert len(model.requests) == 1
    titles = [p.title for p in world.forge("social").pulls(state=None)]
    assert titles.count("First post") == 1


def test_a_crashed_run_resumes_from_its_saved_exchanges_and_finishes(
    make_world: MakeWorld,
) -> None:
    world, model = crash_on_the_second_pull_request(make_world)
    resumed = world.run("cmo")
    assert resumed.status == "completed", resumed.error
    assert len(model.requests) == 1  # replayed, not asked again
    assert [(a.type, a.status) for a in resumed.actions] == [
        ("open_pr", "executed"),
        ("open_pr", "executed"),
        ("summary", "executed"),
    ]
    titles = sorted(p.title for p in world.forge("social").pulls(state=None))
    assert titles == ["First post", "Second post"]


# -- idle wake-ups -----------------------------------------------------------------------


def test_a_wake_up_with_nothing_new_is_skipped_without_a_model_call(
    make_world: MakeWorld,
) -> None:
    model = ScriptedModel()
    world = make_world(model)
    assert world.run("cmo", key="1").status == "completed"
    calls, usage = len(model.requests), world.usage_rows("cmo")

    world.clock.advance(hours=4)
    idle = world.run("cmo", key="2")
    assert idle.status == "skipped"
    assert len(model.requests) == calls
    assert world.usage_rows("cmo") == usage
    assert idle.usage.total == 0 and idle.cost_usd == 0

    world.send(
        id="m-1", type=MessageType.DIRECT, from_="ceo", to="cmo", payload={"subject": "Ping"}
    )
    world.clock.advance(hours=4)
    woken = world.run("cmo", key="3")
    assert woken.status == "completed"
    assert len(model.requests) == calls + 1
    assert [m["id"] for m in model.requests[-1].context["inbox"]] == ["m-1"]


def test_a_forced_run_is_never_idle(make_world: MakeWorld) -> None:
    model = ScriptedModel()
    world = make_world(model)
    world.run("cmo", key="1")
    assert world.run("cmo", key="2", force=True).status == "completed"
    assert len(model.requests) == 2


# -- refusals and results come back to the agent -----------------------------------------


def test_refused_actions_are_recorded_and_shown_next_run(make_world: MakeWorld) -> None:
    model = ScriptedModel([pr(path="legal/terms.md"), summary()])
    world = make_world(model)
    outcome = world.run("cmo", key="1")
    assert outcome.status == "completed"
    refused = outcome.actions[0]
    assert (refused.type, refused.status) == ("open_pr", "refused")
    assert "outside your path filters" in (refused.reason or "")
    row = world.runtime.memory.actions_of(running.run_id_for("cmo", "schedule", key="1"))[0]
    assert (row["status"], row["reason"]) == ("refused", refused.reason)
    assert world.forge("social").pulls(state=None) == []

    world.clock.advance(hours=4)
    assert world.run("cmo", key="2").status == "completed"  # news: not idle
    shown = model.requests[-1].context["outcomes"]
    assert [(o["kind"], o["ref"]) for o in shown] == [("refused", "open_pr")]
    assert refused.reason in shown[0]["summary"]
    assert refused.reason in model.requests[-1].prompt

    world.clock.advance(hours=4)
    world.run("cmo", key="3", force=True)
    assert model.requests[-1].context["outcomes"] == []  # shown once


def test_the_same_pull_request_twice_is_refused_with_a_pointer_to_the_first(
    make_world: MakeWorld,
) -> None:
    model = ScriptedModel([pr(), summary()], [pr(), summary()])
    world = make_world(model)
    first = world.run("cmo", key="1")
    assert first.actions[0].ref == "social#1"
    world.clock.advance(hours=1)
    second = world.run("cmo", key="2", force=True)
    duplicate = second.actions[0]
    assert duplicate.status == "refused"
    assert "the same as open pr social#1 by cmo" in (duplicate.reason or "")
    assert len(world.forge("social").pulls(state=None)) == 1


def test_a_near_duplicate_title_is_refused_with_the_offline_embedder(
    make_world: MakeWorld,
) -> None:
    model = ScriptedModel(
        [pr("Weekly community update for week 10", "content/w10.md", "Version one"), summary()],
        [pr("Weekly community update for week 10!", "content/w10-b.md", "Other text"), summary()],
        [pr("Treasury report for February", "content/treasury.md", "Numbers"), summary()],
    )
    world = make_world(model, embedder=True)
    assert world.run("cmo", key="1").actions[0].status == "executed"
    world.clock.advance(hours=1)
    near = world.run("cmo", key="2", force=True).actions[0]
    assert near.status == "refused"
    assert "nearly the same as open pr social#1" in (near.reason or "")
    world.clock.advance(hours=1)
    other = world.run("cmo", key="3", force=True).actions[0]
    assert other.status == "executed", other.reason


# -- limits ------------------------------------------------------------------------------


def tiny_budget(repo: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["budget"]["daily_usd"] = 0.001

    agent_world.edit_agent(repo, "cmo", change)


def test_an_exhausted_budget_stops_the_run_before_the_model_and_tells_cfo_and_humans(
    make_world: MakeWorld,
) -> None:
    model = ScriptedModel([pr(), summary()])
    world = make_world(model, edit=tiny_budget)
    outcome = world.run("cmo")
    assert outcome.status == "budget_exhausted"
    assert model.requests == []
    assert world.usage_rows("cmo") == 0
    assert outcome.actions == []
    [alert] = world.stream("cfo")
    assert alert.type is MessageType.ALERT
    assert alert.payload["subject"] == "budget exhausted: cmo"
    assert human_issues(world) == ["Budget exhausted: cmo (2026-03-02)"]
    # once per agent and day, however often it wakes
    world.clock.advance(hours=1)
    assert world.run("cmo", key="2", force=True).status == "budget_exhausted"
    assert human_issues(world) == ["Budget exhausted: cmo (2026-03-02)"]


def test_the_same_plan_in_three_runs_stops_the_agent_and_escalates(
    make_world: MakeWorld,
) -> None:
    task = (
        "create_task",
        {"title": "Plan the spring campaign", "description": "Plan it.", "assigned_to": "cmo"},
    )
    model = ScriptedModel([task, summary()], [task, summary()], [task, summary()])
    world = make_world(model)
    statuses = []
    for key in ("1", "2", "3"):
        statuses.append(world.run("cmo", key=key, force=True).status)
        world.clock.advance(hours=1)
    assert statuses == ["completed", "completed", "stopped"]
    third = running.run_id_for("cmo", "schedule", key="3")
    assert world.runtime.memory.actions_of(third) == {}
    [escalation] = [m for m in world.stream("ceo") if m.type is MessageType.ALERT]
    assert escalation.payload["subject"] == "cmo stopped: looping"
    assert "3 runs" in escalation.payload["body"]
    assert human_issues(world) == ["cmo stopped: it repeats itself"]


# -- workers -----------------------------------------------------------------------------


def test_a_spawned_worker_runs_in_process_with_its_profile_and_reports_back(
    make_world: MakeWorld,
) -> None:
    model = Spy(offline.OfflineModel(seed=3))
    world = make_world(model)
    first = world.run("cmo", key="1")
    [task_id] = [a.ref for a in first.actions if a.type == "create_task"]
    world.clock.advance(hours=4)
    second = world.run("cmo", key="2")
    assert (second.actions[0].type, second.actions[0].status) == ("spawn_worker", "executed")
    [worker] = second.workers
    assert worker.agent_id == "content-writer" and worker.status == "completed"
    assert {(a.type, a.status) for a in worker.actions} >= {
        ("open_pr", "executed"),
        ("complete_task", "executed"),
    }
    [asked] = model.asked("content-writer")
    assert asked.model == "claude-haiku-4-5"
    profile = (world.repo / "profiles" / "content-writer.md").read_text("utf-8").strip()
    assert profile[:200] in asked.system
    assert [t["id"] for t in asked.context["tasks"]] == [task_id]
    drafts = world.forge("social").pulls(state=None)
    assert [p.head_ref.startswith("aito/content-writer/") for p in drafts] == [True]
    base = reading.base_organization(world.governance, world.governance.default_branch)
    assert base.tasks[task_id].status.value == "done"

    world.clock.advance(hours=4)
    world.run("cmo", key="3")
    kinds = {o["kind"]: o for o in model.asked("cmo")[-1].context["outcomes"]}
    assert "worker_result" in kinds and kinds["worker_result"]["ref"] == task_id
    assert "completed" in kinds["worker_result"]["summary"]


def test_a_merged_pull_request_is_an_outcome_in_the_next_run(make_world: MakeWorld) -> None:
    model = ScriptedModel([pr(), summary()])
    world = make_world(model)
    world.run("cmo", key="1")
    social = world.forge("social")
    [pull] = social.pulls()
    social.merge(
        pull.number,
        sha=pull.head_sha,
        actor=world.identity("shiba-maintainer"),
        message="Merge the weekly post",
    )
    assert social.pull(pull.number).state is PullState.MERGED
    world.clock.advance(hours=4)
    outcome = world.run("cmo", key="2")
    assert outcome.status == "completed"  # news: not idle
    shown = model.requests[-1].context["outcomes"]
    assert [(o["kind"], o["ref"]) for o in shown] == [("pr_merged", "social#1")]
    assert "was merged" in shown[0]["summary"]


# -- the status loop ---------------------------------------------------------------------


def test_status_requests_are_answered_with_the_correlation_id_or_time_out(
    make_world: MakeWorld,
) -> None:
    model = Spy(offline.OfflineModel(seed=0))
    world = make_world(model)
    asked = world.run("ceo")
    requests = [a for a in asked.actions if a.type == "send_message"]
    assert len(requests) == 5
    [request] = [m for m in world.stream("cmo") if m.type is MessageType.STATUS_REQUEST]
    assert request.requires_response
    assert request.response_deadline == world.clock() + dt.timedelta(minutes=30)

    world.clock.advance(minutes=10)
    answered = world.run("cmo", key="1", trigger="message")
    assert answered.actions[0].type == "send_message"
    [response] = [m for m in world.stream("ceo") if m.type is MessageType.STATUS_RESPONSE]
    assert (response.from_, response.correlation_id) == ("cmo", request.id)
    fact_ids = {f["id"] for f in model.asked("cmo")[-1].context["facts"]}
    assert response.payload["cites"] and set(response.payload["cites"]) <= fact_ids

    world.clock.advance(minutes=25)  # past the 30-minute deadline
    timeouts = world.messenger().expire_requests(world.clock())
    assert sorted(t.recipient for t in timeouts) == ["cco", "cfo", "coo", "cto"]
    assert {t.sender for t in timeouts} == {"ceo"}
    assert world.messenger().expire_requests(world.clock()) == []  # once

    world.clock.advance(minutes=5)
    world.run("ceo", key="2", trigger="message")
    inbox = model.asked("ceo")[-1].context["inbox"]
    assert [m["correlation_id"] for m in inbox if m["type"] == "status_response"] == [request.id]
    assert sum(m["type"] == "alert" for m in inbox) == 4


# -- the real Anthropic adapter ----------------------------------------------------------


def test_a_run_through_the_anthropic_adapter_caches_the_prefix_and_prices_usage(
    make_world: MakeWorld,
) -> None:
    with running_fake_anthropic() as fake:
        fake.plan(
            tool_use(message("cto", "Release notes"), summary("Asked the CTO.")),
            tool_use(summary("Nothing else.")),
        )
        world = make_world(
            None,
            env={
                "AITO_MODEL": "anthropic",
                "ANTHROPIC_API_KEY": API_KEY,
                "ANTHROPIC_BASE_URL": fake.base_url,
            },
        )
        assert world.ports.model.provider == "anthropic"
        first = world.run("cmo", key="1")
        world.clock.advance(hours=4)
        second = world.run("cmo", key="2", force=True)
    assert (first.status, second.status) == ("completed", "completed")
    assert [(a.type, a.status) for a in first.actions] == [
        ("send_message", "executed"),
        ("summary", "executed"),
    ]
    body = fake.requests[0].body
    assert body["model"] == "claude-sonnet-4-5"
    shared, own = body["system"]  # two cache breakpoints: the org's part, the agent's
    assert shared["cache_control"] == own["cache_control"] == {"type": "ephemeral"}
    assert "(`cmo`)" not in shared["text"] and "`cto`" in shared["text"]  # the chart only
    assert "Chief Marketing Officer (`cmo`)" in own["text"]
    assert [t["name"] for t in body["tools"]] == list(executing.actions.ACTION_TYPES)
    assert all("cache_control" not in tool for tool in body["tools"])

    [row] = world.runtime.memory.usage_summary(
        since=agent_world.START - dt.timedelta(days=1), agent_id="cmo"
    )
    assert row["calls"] == 2
    assert row["cache_write_tokens"] > 0 and row["cache_read_tokens"] > 0
    price = world.org.org.pricing["claude-sonnet-4-5"]
    expected = (
        row["input_tokens"] * price.input
        + row["output_tokens"] * price.output
        + row["cache_write_tokens"] * price.write_price
        + row["cache_read_tokens"] * price.read_price
    ) / 1_000_000
    # model_usage keeps micro-dollars
    assert row["cost_usd"] == pytest.approx(expected, abs=2e-6)
    assert first.cost_usd + second.cost_usd == pytest.approx(expected, abs=2e-6)
    assert first.usage.cache_write_tokens > 0 and second.usage.cache_read_tokens > 0


def test_agents_share_one_cached_prefix_through_the_anthropic_adapter(
    make_world: MakeWorld,
) -> None:
    with running_fake_anthropic() as fake:
        world = make_world(
            None,
            env={
                "AITO_MODEL": "anthropic",
                "ANTHROPIC_API_KEY": API_KEY,
                "ANTHROPIC_BASE_URL": fake.base_url,
            },
        )
        cmo = world.run("cmo", key="1")
        cto = world.run("cto", key="1")
    first, second = (request.body for request in fake.requests)
    assert first["system"][0] == second["system"][0]  # byte for byte: one cache entry
    assert first["tools"] == second["tools"]
    assert first["system"][1] != second["system"][1]
    assert cmo.usage.cache_read_tokens == 0
    assert 0 < cto.usage.cache_read_tokens < cmo.usage.cache_write_tokens  # the shared part
    assert cto.usage.cache_write_tokens > 0  # its own part
