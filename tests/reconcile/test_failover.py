"""The DAO's temporary lead, as the agents live it: the DAO's next wake-up sees the lead
and the CEO's pending status round and runs the status loop; the CEO's votes are never
the DAO's to give; the lead goes back when the CEO returns."""

from __future__ import annotations

from collections.abc import Callable

from support.agent_world import Spy, World

from aito.decisions import applying, proposing
from aito.forge.base import PullState, ReviewState
from aito.llm import offline
from aito.org.organization import Tier

Make = Callable[..., World]


def test_the_dao_holding_the_lead_sees_the_ceos_round_and_runs_the_status_loop(
    make_world: Make,
) -> None:
    model = Spy(offline.OfflineModel(seed=1))
    world = make_world(model)
    memory = world.runtime.memory
    pending = {"asked": ["cmo", "cto"], "answered": ["cmo"], "missing": ["cto"], "at": "09:00"}
    memory.put_state("ceo", "status_round", pending, expected_version=None)
    world.runtime.bus.orchestrator().set_lead("dao")  # the orchestrator's ChangeLead

    outcome = world.run("dao", key="led", force=True)

    [asked] = model.asked("dao")
    lead = asked.context["lead"]
    assert lead["acting_for"] == "ceo" and lead["status_round"] == pending
    assert "You hold the temporary lead" in asked.prompt and "Its votes are not" in asked.prompt
    requests = [a for a in outcome.actions if a.type == "send_message" and a.status == "executed"]
    clevel = {a.id for a in world.org.agents.values() if a.layer.value == "c-level"}
    sent = [m for agent in clevel for m in world.stream(agent) if m.type.value == "status_request"]
    assert requests and {m.from_ for m in sent} == {"dao"} and {m.to for m in sent} == clevel

    world.runtime.bus.orchestrator().set_lead("ceo")  # the CEO is back
    world.clock.advance(hours=2)
    world.run("dao", key="back", force=True)
    assert model.asked("dao")[-1].context["lead"] == {
        "leader": "ceo",
        "acting_for": None,
        "status_round": None,
        "tasks": [],
        "inbox": [],
    }


def test_a_decision_needing_the_ceos_vote_is_not_approved_by_the_dao_alone(
    make_world: Make,
) -> None:
    world = make_world(Spy(offline.OfflineModel(seed=1)))
    world.runtime.bus.orchestrator().set_lead("dao")
    forge, org = world.governance, world.org
    _, pull = proposing.propose(
        forge,
        org=org,
        proposer="cmo",
        tier=Tier.MAJOR,  # the CEO must approve
        title="Spring campaign",
        body="why",
        files={"content/spring.md": b"spring\n"},
        amount_usd=0,
        now=world.clock(),
    )
    forge.post_review(
        pull.number,
        author=world.identity("dao"),
        state=ReviewState.APPROVED,
        body="The DAO approves (and leads for now).",
        commit_id=forge.pull(pull.number).head_sha,
    )
    verdict = applying.tally(forge, pull.number, now=world.clock()).verdict
    assert verdict.status.value == "pending" and "ceo" in verdict.missing
    assert forge.pull(pull.number).state is PullState.OPEN
