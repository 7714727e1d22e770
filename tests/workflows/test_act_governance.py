"""The rendered governance workflow tallies a decision under act, from real GitHub event
payloads (@octokit/webhooks-examples), on a local forge: a review reaches the tally as
the `workflow_run` of the secret-free "governance: review" workflow, and a push to the
pull request as `pull_request_target` (the governance branch's copy of the workflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.act import pull_request_event, run_act, webhook_example
from support.decision_scenario import propose_cdn

from aito.decisions import proposing
from aito.forge.base import Permission, PullState
from aito.forge.local import LocalForge
from aito.org import loading

pytestmark = pytest.mark.act


def _review_finished(number: int, tmp_path: Path) -> Path:
    """GitHub's `workflow_run` payload for "governance: review" finishing on PR ``number``."""
    event = webhook_example("workflow_run", "completed")
    run = event["workflow_run"]
    run["name"], run["event"] = "governance: review", "pull_request_review"
    run["pull_requests"] = [
        {"number": number, "id": 1, "url": "https://api.github.com/repos/o/r/pulls/1"}
    ]
    path = tmp_path / "workflow_run.json"
    path.write_text(json.dumps(event))
    return path


def test_a_finished_review_signal_runs_the_tally_and_applies_the_verdict(
    governance_repo: Path, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    example_repo = governance_repo
    org = loading.load_valid(example_repo)
    forge = LocalForge(
        repo=example_repo,
        store=example_repo / ".aito" / "forge",
        permissions={m.id: Permission.ADMIN for m in org.org.maintainers},
    )
    _, pull = propose_cdn(forge, org)
    for voter in ("ceo", "dao"):
        proposing.review(
            forge, pull.number, author=proposing.identity_for(org, voter), vote="approve", body=""
        )

    result = run_act(
        example_repo,
        "governance.yml",
        "workflow_run",
        env={"POSTGRES_URL": postgres_url, "REDIS_URL": redis_url},
        extra=["-e", str(_review_finished(pull.number, tmp_path))],
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"tallying #{pull.number}" in output
    assert "validate org" not in output  # the validate job does not run for the tally
    merged = forge.pull(pull.number)
    assert merged.state is PullState.MERGED
    assert "aito/approved" in merged.labels
    assert (example_repo / "site/cdn.txt").read_text() == "cdn\n"


def test_a_push_to_a_decision_tallies_through_pull_request_target(
    governance_repo: Path, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    org = loading.load_valid(governance_repo)
    forge = LocalForge(repo=governance_repo, store=governance_repo / ".aito" / "forge")
    _, pull = propose_cdn(forge, org)

    result = run_act(
        governance_repo,
        "governance.yml",
        "pull_request_target",
        env={"POSTGRES_URL": postgres_url, "REDIS_URL": redis_url},
        extra=["-e", str(pull_request_event(tmp_path, "synchronize", pull.number))],
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"tallying #{pull.number}" in output
    assert "validate org" not in output
    assert "aito/round-1" in forge.pull(pull.number).labels  # the verdict was applied
