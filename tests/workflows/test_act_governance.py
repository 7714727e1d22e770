"""The rendered governance workflow tallies a decision under act, from a real GitHub
`pull_request_review` event payload (@octokit/webhooks-examples), on a local forge."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from support.act import npm_package, run_act

from aito.decisions import proposing
from aito.forge.base import Permission, PullState
from aito.forge.local import LocalForge
from aito.org import loading
from aito.org.organization import Tier

pytestmark = pytest.mark.act


def _review_event(number: int, tmp_path: Path) -> Path:
    examples = npm_package("@octokit/webhooks-examples") / "api.github.com" / "index.json"
    catalogue = json.loads(examples.read_text())
    review_events = next(e for e in catalogue if e["name"] == "pull_request_review")
    event = next(x for x in review_events["examples"] if x["action"] == "submitted")
    event["pull_request"]["number"] = number  # our local pull request
    event["number"] = number
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def test_a_review_event_runs_the_tally_and_applies_the_verdict(
    governance_repo: Path, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    example_repo = governance_repo
    org = loading.load_valid(example_repo)
    forge = LocalForge(
        repo=example_repo,
        store=example_repo / ".aito" / "forge",
        permissions={m.id: Permission.ADMIN for m in org.org.maintainers},
    )
    _, pull = proposing.propose(
        forge,
        org=org,
        proposer="cto",
        tier=Tier.MAJOR,
        title="New CDN",
        body="faster",
        files={"site/cdn.txt": b"cdn\n"},
        amount_usd=200,
        now=dt.datetime.now(dt.UTC),
    )
    for voter in ("ceo", "dao"):
        proposing.review(
            forge, pull.number, author=proposing.identity_for(org, voter), vote="approve", body=""
        )

    result = run_act(
        example_repo,
        "governance.yml",
        "pull_request_review",
        env={"POSTGRES_URL": postgres_url, "REDIS_URL": redis_url},
        variables={"AITO_FORGE": "local"},
        extra=["-e", str(_review_event(pull.number, tmp_path))],
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"tallying #{pull.number}" in output
    assert "validate org" not in output  # the validate job does not run on review events
    merged = forge.pull(pull.number)
    assert merged.state is PullState.MERGED
    assert "aito/approved" in merged.labels
    assert (example_repo / "site/cdn.txt").read_text() == "cdn\n"
