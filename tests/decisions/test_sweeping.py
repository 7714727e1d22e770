"""`tally_open`: one sweep of every open decision for the CLI, the demo and the orchestrator.

On a LocalForge (real git) with the real Postgres and Redis: each decision is applied
under its lock and recorded, its whole verdict stored for the agents' wake-ups; a
pull request that is not a decision is left alone; one that cannot be tallied is
reported beside the others' results without ending the sweep.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import yaml
from support.local_repo import Clock

from aito import bootstrap
from aito.bus import keys
from aito.bus.redis import RedisBus
from aito.decisions import proposing, recording, sweeping
from aito.forge.local import LocalForge
from aito.memory import base
from aito.memory.postgres import PostgresMemory
from aito.org import loading
from aito.org.organization import Tier
from aito.settings import Settings


def propose(forge: LocalForge, org: loading.Organization, title: str, clock: Clock) -> int:
    _, pull = proposing.propose(
        forge,
        org=org,
        proposer="cmo",
        tier=Tier.MAJOR,
        title=title,
        body="Why it matters.",
        files={f"content/{title.lower()}.md": b"text"},
        amount_usd=0,
        now=clock(),
    )
    return pull.number


def unjudgeable(forge: LocalForge, org: loading.Organization, clock: Clock) -> int:
    """A decision record whose proposer is no agent: readable, but no verdict is possible."""
    record = {
        "id": "20261121-ghost",
        "title": "Ghost",
        "description": "d",
        "proposed_by": "ghost",
        "tier": "major",
        "round": 1,
        "changes": [],
        "amount_usd": 0,
        "created_at": clock().isoformat(),
    }
    author = proposing.identity_for(org, "cmo")
    forge.commit_files(
        branch="aito/decision/ghost",
        base=forge.default_branch,
        files={"org/decisions/20261121-ghost.yaml": yaml.safe_dump(record).encode()},
        message="ghost",
        author=author,
    )
    return forge.open_pull(
        head="aito/decision/ghost", base=forge.default_branch, title="Ghost", body="", author=author
    ).number


def test_every_open_decision_is_tallied_locked_and_stored_and_one_failure_is_reported(
    local_forge: LocalForge,
    governance_repo: Path,
    clock: Clock,
    memory: PostgresMemory,
    bus: RedisBus,
) -> None:
    org = loading.load_valid(governance_repo)
    memory.migrate()
    memory.register_agents(base.agent_rows(org))
    first = propose(local_forge, org, "Spring", clock)
    broken = unjudgeable(local_forge, org, clock)
    author = proposing.identity_for(org, "cmo")
    local_forge.commit_files(
        branch="aito/cmo/draft",
        base=local_forge.default_branch,
        files={"content/draft.md": b"x"},
        message="draft",
        author=author,
    )
    local_forge.open_pull(
        head="aito/cmo/draft",
        base=local_forge.default_branch,
        title="Draft",
        body="",
        author=author,
    )
    second = propose(local_forge, org, "Summer", clock)
    proposing.review(
        local_forge, second, author=proposing.identity_for(org, "ceo"), vote="approve", body=""
    )
    locked: list[str] = []

    @contextlib.contextmanager
    def lock(decision_id: str) -> Iterator[None]:
        locked.append(decision_id)
        with bus.lock(keys.decision_lock(decision_id)):
            yield

    assert sweeping.open_decisions(local_forge) == [first, broken, second]
    sweep = sweeping.tally_open(
        local_forge,
        now=clock(),
        recorder=recording.ServicesRecorder(memory=memory, bus=bus),
        lock=lock,
    )
    assert [t.verdict.pr for t in sweep.tallies] == [first, second]
    [problem] = sweep.problems
    assert problem.pr == broken and "is not an agent" in problem.message
    assert problem.error.exit_code == 4
    assert len(locked) == 3 and "20261121-ghost" in locked  # each under its own lock
    stored = memory.verdicts([first, second, broken])
    assert sorted(stored) == [first, second]
    summer = recording.StoredVerdict.model_validate(stored[second]["verdict"])
    assert summer.votes["ceo"] == "approve" and "dao" in summer.missing
    assert summer.head_sha == local_forge.pull(second).head_sha
    assert summer.title == "Summer" and summer.proposed_by == "cmo"
    assert any("aito/" in label for label in local_forge.pull(first).labels)


def test_a_read_only_sweep_changes_nothing(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    number = propose(local_forge, org, "Autumn", clock)
    before = local_forge.pull(number)
    sweep = sweeping.tally_open(local_forge, now=clock(), apply=False)
    [result] = sweep.tallies
    assert result.verdict.pr == number and result.changes == ()
    assert local_forge.pull(number).labels == before.labels
    assert local_forge.comments(number) == []


def test_decide_tally_all_applies_the_others_and_reports_the_broken_one(
    governance_repo: Path, postgres_url: str, redis_url: str, monkeypatch, run_aito, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    org = loading.load_valid(governance_repo)
    forge = bootstrap.forge(Settings.from_env({}, repo=governance_repo), org)
    assert isinstance(forge, LocalForge)
    good = propose(forge, org, "Winter", clock)
    broken = unjudgeable(forge, org, clock)

    result = run_aito("--repo", str(governance_repo), "decide", "tally", "--all", "--json")
    assert result.code == 4  # the broken one's own exit code
    assert [t["pr"] for t in json.loads(result.out)] == [good]
    assert f"#{broken} could not be tallied" in result.err and "is not an agent" in result.err
    status = run_aito("--repo", str(governance_repo), "decide", "status", "--json")
    assert [t["pr"] for t in json.loads(status.out)] == [good]
    assert status.code == 4
