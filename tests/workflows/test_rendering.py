"""`aito render`: one workflow per agent, deterministic, least-privilege, drift detected."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from aito.org import loading, schedules
from aito.workflows import rendering


def _load(path: Path) -> dict:  # type: ignore[type-arg]
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True)
    return data


def test_rendering_is_deterministic_and_matches_the_checked_in_workflows(
    example_repo: Path,
) -> None:
    org = loading.load_valid(example_repo)
    assert rendering.render(org) == rendering.render(org)
    assert rendering.check(org) == []


def test_each_agent_with_a_loop_gets_a_scheduled_least_privilege_workflow(
    example_repo: Path,
) -> None:
    org = loading.load_valid(example_repo)
    files = rendering.render(org)
    agent_files = sorted(p.name for p in files if p.name.startswith("agent-"))
    assert agent_files == [
        f"agent-{a}.yml" for a in ("cco", "ceo", "cfo", "cmo", "coo", "cto", "dao")
    ]
    rendering.write(org)
    for agent_id in ("cmo", "cco"):
        path = example_repo / ".github/workflows" / f"agent-{agent_id}.yml"
        assert path.read_text().startswith(rendering.HEADER)
        workflow = _load(path)
        assert workflow["permissions"] == {}
        assert set(workflow["on"]) == {"schedule", "workflow_dispatch", "repository_dispatch"}
        assert workflow["concurrency"]["group"] == f"aito-agent-{agent_id}"
        job = workflow["jobs"]["wake"]
        assert job["runs-on"] == ["self-hosted", "aito"]
        assert job["permissions"] == {"contents": "read"}
        assert job["timeout-minutes"] == 30
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@") and "env.ACT" in checkout["if"]
        assert f"agent run {agent_id}" in job["steps"][-1]["run"]


def test_crons_follow_the_loop_interval_and_are_staggered(example_repo: Path) -> None:
    org = loading.load_valid(example_repo)
    crons = {}
    for agent_id in ("ceo", "cto", "cmo", "coo", "dao"):
        workflow = _load(example_repo / ".github/workflows" / f"agent-{agent_id}.yml")
        crons[agent_id] = workflow["on"]["schedule"][0]["cron"]
        schedules.validate_cron(crons[agent_id])
        expected = org.schedule(agent_id)
        assert expected is not None and crons[agent_id] == expected.to_cron(agent_id)
    # Same interval, different agents: different minutes, never the crowded minute 0.
    assert crons["ceo"].split()[0] != crons["cto"].split()[0]
    assert all(c.split()[0] != "0" for c in crons.values())
    assert len(crons["cmo"].split()[1].split(",")) == 6  # every 4 h = six runs a day


def test_a_yaml_edit_is_drift_until_rendered(example_repo: Path) -> None:
    cmo = example_repo / "org/agents/cmo.yaml"
    cmo.write_text(cmo.read_text().replace("schedule: 4h", "schedule: 2h"))
    profile = example_repo / "profiles/cmo.md"
    profile.write_text(profile.read_text().replace("Every 4 hours", "Every 2 hours"))
    org = loading.load_valid(example_repo)

    drifts = rendering.check(org)

    assert [(d.path.name, d.kind) for d in drifts] == [("agent-cmo.yml", "changed")]
    assert "-    - cron:" in drifts[0].diff and "+    - cron:" in drifts[0].diff
    assert rendering.write(org) == [Path(".github/workflows/agent-cmo.yml")]
    assert rendering.check(org) == []


def test_a_removed_agents_generated_workflow_is_stale_and_deleted(example_repo: Path) -> None:
    workflows = example_repo / ".github/workflows"
    hand_written = workflows / "release.yml"
    hand_written.write_text("name: release\non: push\njobs: {}\n")
    # What `aito render` wrote for an agent that has since been removed from org/.
    ghost = workflows / "agent-ghost.yml"
    ghost.write_text((workflows / "agent-cmo.yml").read_text().replace("cmo", "ghost"))
    org = loading.load_valid(example_repo)

    assert [(d.path.name, d.kind) for d in rendering.check(org)] == [("agent-ghost.yml", "stale")]
    rendering.write(org)
    assert not ghost.exists()
    assert hand_written.exists()  # only files carrying the generated header are ours
    assert rendering.check(org) == []


def test_governance_workflow_validates_and_tallies(example_repo: Path) -> None:
    workflow = _load(example_repo / ".github/workflows/governance.yml")
    assert workflow["permissions"] == {}
    triggers = workflow["on"]
    assert set(triggers["pull_request"]["types"]) >= {"opened", "synchronize"}
    assert set(triggers["pull_request_target"]["types"]) >= {"opened", "synchronize", "labeled"}
    assert triggers["workflow_run"] == {
        "workflows": ["governance: review"],
        "types": ["completed"],
    }
    assert "pull_request_review" not in triggers  # it would run a pushed branch's copy
    assert triggers["schedule"][0]["cron"]
    validate = workflow["jobs"]["validate"]
    runs = [step.get("run", "") for step in validate["steps"]]
    assert any("validate --format github" in r for r in runs)
    assert any("render --check" in r for r in runs)
    assert validate["permissions"] == {"contents": "read"}
    assert "secrets." not in json.dumps(validate)  # the pull request's files, no secret
    tally = workflow["jobs"]["tally"]
    assert tally["permissions"] == {"contents": "read"}
    assert tally["environment"] == "governance"  # secrets limited to the governance branch
    # The tally never runs for `pull_request` (the branch's own copy of this file).
    assert "github.event_name != 'pull_request'" in tally["if"]
    assert "pull_request.number" in tally["concurrency"]["group"]
    assert "workflow_run.pull_requests[0].number" in tally["env"]["PR_NUMBER"]
    steps = tally["steps"]
    assert all("uses" not in step for step in steps)  # no action fetched, no PR checkout
    assert "--branch main" in steps[0]["run"]
    assert "decide tally" in steps[-1]["run"]


def test_a_review_only_signals_the_tally_and_holds_no_secret(example_repo: Path) -> None:
    text = (example_repo / ".github/workflows/governance-review.yml").read_text()
    workflow = _load(example_repo / ".github/workflows/governance-review.yml")
    assert workflow["name"] == "governance: review"  # what governance.yml's workflow_run names
    assert set(workflow["on"]) == {"pull_request_review"}
    assert set(workflow["on"]["pull_request_review"]["types"]) == {"submitted", "dismissed"}
    assert workflow["permissions"] == {}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {}
    assert "secrets." not in text and "review.body" not in text  # nothing to steal or inject


def _names(job: dict, kind: str) -> set[str]:  # type: ignore[type-arg]
    """The secrets or variables (``kind``) a job's env reads."""
    return set(re.findall(rf"\b{kind}\.([A-Z0-9_]+)", json.dumps(job.get("env", {}))))


