"""The wake-up as a pipeline: the organization read once, decisions read as last judged.

On the real services and forges; the model is the scripted test double. A decision's
verdict comes from what the governance tally stored, and is tallied (read-only) here
only when no tally has judged its current head; the organization is read from the
base branch once per wake-up, whatever the run writes meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from support.agent_world import ScriptedModel, World

from aito.agent import running
from aito.decisions import proposing, recording, sweeping
from aito.errors import GovernanceError
from aito.forge.base import Forge
from aito.org.organization import Tier

MakeWorld = Callable[..., World]
ORG_PREFIXES = ["org/", "profiles/"]


class CountingForge:
    """The governance forge, counting reads of the whole organization."""

    def __init__(self, inner: Forge) -> None:
        self._inner = inner
        self.org_reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read_tree(self, ref: str, *, prefixes: list[str] | None = None) -> dict[str, bytes]:
        if prefixes == ORG_PREFIXES:
            self.org_reads += 1
        return self._inner.read_tree(ref, prefixes=prefixes)


def propose(world: World, title: str = "Spring campaign") -> int:
    _, pull = proposing.propose(
        world.governance,
        org=world.org,
        proposer="cmo",
        tier=Tier.MAJOR,
        title=title,
        body="Three posts a week.",
        files={"content/spring.md": b"plan"},
        amount_usd=0,
        now=world.clock(),
    )
    return pull.number


def stored(world: World, number: int) -> recording.StoredVerdict:
    row = world.runtime.memory.verdicts([number])[number]
    return recording.StoredVerdict.model_validate(row["verdict"])


def test_a_wake_up_reads_the_verdict_the_tally_stored(make_world: MakeWorld) -> None:
    model = ScriptedModel()
    world = make_world(model)
    number = propose(world)
    recorder = recording.ServicesRecorder(memory=world.runtime.memory, bus=world.runtime.bus)
    sweep = sweeping.tally_open(world.governance, now=world.clock(), recorder=recorder)
    assert [t.verdict.pr for t in sweep.tallies] == [number]
    # what the agent is shown is the stored verdict, not one it computes itself
    marked = stored(world, number).model_copy(update={"description": "as the tally stored it"})
    recording.store(world.runtime.memory, marked)

    world.run("ceo")
    [decision] = model.requests[-1].context["decisions"]
    assert decision["description"] == "as the tally stored it"
    assert (decision["pr"], decision["my_role"], decision["stage"]) == (number, "vote", "vote")


def test_a_decision_no_tally_judged_yet_is_tallied_once_read_only(make_world: MakeWorld) -> None:
    model = ScriptedModel()
    world = make_world(model)
    number = propose(world)
    labels = world.governance.pull(number).labels

    world.run("ceo")
    [decision] = model.requests[-1].context["decisions"]
    assert decision["my_role"] == "vote"
    first = stored(world, number)  # kept for the next wake-ups
    assert first.head_sha == world.governance.pull(number).head_sha
    assert world.governance.pull(number).labels == labels  # nothing applied
    assert world.governance.comments(number) == []

    world.clock.advance(minutes=5)
    world.run("dao")
    assert stored(world, number).tallied_at == first.tallied_at  # read, not tallied again

    world.governance.commit_files(  # a new push: the stored verdict judged an older head
        branch=world.governance.pull(number).head_ref,
        base=world.governance.default_branch,
        files={"content/spring.md": b"plan, revised"},
        message="revise",
        author=world.identity("cmo"),
    )
    world.clock.advance(minutes=5)
    world.run("ceo", key="2", force=True)
    assert stored(world, number).head_sha == world.governance.pull(number).head_sha


def test_a_vote_is_counted_in_the_stored_verdict_at_once(make_world: MakeWorld) -> None:
    model = ScriptedModel()
    world = make_world(model)
    number = propose(world)
    world.run("ceo", key="0")  # the decision is judged once (read-only) and stored
    [decision] = model.requests[-1].context["decisions"]
    model.plan(
        [
            ("vote", {"decision": decision["id"], "vote": "approve", "reason": "Good plan."}),
            ("summary", {"text": "Voted."}),
        ]
    )
    world.clock.advance(minutes=5)
    outcome = world.run("ceo", key="1", force=True)
    assert (outcome.actions[0].type, outcome.actions[0].status) == ("vote", "executed")
    assert stored(world, number).votes["ceo"] == "approve"

    world.clock.advance(minutes=5)
    world.run("ceo", key="2", force=True)
    [again] = model.requests[-1].context["decisions"]
    assert again["my_role"] is None  # not asked twice for the same vote
    assert again["votes"]["ceo"] == "approve"


def test_the_organization_is_read_once_per_wake_up(make_world: MakeWorld) -> None:
    model = ScriptedModel()
    world = make_world(model)
    counting = CountingForge(world.governance)
    world.ports.governance = counting  # type: ignore[assignment]
    soon = (world.clock() + dt.timedelta(hours=1)).isoformat()
    model.plan(
        [
            (
                "schedule_event",
                {"at": soon, "title": "Post the recap", "description": "The weekly recap."},
            ),
            ("summary", {"text": "Scheduled."}),
        ],
        [
            (
                "create_task",
                {"title": "Collect the numbers", "description": "Q1.", "assigned_to": "cmo"},
            ),
            ("summary", {"text": "Planned."}),
        ],
    )
    world.run("cmo", key="1")
    world.clock.advance(hours=2)
    counting.org_reads = 0
    outcome = world.run("cmo", key="2")  # a due event becomes a task; a task is created
    assert [(a.type, a.status) for a in outcome.actions] == [
        ("create_task", "executed"),
        ("summary", "executed"),
    ]
    tasks = {t["title"] for t in model.requests[-1].context["tasks"]}
    assert "Post the recap" in tasks  # the due event's task, without reading the org again
    assert counting.org_reads == 1


def test_a_wake_up_that_cannot_start_is_settled_not_left_running(make_world: MakeWorld) -> None:
    world = make_world(ScriptedModel())
    org_file = world.repo / "org" / "org.yaml"
    data = yaml.safe_load(org_file.read_text("utf-8"))
    data["pricing"].pop("claude-sonnet-4-5")
    world.governance.commit_files(  # the base branch now has an organization in error
        branch=world.governance.default_branch,
        base=world.governance.default_branch,
        files={"org/org.yaml": yaml.safe_dump(data, sort_keys=False).encode()},
        message="drop a price",
        author=world.identity("shiba-maintainer"),
    )
    with pytest.raises(GovernanceError, match="has no price"):
        world.run("cmo")
    record = world.runtime.memory.run_record(running.run_id_for("cmo", "schedule", key="1"))
    assert record is not None and record["status"] == "failed"
    assert "no price" in (record["error"] or "")
