"""Generated workflows run for real under act (host mode), waking the agent through AITO."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import psycopg
import pytest
from support.act import IN_PROCESS_FLAGS, OFFLINE_FLAGS, README_FLAGS, REPO_ROOT, run_act
from support.decision_scenario import propose_cdn

from aito.forge.local import LocalForge
from aito.org import loading

pytestmark = pytest.mark.act


def _run_act(
    repo: Path, workflow: str, event: str, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_act(repo, workflow, event, env=env, extra=extra)


def test_act_runs_a_generated_agent_workflow_and_the_wake_up_is_recorded(
    governance_repo: Path, postgres_url: str, redis_url: str
) -> None:
    example_repo = governance_repo
    result = _run_act(
        example_repo,
        "agent-cmo.yml",
        "workflow_dispatch",
        {
            "POSTGRES_URL": postgres_url,
            "REDIS_URL": redis_url,
            "AITO_DATA_DIR": str(example_repo / ".aito"),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "cmo [cmo:workflow_dispatch:" in output and "] completed:" in output
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT source_agent, payload->>'trigger' FROM events WHERE event_type = 'agent.woke'"
        ).fetchall()
        runs = conn.execute("SELECT agent_id, status FROM agent_runs").fetchall()
    assert rows == [("cmo", "workflow_dispatch")]
    assert runs == [("cmo", "completed")]


def test_act_runs_the_governance_workflow_and_it_fails_on_an_invalid_org(
    example_repo: Path,
) -> None:
    ok = _run_act(example_repo, "governance.yml", "workflow_dispatch", {}, "-j", "validate")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "workflows match org/" in ok.stdout + ok.stderr

    cmo = example_repo / "org/agents/cmo.yaml"
    cmo.write_text(cmo.read_text().replace("reports_to: ceo", "reports_to: nobody"))
    broken = _run_act(example_repo, "governance.yml", "workflow_dispatch", {}, "-j", "validate")
    output = broken.stdout + broken.stderr
    assert broken.returncode != 0
    assert "::error file=org/agents/cmo.yaml,line=" in output and "nobody" in output


def test_under_act_without_the_offline_switch_the_run_is_refused_and_says_why(
    governance_repo: Path, postgres_url: str, redis_url: str
) -> None:
    result = run_act(
        governance_repo,
        "agent-cmo.yml",
        "workflow_dispatch",
        env={"POSTGRES_URL": postgres_url, "REDIS_URL": redis_url},
        offline=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "refused under GitHub Actions" in output
    assert "ANTHROPIC_API_KEY (repository secret) is not set" in output
    assert "AITO_ALLOW_OFFLINE=1" in output
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('agent_runs')").fetchone() == (None,)


def test_act_runs_the_governance_workflow_end_to_end_with_the_readme_flags(
    governance_repo: Path, postgres_url: str, redis_url: str
) -> None:
    org = loading.load_valid(governance_repo)
    forge = LocalForge(repo=governance_repo, store=governance_repo / ".aito" / "forge")
    _, pull = propose_cdn(forge, org)
    result = run_act(
        governance_repo,
        "governance.yml",
        "workflow_dispatch",
        env={"POSTGRES_URL": postgres_url, "REDIS_URL": redis_url},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "workflows match org/" in output  # the validate job
    assert "Success - Main Tally" in output  # the tally job: `decide tally --all`
    assert "aito/round-1" in forge.pull(pull.number).labels  # its verdict was applied


def test_the_readme_act_commands_are_the_ones_the_tests_run() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    commands = [
        shlex.split(block.replace("\\\n", " "))
        for block in re.findall(r'"\$OLDPWD/\.venv/bin/act"[^`]*', readme)
    ]
    assert {c[c.index("-W") + 1] for c in commands} >= {
        ".github/workflows/agent-cmo.yml",
        ".github/workflows/governance.yml",
    }
    for command in commands:
        flags = " ".join(command)
        assert " ".join(README_FLAGS) in flags and " ".join(OFFLINE_FLAGS) in flags, flags
    agent = [" ".join(c) for c in commands if c[c.index("-W") + 1].endswith("agent-cmo.yml")]
    # one wakes the agent in the job (what run_act does), one in a container (the default)
    assert sorted(" ".join(IN_PROCESS_FLAGS) in flags for flags in agent) == [False, True]
