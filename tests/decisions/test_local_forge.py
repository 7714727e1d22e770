"""Decisions on the embedded default: a real local git repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.decision_scenario import propose_campaign, run_full_scenario
from support.local_repo import Clock, git

from aito.decisions import applying, proposing
from aito.errors import PermissionDenied
from aito.forge.base import MergeConflict, PullState
from aito.forge.local import LocalForge
from aito.org import loading
from aito.org.organization import Tier


def test_the_full_scenario_on_a_local_git_repo(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)

    def later():  # type: ignore[no-untyped-def]
        clock.advance(minutes=10)
        return clock()

    run_full_scenario(local_forge, org, now=later)
    # The working tree (main is checked out) moved with the merge and the record.
    assert (governance_repo / "content/campaigns/q1.md").read_text() == "# Q1\n"
    assert git(governance_repo, "status", "--porcelain") == ""
    log = git(governance_repo, "log", "--format=%an %s", "-3").splitlines()
    assert log[0].startswith("shiba-governance[bot] Record decision")
    assert log[1].startswith("shiba-governance[bot] Decision")


def _propose(forge: LocalForge, org: loading.Organization, clock: Clock, **kw):  # type: ignore[no-untyped-def]
    return propose_campaign(forge, org, now=clock(), **kw)


def test_a_tier_below_the_proposers_authority_is_refused(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    with pytest.raises(PermissionDenied, match=r"needs at least major.*above what cmo may spend"):
        _propose(local_forge, org, clock, tier=Tier.MINOR, amount_usd=500)
    with pytest.raises(PermissionDenied, match=r"needs at least critical.*organization.s rules"):
        _propose(
            local_forge, org, clock, tier=Tier.MAJOR, files={"org/agents/cmo.yaml": b"id: cmo\n"}
        )
    assert local_forge.pulls(state=None) == []


def test_a_push_that_raises_the_stakes_is_judged_at_the_higher_tier(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    _, pull = _propose(local_forge, org, clock, tier=Tier.MINOR, files={"content/c.md": b"c\n"})
    local_forge.commit_files(
        branch=pull.head_ref,
        base="main",
        files={"org/org.yaml": b"name: hijacked\n"},
        message="sneak",
        author=proposing.identity_for(org, "cmo"),
    )
    clock.advance(hours=5)  # past the minor deadline: lazy consensus would have merged
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.tier is Tier.CRITICAL and result.verdict.status.value == "pending"
    assert any("changes the organization's rules" in p for p in result.problems)
    assert local_forge.pull(pull.number).state is PullState.OPEN


def test_minor_lazy_consensus_merges_after_the_deadline(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    _, pull = _propose(local_forge, org, clock, tier=Tier.MINOR, amount_usd=50)
    clock.advance(hours=3)
    assert applying.tally(local_forge, pull.number, now=clock()).verdict.status.value == "pending"
    clock.advance(hours=2)
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "approved"
    assert local_forge.pull(pull.number).state is PullState.MERGED


def test_hold_blocks_the_merge_until_lifted(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    _, pull = _propose(local_forge, org, clock)
    proposing.hold(local_forge, pull.number, on=True)
    for voter in ("ceo", "dao"):
        proposing.review(
            local_forge,
            pull.number,
            author=proposing.identity_for(org, voter),
            vote="approve",
            body="",
        )
    held = applying.tally(local_forge, pull.number, now=clock())
    assert held.verdict.status.value == "approved" and held.verdict.held
    assert local_forge.pull(pull.number).state is PullState.OPEN
    assert local_forge.statuses(pull.head_sha)[0].state.value == "pending"
    proposing.hold(local_forge, pull.number, on=False)
    applying.tally(local_forge, pull.number, now=clock())
    assert local_forge.pull(pull.number).state is PullState.MERGED


def test_rejection_closes_and_records_on_the_base_branch(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    decision, pull = _propose(local_forge, org, clock)
    for voter in ("ceo", "dao"):
        proposing.review(
            local_forge,
            pull.number,
            author=proposing.identity_for(org, voter),
            vote="veto",
            body="no",
        )
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "rejected"
    assert local_forge.pull(pull.number).state is PullState.CLOSED
    record = (governance_repo / f"org/decisions/{decision.id}.yaml").read_text()
    assert "status: rejected" in record
    assert not (governance_repo / "content/c.md").exists()  # the change was not executed
    assert loading.load(governance_repo).problems == []  # the record is a valid decision file


def test_a_stale_vote_after_a_push_does_not_count(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    _, pull = _propose(local_forge, org, clock)
    proposing.review(
        local_forge, pull.number, author=proposing.identity_for(org, "ceo"), vote="approve", body=""
    )
    clock.advance(minutes=5)
    local_forge.commit_files(
        branch=pull.head_ref,
        base="main",
        files={"content/c.md": b"v2\n"},
        message="v2",
        author=proposing.identity_for(org, "cmo"),
    )
    proposing.review(
        local_forge, pull.number, author=proposing.identity_for(org, "dao"), vote="approve", body=""
    )
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "pending" and result.verdict.round == 2


def test_merge_is_pinned_to_the_evaluated_head(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    _, pull = _propose(local_forge, org, clock)
    with pytest.raises(MergeConflict, match="moved"):
        local_forge.merge(
            pull.number, sha="0" * 40, actor=proposing.identity_for(org, "ceo"), message="x"
        )


def test_a_decision_claiming_another_proposer_is_blocked(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    _, pull = _propose(local_forge, org, clock)
    # Rewrite the record so it claims the CEO proposed it; the PR author is still cmo's bot.
    path = next(p for p in local_forge.changed_files(pull.number) if p.startswith("org/decisions"))
    text = local_forge.read_tree(pull.head_sha, prefixes=[path])[path].replace(
        b"proposed_by: cmo", b"proposed_by: ceo"
    )
    local_forge.commit_files(
        branch=pull.head_ref,
        base="main",
        files={path: text},
        message="x",
        author=proposing.identity_for(org, "cmo"),
    )
    for voter in ("ceo", "dao"):
        proposing.review(
            local_forge,
            pull.number,
            author=proposing.identity_for(org, voter),
            vote="approve",
            body="",
        )
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.check_state == "failure" and "cannot be claimed" in result.verdict.reason
    assert local_forge.pull(pull.number).state is PullState.OPEN


def test_a_forged_tally_comment_is_ignored(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    _, pull = _propose(local_forge, org, clock)
    first = applying.tally(local_forge, pull.number, now=clock())
    genuine = next(c for c in local_forge.comments(pull.number) if "aito:tally" in c.body)
    # The proposer pastes a tally comment claiming it is already approved, with a policy
    # where nobody needs to approve.
    fake = genuine.body.replace("aito:state open", "aito:state approved")
    local_forge.post_comment(pull.number, author=proposing.identity_for(org, "cmo"), body=fake)
    again = applying.tally(local_forge, pull.number, now=clock())
    assert again.verdict == first.verdict


def test_the_policy_is_frozen_when_the_proposal_opens(
    local_forge: LocalForge, governance_repo: Path, clock: Clock
) -> None:
    org = loading.load_valid(governance_repo)
    _, pull = _propose(local_forge, org, clock)
    applying.tally(local_forge, pull.number, now=clock())  # freezes voters, quorum, deadlines
    # Later, the base branch changes the rules: major decisions would need only the CEO.
    org_yaml = (governance_repo / "org/org.yaml").read_text()
    relaxed = org_yaml.replace(
        "approvers: [ceo, dao]\n      deadline: 24h", "approvers: [ceo]\n      deadline: 24h"
    )
    assert relaxed != org_yaml
    local_forge.commit_files(
        branch="main",
        base="main",
        files={"org/org.yaml": relaxed.encode()},
        message="relax",
        author=proposing.identity_for(org, "ceo"),
    )
    proposing.review(
        local_forge, pull.number, author=proposing.identity_for(org, "ceo"), vote="approve", body=""
    )
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "pending" and result.verdict.missing == ("dao",)
