"""What secrets and variables a live organization needs: from the rendered workflows and
AITO's deployment names, and every one of them documented in docs/deploy.md."""

from __future__ import annotations

import re
from pathlib import Path

from aito.org import loading
from aito.org.agents import Layer
from aito.workflows import credentials

ROOT = Path(__file__).resolve().parents[2]


def test_each_agent_with_a_loop_needs_its_app_and_the_tally_its_environment(
    example_repo: Path,
) -> None:
    org = loading.load_valid(example_repo)
    needs = {(n.kind, n.name, n.environment): n for n in credentials.needs(org)}
    for spec in org.agents.values():
        suffix = spec.id.upper().replace("-", "_")
        wanted = {
            ("variable", f"AITO_APP_ID_{suffix}", None),
            ("secret", f"AITO_APP_KEY_{suffix}", None),
        }
        if spec.layer is Layer.WORKER:
            assert not wanted & set(needs), spec.id  # workers act through their C-level
        else:
            assert wanted <= set(needs), spec.id
    key = needs[("secret", "AITO_GOVERNANCE_APP_KEY", "governance")]
    assert key.environment_only and not key.optional and key.readers == ("governance.yml: tally",)
    assert needs[("secret", "ANTHROPIC_API_KEY", None)].readers == tuple(
        sorted(f"agent-{a.id}.yml: wake" for a in org.agents.values() if a.loop is not None)
    )
    assert not any(n.name == "GITHUB_TOKEN" for n in needs.values())


def test_a_name_a_template_reads_is_found_with_its_job_and_environment() -> None:
    workflow = """
env:
  SHARED: ${{ secrets.TOP_LEVEL }}
jobs:
  deploy:
    environment: {name: production}
    env:
      A: ${{ secrets.PROD_ONLY }}
      B: ${{ vars.MODE || 'fast' }}
      C: ${{ secrets.AITO_GITHUB_TOKEN_CMO }}
    steps: [{run: "echo ${{ vars.PLAIN }}"}]
"""
    found = {
        (kind, name): (job, env, optional)
        for job, env, kind, name, optional in credentials._references(Path("x.yml"), workflow)
    }
    assert found == {
        ("secret", "TOP_LEVEL"): ("deploy", "production", False),
        ("secret", "PROD_ONLY"): ("deploy", "production", False),
        ("variable", "MODE"): ("deploy", "production", True),
        ("secret", "AITO_GITHUB_TOKEN_CMO"): ("deploy", "production", True),
        ("variable", "PLAIN"): ("deploy", "production", False),
    }


def test_every_name_is_in_the_deployment_guide() -> None:
    guide = (ROOT / "docs/deploy.md").read_text(encoding="utf-8")
    org = loading.load_valid(ROOT)
    for need in credentials.needs(org):
        generic = re.sub(r"_(?:CEO|DAO|CMO|CTO|CFO|COO|CCO)$", "_<AGENT>", need.name)
        assert f"`{generic}`" in guide, need.name
