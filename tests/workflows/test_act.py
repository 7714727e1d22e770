"""Generated workflows run for real under act (host mode), waking the agent through AITO."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest
from support.act import run_act

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
