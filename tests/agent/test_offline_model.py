"""The offline model: deterministic, rule-driven answers that pass the same checks as Claude's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.agent_world import decision, message, seen, task

from aito.agent import actions, checking, context, prompting
from aito.llm import offline
from aito.llm.base import ModelRequest, ToolCall
from aito.org import loading


@pytest.fixture
def org(example_repo: Path) -> loading.Organization:
    return loading.load_valid(example_repo)


def ask(where: context.Context, *, seed: int = 0, model_seed: int = 0) -> list[ToolCall]:
    request = ModelRequest(
        agent_id=where.agent.id,
        run_id=where.run_id,
        model="claude-sonnet-4-5",
        system=prompting.system_for(where),
        prompt=prompting.turn_prompt(where),
        tools=prompting.tools(),
        context=where.model_dump(mode="json"),
        seed=seed,
    )
    return offline.OfflineModel(seed=model_seed).complete(request).tool_calls


def parsed(calls: list[ToolCall]) -> list[actions.ActionModel]:
    return actions.parse([(c.name, c.input) for c in calls])


def votes(calls: list[ToolCall]) -> dict[str, tuple[str, str]]:
    return {
        c.input["decision"]: (c.input["vote"], c.input["reason"]) for c in calls if c.name == "vote"
    }


def busy(org: loading.Organization, agent_id: str, **fields: Any) -> context.Context:
    """A context with a bit of everything on the table."""
    return seen(
        org,
        agent_id,
        inbox=[message("req-1", type="status_request", sender="ceo", to=agent_id)],
        tasks=[
            task("t1", status="in_progress", to=agent_id, by="ceo"),
            task("t2", to=agent_id, by="ceo"),
        ],
        decisions=[decision("20260302-campaign", role="vote")],
        **fields,
    )


@pytest.mark.parametrize("agent_id", ["ceo", "cmo", "cto", "cfo", "dao", "content-writer"])
def test_same_context_and_seed_give_the_same_answer(
    org: loading.Organization, agent_id: str
) -> None:
    where = busy(org, agent_id)
    first = ask(where, seed=7, model_seed=3)
    assert first == ask(where, seed=7, model_seed=3)
    assert first[-1].name == "summary"


@pytest.mark.parametrize("agent_id", ["ceo", "cmo", "cto", "cfo", "coo", "cco", "dao"])
def test_answers_validate_against_the_action_schema(
    org: loading.Organization, agent_id: str
) -> None:
    for where in (seen(org, agent_id), busy(org, agent_id)):
        assert parsed(ask(where))  # raises InvalidActions otherwise


def test_a_worker_drafts_inside_its_paths_and_completes_its_task(
    org: loading.Organization,
) -> None:
    where = seen(org, "content-writer", tasks=[task("t1", to="content-writer", by="cmo")])
    planned = parsed(ask(where))
    kinds = [a.model_dump()["type"] for a in planned]
    assert kinds == ["open_pr", "complete_task", "summary"]
    for action in planned:
        assert (
            checking.check(
                action, context=where, org=org, counts=checking.RunCounts(), caps=checking.Caps()
            )
            is None
        )


def test_a_status_request_is_answered_citing_real_facts(org: loading.Organization) -> None:
    where = seen(org, "cmo", inbox=[message("req-1", type="status_request", to="cmo")])
    calls = ask(where)
    [answer] = [c for c in calls if c.input.get("kind") == "status_response"]
    assert answer.input["to"] == "ceo" and answer.input["correlation_id"] == "req-1"
    assert answer.input["cites"]
    assert set(answer.input["cites"]) <= {f.id for f in where.facts}
    [action] = parsed([answer])
    assert (
        checking.check(
            action, context=where, org=org, counts=checking.RunCounts(), caps=checking.Caps()
        )
        is None
    )


def test_the_ceo_backs_its_reports_900_dollar_proposal(org: loading.Organization) -> None:
    where = seen(org, "ceo", decisions=[decision("20260302-campaign", role="vote")])
    vote, reason = votes(ask(where))["20260302-campaign"]
    assert vote == "approve"
    assert "cmo" in reason


def test_the_dao_vetoes_spend_above_500(org: loading.Organization) -> None:
    where = seen(org, "dao", decisions=[decision("20260302-campaign", role="vote")])
    vote, reason = votes(ask(where))["20260302-campaign"]
    assert vote == "veto"
    assert "$900" in reason and "$500" in reason


def test_the_cto_abstains_outside_technology_and_approves_inside(
    org: loading.Organization,
) -> None:
    campaign = decision("20260302-campaign", role="vote")
    security = decision(
        "20260302-hardening", role="vote", description="Rotate keys; a security fix."
    )
    answers = votes(ask(seen(org, "cto", decisions=[campaign, security])))
    assert answers["20260302-campaign"][0] == "abstain"
    assert "outside technology" in answers["20260302-campaign"][1]
    assert answers["20260302-hardening"][0] == "approve"


def test_advisors_give_analysis_and_silence_passes_lazy_consensus(
    org: loading.Organization,
) -> None:
    advising = seen(org, "cfo", decisions=[decision("20260302-campaign", role="analysis")])
    assert votes(ask(advising))["20260302-campaign"][0] == "analysis"
    lazy = decision("20260302-rule", role="vote", stage="lazy").model_copy(
        update={"amount_usd": 0, "tier": "minor"}
    )
    assert votes(ask(seen(org, "ceo", decisions=[lazy]))) == {}