def test_each_job_gets_the_secrets_and_variables_a_live_run_needs_and_no_other(
    example_repo: Path,
) -> None:
    workflows = example_repo / ".github/workflows"
    for agent_id in ("cmo", "ceo", "dao"):
        wake = _load(workflows / f"agent-{agent_id}.yml")["jobs"]["wake"]
        suffix = agent_id.upper()
        assert _names(wake, "secrets") == {
            "ANTHROPIC_API_KEY",
            "AITO_POSTGRES_URL",
            "AITO_REDIS_URL",
            f"AITO_APP_KEY_{suffix}",  # its own App's key: no other agent's, no governance key
        }
        # the optional endpoints (a proxy, a gateway; act's stand-ins) are variables, no secret
        assert _names(wake, "vars") == {
            "AITO_FORGE",
            "AITO_GITHUB_API_URL",
            "ANTHROPIC_BASE_URL",
            "AITO_RUNTIME",  # the wake-up in a container (default) or in the job
            "AITO_IMAGE",
            f"AITO_APP_ID_{suffix}",
        }
        env = wake["env"]
        assert env["POSTGRES_URL"] == "${{ secrets.AITO_POSTGRES_URL }}"  # what AITO reads
        assert env["AITO_FORGE"] == "${{ vars.AITO_FORGE || 'github' }}"  # never a silent local
        assert env[f"AITO_APP_ID_{suffix}"] == f"${{{{ vars.AITO_APP_ID_{suffix} }}}}"
        assert "environment" not in wake
    governance = _load(workflows / "governance.yml")
    tally = governance["jobs"]["tally"]
    assert _names(tally, "secrets") == {
        "AITO_GOVERNANCE_APP_KEY",
        "AITO_POSTGRES_URL",
        "AITO_REDIS_URL",
    }  # no model key: the tally never thinks
    assert _names(tally, "vars") == {"AITO_FORGE", "AITO_GITHUB_API_URL", "AITO_GOVERNANCE_APP_ID"}
    assert tally["environment"] == rendering.GOVERNANCE_ENVIRONMENT
    assert "secrets." not in json.dumps(governance["jobs"]["validate"])
