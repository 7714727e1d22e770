"""Local parity: act runs the rendered agent workflow in host mode, as the README says, and
the wake-up runs in a real container of AITO's image (seen by its labels)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import docker
import psycopg
import pytest
from support.act import run_act

pytestmark = [pytest.mark.act, pytest.mark.docker]


def test_act_runs_the_agent_workflow_and_the_wake_up_runs_in_a_container(
    governance_repo: Path,
    postgres_url: str,
    redis_url: str,
    docker_client: docker.DockerClient,
    aito_image: str,
) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    result = run_act(
        governance_repo,
        "agent-cmo.yml",
        "workflow_dispatch",
        env={"POSTGRES_URL": postgres_url, "REDIS_URL": redis_url},
        variables={"AITO_IMAGE": aito_image},
        in_process=False,  # the workflow's default: AITO_RUNTIME=docker
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "cmo [cmo:workflow_dispatch:" in output and "] completed:" in output
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    started = [
        event["Actor"]["Attributes"]
        for event in docker_client.events(
            since=since,
            until=until,
            decode=True,
            filters={"type": "container", "event": "start", "label": "aito.agent=cmo"},
        )
    ]
    [labels] = started
    assert labels["aito.kind"] == "agent" and labels["aito.org"] == "Shiba Classic"
    assert labels["aito.run"].startswith("cmo:workflow_dispatch:")
    with psycopg.connect(postgres_url) as conn:
        [(status, container)] = conn.execute(
            "SELECT status, container FROM agent_runs WHERE agent_id = 'cmo'"
        ).fetchall()
    assert status == "completed"
    assert container["image"] == aito_image and container["exit_code"] == 0
    assert docker_client.containers.list(all=True, filters={"label": "aito.agent=cmo"}) == []
