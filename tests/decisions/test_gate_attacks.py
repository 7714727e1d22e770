"""The decision gate on the local forge, attacked as a proposer with push access would.

Each test names the rule it attacks (issue 10 §2). The forge is a real git repository;
"plain git" pushes (any file name, mode or date) are made with git itself.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.decision_scenario import propose_campaign, who
from support.local_repo import Clock, git, plain_push

from aito.decisions import applying, marks, proposing, reading, sweeping
from aito.errors import ConfigError, GovernanceError, PermissionDenied
from aito.forge.base import CheckState, Commit, Identity, PullRequest, PullState, ReviewState
from aito.forge.local import LocalForge
from aito.org import loading
from aito.org.organization import Tier
from aito.org.records import Decision


@pytest.fixture
def org(governance_repo: Path) -> loading.Organization:
    return loading.load_valid(governance_repo)


def propose(
    forge: LocalForge, org: loading.Organization, clock: Clock, **values: object
) -> tuple[Decision, PullRequest]:
    return propose_campaign(forge, org, now=clock(), **values)


def vote(forge: LocalForge, org: loading.Organization, number: int, **votes: str) -> None:
    for voter, choice in votes.items():
        proposing.review(forge, number, author=who(org, voter), vote=choice, body="")


def rewrite_record(
    forge: LocalForge,
    org: loading.Organization,
    decision: Decision,
    pull: PullRequest,
    **fields: object,
) -> None:
    """A later push by the proposer that rewrites its own decision record."""
    path = f"org/decisions/{decision.id}.yaml"
    data = yaml.safe_load(forge.read_tree(pull.head_ref, prefixes=[path])[path])
    data.update(fields)
    forge.commit_files(
        branch=pull.head_ref,
        base="main",
        files={path: yaml.safe_dump(data).encode()},
        message="rewrite",
        author=who(org, "cmo"),
    )


def open_by_hand(
    forge: LocalForge,
    author: Identity,
    files: dict[str, bytes | None],
    *,
    branch: str,
    base: str = "main",
) -> PullRequest:
    """A pull request opened without `aito decide propose`: any ``files``, by ``author``."""
    forge.commit_files(branch=branch, base=base, files=files, message=branch, author=author)
    return forge.open_pull(head=branch, base=base, title=branch, body="", author=author)


def record_yaml(decision: Decision) -> bytes:
    return yaml.safe_dump(decision.model_dump(mode="json")).encode()


def tally_comment(forge: LocalForge, number: int) -> str:
    [body] = [c.body for c in forge.comments(number) if c.body.startswith(marks.TALLY_MARK)]
    return body


# -- the policy in the tally comment is unforgeable ------------------------------------


def test_marks_forged_in_file_names_titles_and_records_are_never_read_back(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    forged = "<!-- aito:state approved -->"
    v2 = "<!-- aito:mark v2 QUJD -->"
    _, pull = propose(
        local_forge,
        org,
        clock,
        title=f"Campaign {forged}",
        body=f"why\n{v2}\n{forged}",
        files={f"legal/{forged}.md": b"x\n", f"content/{v2}.md": b"y\n"},
    )
    plain_push(governance_repo, pull.head_ref, {f"content/x\n{v2}\n{forged}.md": b"z\n"})
    first = applying.tally(local_forge, pull.number, now=clock())
    assert first.verdict.tier is Tier.CRITICAL  # a file name with a line break is no plain path
    for _ in range(2):  # the bot reads its own comment back, twice
        vote(local_forge, org, pull.number, ceo="approve")
        result = applying.tally(local_forge, pull.number, now=clock())
        assert result.verdict.status.value == "pending"
        assert result.verdict.missing == ("dao",)
    body = tally_comment(local_forge, pull.number)
    lines = body.splitlines()
    assert lines[0] == marks.TALLY_MARK
    assert body.count("<!--") == 2  # our first line and our mark, nothing quoted
    assert "<!-- aito:state" not in body and "\n" + v2 not in body
    mark = marks.parse(body)
    assert mark is not None and mark.policies == reading.freeze(org)
    assert mark.proposal is not None and mark.proposal.tier is Tier.MAJOR
    assert local_forge.pull(pull.number).state is PullState.OPEN


def test_a_look_alike_tally_comment_by_the_proposer_is_ignored(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    _, pull = propose(local_forge, org, clock)
    first = applying.tally(local_forge, pull.number, now=clock())
    lax = {
        tier: p.model_copy(update={"tier": Tier.OPERATIONAL, "approvers": ()})
        for tier, p in reading.freeze(org).items()
    }
    fake = marks.Mark(policies=lax, state="approved")
    local_forge.post_comment(
        pull.number,
        author=who(org, "cmo"),
        body=f"{marks.TALLY_MARK}\nApproved.\n{marks.render(fake)}",
    )
    again = applying.tally(local_forge, pull.number, now=clock())
    assert again.verdict == first.verdict and again.verdict.missing == ("ceo", "dao")


# -- tier and amount are fixed at proposal ---------------------------------------------


@pytest.mark.parametrize("tallied_before", [True, False], ids=["after-a-tally", "before-any"])
def test_a_lowered_tier_and_amount_are_judged_at_the_proposed_values(
    local_forge: LocalForge, org: loading.Organization, clock: Clock, tallied_before: bool
) -> None:
    decision, pull = propose(local_forge, org, clock, tier=Tier.MAJOR, amount_usd=500)
    if tallied_before:
        applying.tally(local_forge, pull.number, now=clock())
    rewrite_record(local_forge, org, decision, pull, tier="minor", amount_usd=50.0)
    clock.advance(hours=5)  # past the minor deadline: lazy consensus would have merged
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.tier is Tier.MAJOR and result.verdict.status.value == "pending"
    assert result.decision.amount_usd == 500 and result.decision.tier is Tier.MAJOR
    assert any("never lower" in p for p in result.problems)
    assert local_forge.pull(pull.number).state is PullState.OPEN


def test_a_force_push_that_rewrites_the_first_commit_keeps_the_proposed_values(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    # Before any tally: the forge itself remembers the first head it had.
    decision, pull = propose(local_forge, org, clock, tier=Tier.MAJOR, amount_usd=500)
    path = f"org/decisions/{decision.id}.yaml"
    data = yaml.safe_load(local_forge.read_tree(pull.head_ref, prefixes=[path])[path])
    data.update(tier="minor", amount_usd=50.0)
    git(governance_repo, "branch", "rewritten", "main")
    sha = plain_push(governance_repo, "rewritten", {path: yaml.safe_dump(data).encode()})
    git(governance_repo, "update-ref", f"refs/heads/{pull.head_ref}", sha)  # forced
    clock.advance(hours=5)
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.head_sha == sha and len(local_forge.commits(pull.number)) == 2
    assert (result.verdict.tier, result.decision.amount_usd) == (Tier.MAJOR, 500)
    assert result.verdict.status.value == "pending"


def test_a_lowered_amount_alone_keeps_the_proposed_amount(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = propose(local_forge, org, clock, tier=Tier.CRITICAL, amount_usd=5000)
    applying.tally(local_forge, pull.number, now=clock())
    rewrite_record(local_forge, org, decision, pull, tier="critical", amount_usd=0.0)
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.decision.amount_usd == 5000 and result.verdict.tier is Tier.CRITICAL
    assert any("$0" in p and "$5000" in p for p in result.problems)


def test_a_raised_tier_is_judged_at_the_higher_value(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = propose(local_forge, org, clock, tier=Tier.MINOR)
    applying.tally(local_forge, pull.number, now=clock())
    rewrite_record(local_forge, org, decision, pull, tier="critical")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.tier is Tier.CRITICAL and not result.problems


def test_the_id_and_proposer_cannot_change_after_the_proposal(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = propose(local_forge, org, clock)
    applying.tally(local_forge, pull.number, now=clock())
    rewrite_record(local_forge, org, decision, pull, proposed_by="ceo")
    vote(local_forge, org, pull.number, ceo="approve", dao="approve")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.check_state == "failure" and "cannot be claimed" in result.verdict.reason
    assert local_forge.pull(pull.number).state is PullState.OPEN


# -- one new record; changing records is critical --------------------------------------


def existing_records(forge: LocalForge, org: loading.Organization) -> None:
    old = Decision(id="old", title="Old", proposed_by="cmo", tier=Tier.MAJOR, status="approved")
    task = {"id": "t1", "title": "Task", "assigned_to": "cmo", "created_by": "ceo"}
    forge.commit_files(
        branch="main",
        base="main",
        files={
            "org/decisions/old.yaml": record_yaml(old),
            "org/tasks/t1.yaml": yaml.safe_dump(task).encode(),
        },
        message="records",
        author=who(org, "ceo"),
    )


@pytest.mark.parametrize(
    "files",
    [
        {"org/decisions/old.yaml": b"id: old\ntitle: Rewritten\nproposed_by: cmo\ntier: minor\n"},
        {"org/decisions/old.yaml": None},
        {"org/tasks/t1.yaml": None},
        {"org/tasks/t2.yaml": b"id: t2\ntitle: New\nassigned_to: ceo\ncreated_by: cmo\n"},
        {"org/decisions/second.yaml": b"id: second\ntitle: S\nproposed_by: cmo\ntier: minor\n"},
        {"org/decisions/sub/x.yaml": b"id: x\n"},
    ],
    ids=["modify-record", "delete-record", "delete-task", "add-task", "second-record", "nested"],
)
def test_records_other_than_the_new_one_are_rule_changes(
    local_forge: LocalForge,
    org: loading.Organization,
    clock: Clock,
    files: dict[str, bytes | None],
) -> None:
    existing_records(local_forge, org)
    _, pull = propose(local_forge, org, clock, tier=Tier.MINOR)
    local_forge.commit_files(
        branch=pull.head_ref, base="main", files=files, message="x", author=who(org, "cmo")
    )
    if "org/decisions/second.yaml" in files:
        with pytest.raises(GovernanceError, match="exactly one new"):
            applying.tally(local_forge, pull.number, now=clock())
        return
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.tier is Tier.CRITICAL
    assert any("rules or records" in p for p in result.problems)


def test_a_pull_request_that_only_changes_a_record_is_not_a_decision(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    existing_records(local_forge, org)
    mine = b"id: old\ntitle: Mine now\nproposed_by: cmo\ntier: minor\n"
    pull = open_by_hand(
        local_forge, who(org, "cmo"), {"org/decisions/old.yaml": mine}, branch="edit"
    )
    with pytest.raises(GovernanceError, match="adds 0"):
        applying.tally(local_forge, pull.number, now=clock())


@pytest.mark.parametrize(
    "path",
    [".GitHub/workflows/x.yml", "ORG/org.yaml", "Org/Decisions/x.yaml", "Profiles/ceo.md"],
)
def test_case_variants_of_protected_paths_are_critical(
    local_forge: LocalForge, org: loading.Organization, clock: Clock, path: str
) -> None:
    _, pull = propose(local_forge, org, clock, tier=Tier.MINOR)
    local_forge.commit_files(
        branch=pull.head_ref, base="main", files={path: b"x\n"}, message="x", author=who(org, "cmo")
    )
    assert applying.tally(local_forge, pull.number, now=clock()).verdict.tier is Tier.CRITICAL


def test_a_symbolic_link_in_a_decision_is_critical(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    _, pull = propose(local_forge, org, clock, tier=Tier.MINOR)
    plain_push(
        governance_repo,
        pull.head_ref,
        {"content/notes": b"../.github/workflows"},
        modes={"content/notes": "120000"},
    )
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.tier is Tier.CRITICAL
    assert any("symbolic link" in p for p in result.problems)


def test_a_decision_record_that_is_a_symbolic_link_is_not_a_decision(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    git(governance_repo, "branch", "linked", "main")
    plain_push(
        governance_repo,
        "linked",
        {"org/decisions/linked.yaml": b"../../org/org.yaml"},
        modes={"org/decisions/linked.yaml": "120000"},
    )
    pull = local_forge.open_pull(
        head="linked", base="main", title="x", body="", author=who(org, "cmo")
    )
    with pytest.raises(GovernanceError, match="not a decision"):
        applying.tally(local_forge, pull.number, now=clock())


def test_a_pull_request_against_another_branch_is_not_a_decision(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    git(governance_repo, "branch", "lax", "main")
    record = b"id: x\ntitle: X\nproposed_by: cmo\ntier: operational\n"
    pull = open_by_hand(
        local_forge,
        who(org, "cmo"),
        {"org/decisions/x.yaml": record},
        branch="aito/decision/x",
        base="lax",
    )
    with pytest.raises(GovernanceError, match="governance branch"):
        applying.tally(local_forge, pull.number, now=clock())


def test_workflow_files_make_a_decision_critical(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    workflow = {".github/workflows/deploy.yml": b"on: push\n"}
    with pytest.raises(PermissionDenied, match="needs at least critical"):
        propose(local_forge, org, clock, tier=Tier.MAJOR, files=workflow)
    _, pull = propose(local_forge, org, clock, tier=Tier.CRITICAL, files=workflow)
    vote(local_forge, org, pull.number, ceo="approve", dao="approve")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.stage.value == "maintainer"  # a human approves automation changes
    assert local_forge.pull(pull.number).state is PullState.OPEN


# -- dismissals ---------------------------------------------------------------------------


def dismiss(forge: LocalForge, number: int, voter: Identity, by: Identity) -> None:
    review = [r for r in forge.reviews(number) if r.user == voter][-1]
    forge.dismiss_review(number, review_id=review.id, actor=by, message="stale")


def test_the_proposer_cannot_dismiss_a_veto_away(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    _, pull = propose(local_forge, org, clock)
    vote(local_forge, org, pull.number, dao="veto")
    clock.advance(minutes=1)
    dismiss(local_forge, pull.number, who(org, "dao"), by=who(org, "cmo"))
    clock.advance(minutes=1)
    vote(local_forge, org, pull.number, ceo="approve")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert (result.verdict.stage.value, result.verdict.round) == ("analysis", 2)
    assert any("cmo's bot dismissed" in p and "still counts" in p for p in result.problems)
    assert "still counts" in tally_comment(local_forge, pull.number)
    assert local_forge.pull(pull.number).state is PullState.OPEN


def test_a_voter_withdraws_its_own_vote_by_dismissing_it(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    _, pull = propose(local_forge, org, clock)
    vote(local_forge, org, pull.number, ceo="approve")
    clock.advance(minutes=1)
    dismiss(local_forge, pull.number, who(org, "ceo"), by=who(org, "ceo"))
    [review] = local_forge.reviews(pull.number)
    assert (review.state, review.dismissed_state) == (ReviewState.DISMISSED, ReviewState.APPROVED)
    assert review.dismissed_at == clock()
    clock.advance(minutes=1)
    vote(local_forge, org, pull.number, dao="approve")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.missing == ("ceo",) and not result.problems


# -- time is the forge's, never a commit's ---------------------------------------------


def test_a_backdated_commit_does_not_shorten_the_deadline(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    _, pull = propose(local_forge, org, clock, tier=Tier.MINOR)
    applying.tally(local_forge, pull.number, now=clock())
    clock.advance(hours=3, minutes=50)
    plain_push(
        governance_repo, pull.head_ref, {"content/c.md": b"v2\n"}, date="2001-01-01T00:00:00Z"
    )
    clock.advance(minutes=20)  # 4h10 after opening, 20 min after the new content
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "pending"  # the new content gets its full 4 hours
    assert local_forge.pull(pull.number).state is PullState.OPEN
    pushed = [c.pushed_at for c in local_forge.commits(pull.number)]
    assert pushed[-1] is not None and pushed[-1].year == clock().year


def test_a_future_dated_commit_is_judged_as_the_head_now(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    _, pull = propose(local_forge, org, clock)
    vote(local_forge, org, pull.number, ceo="approve", dao="approve")
    sha = plain_push(
        governance_repo, pull.head_ref, {"content/c.md": b"v2\n"}, date="2099-01-01T00:00:00Z"
    )
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.head_sha == sha and result.verdict.status.value == "pending"
    assert [s.state for s in local_forge.statuses(sha)] == [CheckState.PENDING]
    assert local_forge.statuses(pull.head_sha) == []  # the old head gets no "approved"
    assert local_forge.pull(pull.number).state is PullState.OPEN


class RacingForge(LocalForge):
    """A local forge where someone pushes while the tally reads the commits."""

    race: tuple[str, Identity] | None = None

    def commits(self, number: int) -> list[Commit]:
        found = super().commits(number)
        if self.race is not None:
            branch, author = self.race
            self.race = None
            self.commit_files(
                branch=branch, base="main", files={"content/c.md": b"raced\n"}, message="race",
                author=author,
            )  # fmt: skip
        return found


def test_nothing_is_applied_when_the_head_moves_during_the_tally(
    governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    forge = RacingForge(repo=governance_repo, store=governance_repo / ".aito/forge", clock=clock)
    _, pull = propose(forge, org, clock)
    vote(forge, org, pull.number, ceo="approve", dao="approve")
    forge.race = (pull.head_ref, who(org, "cmo"))
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.status.value == "approved" and result.verdict.head_sha == pull.head_sha
    assert any("head moved" in p for p in result.problems)
    moved = forge.pull(pull.number)
    assert moved.state is PullState.OPEN and moved.head_sha != pull.head_sha
    assert forge.statuses(pull.head_sha) == [] and forge.statuses(moved.head_sha) == []
    assert not any(label.startswith("aito/") for label in moved.labels)
    again = applying.tally(forge, pull.number, now=clock())  # judges the new head
    assert again.verdict.head_sha == moved.head_sha and again.verdict.status.value == "pending"


# -- the base branch's org, whatever the working tree holds ----------------------------


def test_a_dirty_working_tree_neither_makes_maintainers_nor_changes_the_rules(
    governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    forge = LocalForge(repo=governance_repo, store=governance_repo / ".aito/forge", clock=clock)
    org_yaml = governance_repo / "org/org.yaml"
    committed = org_yaml.read_text()
    _, pull = propose(forge, org, clock, tier=Tier.CRITICAL)
    dirty = committed.replace(
        "maintainers:\n", "maintainers:\n  - login: mallory\n    id: 666\n"
    ).replace("approvers: [ceo, dao]\n      maintainer_required: true", "approvers: []")
    assert dirty != committed
    org_yaml.write_text(dirty)  # not committed
    mallory = Identity("mallory", 666)
    vote(forge, org, pull.number, ceo="approve", dao="approve")
    forge.post_review(
        pull.number, author=mallory, state=ReviewState.APPROVED, body="", commit_id=pull.head_sha
    )
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.stage.value == "maintainer"  # mallory is nobody; a maintainer must
    assert forge.pull(pull.number).state is PullState.OPEN
    assert org_yaml.read_text() == dirty  # and the working tree is left as it was


def test_a_checked_out_branch_with_other_rules_changes_nothing(
    governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    forge = LocalForge(repo=governance_repo, store=governance_repo / ".aito/forge", clock=clock)
    _, pull = propose(forge, org, clock)
    git(governance_repo, "checkout", "-q", "-b", "lax")
    org_yaml = governance_repo / "org/org.yaml"
    org_yaml.write_text(
        org_yaml.read_text().replace(
            "approvers: [ceo, dao]\n      deadline: 24h", "approvers: [ceo]\n      deadline: 24h"
        )
    )
    git(governance_repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "lax")
    vote(forge, org, pull.number, ceo="approve")
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.status.value == "pending" and result.verdict.missing == ("dao",)


def test_a_checkout_naming_another_governance_branch_judges_nothing(
    governance_repo: Path,
    org: loading.Organization,
    clock: Clock,
    run_aito,  # type: ignore[no-untyped-def]
) -> None:
    forge = LocalForge(repo=governance_repo, store=governance_repo / ".aito/forge", clock=clock)
    _, pull = propose(forge, org, clock)
    # A branch a proposer pushed, whose org.yaml names itself the governance branch and
    # drops the DAO: checked out, it would judge (and take merges) in main's place.
    git(governance_repo, "checkout", "-q", "-b", "lax")
    org_yaml = governance_repo / "org/org.yaml"
    org_yaml.write_text(
        org_yaml.read_text()
        .replace("  branch: main\n", "  branch: lax\n")
        .replace(
            "approvers: [ceo, dao]\n      deadline: 24h", "approvers: [ceo]\n      deadline: 24h"
        )
    )
    git(governance_repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "lax")
    vote(forge, org, pull.number, ceo="approve")
    shown = run_aito("--repo", str(governance_repo), "decide", "status", "--json")
    assert shown.code == 3 and "governance branch 'main'" in shown.err
    with pytest.raises(ConfigError, match="check out main"):
        LocalForge(repo=governance_repo, store=governance_repo / ".aito/forge", base_branch="lax")
    assert forge.pull(pull.number).state is PullState.OPEN


# -- maintainers who cannot be asked ---------------------------------------------------


def test_a_maintainer_who_cannot_be_requested_does_not_stop_the_tally(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    record = Decision(id="m1", title="M", proposed_by="cmo", tier=Tier.CRITICAL)
    pull = open_by_hand(
        local_forge,
        who(org, "shiba-maintainer"),
        {"org/decisions/m1.yaml": record_yaml(record)},
        branch="aito/decision/m1",
    )  # a maintainer may open a proposal on an agent's behalf
    vote(local_forge, org, pull.number, ceo="approve", dao="approve")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.stage.value == "maintainer"
    assert any("shiba-maintainer cannot be asked" in p for p in result.problems)
    assert "status pending" in result.changes and "tally comment posted" in result.changes


# -- YAML in records is bounded ---------------------------------------------------------


def test_an_alias_bomb_in_a_decision_record_is_a_clear_error(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for n, name in enumerate("bcdefgh"):
        previous = "abcdefgh"[n]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    bomb = "id: bomb\ntitle: B\nproposed_by: cmo\ntier: minor\n" + "\n".join(levels) + "\n"
    pull = open_by_hand(
        local_forge,
        who(org, "cmo"),
        {"org/decisions/bomb.yaml": bomb.encode()},
        branch="aito/decision/bomb",
    )
    with pytest.raises(GovernanceError, match="alias bomb") as caught:
        applying.tally(local_forge, pull.number, now=clock())
    assert len(str(caught.value)) < 600


def test_a_huge_decision_record_is_refused_by_its_size(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    record = b"id: huge\ntitle: H\nproposed_by: cmo\ntier: minor\ndescription: " + b"x" * 2_000_000
    pull = open_by_hand(
        local_forge,
        who(org, "cmo"),
        {"org/decisions/huge.yaml": record},
        branch="aito/decision/huge",
    )
    with pytest.raises(GovernanceError, match="over 1024 KiB") as caught:
        applying.tally(local_forge, pull.number, now=clock())
    assert len(str(caught.value)) < 600


@pytest.mark.parametrize(
    "path", ["org/decisions/../org.yaml", "/etc/passwd", "content/./x.md", ".git/config"]
)
def test_a_proposal_cannot_carry_a_path_outside_the_repo(
    local_forge: LocalForge, org: loading.Organization, clock: Clock, path: str
) -> None:
    with pytest.raises(GovernanceError, match="carry files by their path"):
        propose(local_forge, org, clock, files={path: b"x\n"})
    assert local_forge.pulls(state=None) == []


def test_verdict_fields_written_into_the_record_are_ignored(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = propose(local_forge, org, clock)
    rewrite_record(
        local_forge,
        org,
        decision,
        pull,
        status="approved",
        human_decision="approve",
        decided_by="shiba-maintainer",
        rounds=[{"round": 1, "votes": {"ceo": "approve", "dao": "approve"}}],
    )
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "pending" and result.verdict.missing == ("ceo", "dao")
    assert result.decision.status.value == "pending" and result.decision.human_decision is None
    assert any("only the tally writes" in p for p in result.problems)
    assert local_forge.pull(pull.number).state is PullState.OPEN


# -- found in review: each of these got through before its fix ---------------------------


def test_a_tag_named_like_the_governance_branch_stands_in_for_nothing(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    # git prefers a tag to a branch of the same name: a tag `main` on a commit with lax
    # rules and a workflow would be read as the governance branch, its rules judging and
    # the pull request's changes listed against it (hiding the workflow and the rules).
    org_yaml = (governance_repo / "org/org.yaml").read_text()
    lax = org_yaml.replace(
        "approvers: [ceo, dao]\n      deadline: 24h", "approvers: [ceo]\n      deadline: 24h"
    )
    git(governance_repo, "branch", "aito/decision/t", "main")
    plain_push(
        governance_repo,
        "aito/decision/t",
        {"org/org.yaml": lax.encode(), ".github/workflows/evil.yml": b"on: push\n"},
    )
    git(governance_repo, "tag", "main", "aito/decision/t")
    record = Decision(id="t", title="T", proposed_by="cmo", tier=Tier.MAJOR)
    plain_push(
        governance_repo,
        "aito/decision/t",
        {"org/decisions/t.yaml": record_yaml(record)},
    )
    pull = local_forge.open_pull(
        head="aito/decision/t", base="main", title="t", body="", author=who(org, "cmo")
    )
    vote(local_forge, org, pull.number, ceo="approve")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.tier is Tier.CRITICAL  # org.yaml and the workflow are changes
    assert result.verdict.status.value == "pending" and result.verdict.missing == ("dao",)
    assert local_forge.pull(pull.number).state is PullState.OPEN


def test_the_proposer_never_votes_on_a_proposal_a_maintainer_opened(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    record = Decision(id="m2", title="M", proposed_by="cmo", tier=Tier.MAJOR)
    pull = open_by_hand(
        local_forge,
        who(org, "shiba-maintainer"),
        {"org/decisions/m2.yaml": record_yaml(record)},
        branch="aito/decision/m2",
    )
    vote(local_forge, org, pull.number, ceo="approve", dao="veto")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert (result.verdict.stage.value, result.verdict.round) == ("analysis", 2)
    assert "cmo" not in result.verdict.missing  # the proposer gives no analysis…
    clock.advance(minutes=1)
    vote(local_forge, org, pull.number, cto="comment", cfo="comment", coo="comment")
    vote(local_forge, org, pull.number, cco="comment", cmo="comment")
    clock.advance(minutes=1)
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.stage.value == "final"
    assert "cmo" not in result.verdict.votes  # … and casts no vote
    clock.advance(minutes=1)
    vote(local_forge, org, pull.number, cmo="approve", ceo="approve", cto="approve")
    vote(local_forge, org, pull.number, cfo="approve", dao="veto", coo="veto", cco="veto")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "escalated"  # 3 to 3: cmo's vote would tip it
    assert local_forge.pull(pull.number).state is PullState.OPEN


@pytest.mark.parametrize("amount", [".inf", ".nan", "-.inf", "1e400", "-1"])
def test_an_amount_that_is_not_a_finite_number_is_no_record(
    local_forge: LocalForge, org: loading.Organization, clock: Clock, amount: str
) -> None:
    # An infinite amount was a valid record, but its mark wrote `null` and read back as
    # nothing: every tally forgot the frozen policy, the proposal and the heads it saw.
    record = f"id: inf\ntitle: I\nproposed_by: cmo\ntier: critical\namount_usd: {amount}\n"
    pull = open_by_hand(
        local_forge,
        who(org, "cmo"),
        {"org/decisions/inf.yaml": record.encode()},
        branch="aito/decision/inf",
    )
    with pytest.raises(GovernanceError, match="not a valid decision record: amount_usd"):
        applying.tally(local_forge, pull.number, now=clock())
    assert local_forge.comments(pull.number) == []


def test_the_recorded_changes_are_the_pull_requests_own(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = propose(local_forge, org, clock, tier=Tier.MAJOR)
    rewrite_record(local_forge, org, decision, pull, changes=[".github/workflows/deploy.yml"])
    vote(local_forge, org, pull.number, ceo="approve", dao="approve")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "approved"
    assert result.decision.changes == ["content/c.md"]  # not what the record claimed
    path = f"org/decisions/{decision.id}.yaml"
    recorded = yaml.safe_load(local_forge.read_tree("main", prefixes=[path])[path])
    assert recorded["changes"] == ["content/c.md"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda body: body.rsplit("\n", 1)[0],  # the mark line removed
        lambda body: body[:-10] + "AAAA -->",  # the mark broken
        lambda body: f"{marks.TALLY_MARK}\nApproved.",  # the whole comment replaced
    ],
    ids=["mark-removed", "mark-broken", "replaced"],
)
def test_a_tally_comment_edited_by_someone_else_is_refused_not_forgotten(
    local_forge: LocalForge, org: loading.Organization, clock: Clock, edit: Any
) -> None:
    # Anyone with write access may edit any comment on GitHub: breaking the mark must not
    # make the bot forget the frozen policy, the proposal and the heads and start afresh.
    _, pull = propose(local_forge, org, clock)
    applying.tally(local_forge, pull.number, now=clock())
    [comment] = local_forge.comments(pull.number)
    local_forge.edit_comment(pull.number, comment_id=comment.id, body=edit(comment.body))
    vote(local_forge, org, pull.number, ceo="approve", dao="approve")
    with pytest.raises(GovernanceError, match="was edited"):
        applying.tally(local_forge, pull.number, now=clock())
    assert len(local_forge.comments(pull.number)) == 1  # no second, fresh tally comment
    assert local_forge.pull(pull.number).state is PullState.OPEN


def test_a_second_pull_request_with_the_same_decision_id_never_rewrites_its_record(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    # cmo reads the id off ceo's branch name and opens its own record under that id; once
    # ceo's decision is approved and recorded, withdrawing the copy must not overwrite it.
    decision, first = propose(local_forge, org, clock, proposer="ceo", tier=Tier.MAJOR)
    cmo = who(org, "cmo")
    copy = Decision(id=decision.id, title="Mine", proposed_by="cmo", tier=Tier.MAJOR)
    second = open_by_hand(
        local_forge, cmo, {f"org/decisions/{decision.id}.yaml": record_yaml(copy)}, branch="copy"
    )
    vote(local_forge, org, first.number, dao="approve")
    clock.advance(hours=25)  # ceo cannot vote on its own: round 2, then 3
    vote(local_forge, org, first.number, cmo="comment", cto="comment", cfo="comment")
    vote(local_forge, org, first.number, coo="comment", cco="comment")
    clock.advance(minutes=1)
    applying.tally(local_forge, first.number, now=clock())
    vote(local_forge, org, first.number, dao="approve", cmo="approve", cto="approve")
    vote(local_forge, org, first.number, cfo="approve")
    assert applying.tally(local_forge, first.number, now=clock()).verdict.status.value == (
        "approved"
    )
    path = f"org/decisions/{decision.id}.yaml"
    recorded = local_forge.read_tree("main", prefixes=[path])[path]
    local_forge.close(second.number, actor=cmo)
    with pytest.raises(GovernanceError, match="already recorded"):
        applying.tally(local_forge, second.number, now=clock())
    assert local_forge.read_tree("main", prefixes=[path])[path] == recorded


@pytest.mark.parametrize(
    "impostor",
    [
        Identity("shiba-maintainer", 666),  # a maintainer's login, another account
        Identity("shiba-governance[bot]", 190000000),  # the governance bot itself
        Identity("shiba-cto[bot]", 190000004),  # an agent's bot
    ],
    ids=["maintainer-login", "governance-bot", "agent-bot"],
)
def test_only_a_maintainers_own_account_approves_as_a_maintainer(
    local_forge: LocalForge, org: loading.Organization, clock: Clock, impostor: Identity
) -> None:
    _, pull = propose(local_forge, org, clock, tier=Tier.CRITICAL)
    vote(local_forge, org, pull.number, ceo="approve", dao="approve")
    local_forge.post_review(
        pull.number, author=impostor, state=ReviewState.APPROVED, body="", commit_id=pull.head_sha
    )
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.stage.value == "maintainer" and result.verdict.human_decision is None
    assert local_forge.pull(pull.number).state is PullState.OPEN


def test_a_record_yaml_cannot_build_stops_no_other_tally(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    _, honest = propose(local_forge, org, clock)
    record = b"id: bad\ntitle: !!int abc\nproposed_by: cmo\ntier: minor\n"
    bad = open_by_hand(
        local_forge, who(org, "cmo"), {"org/decisions/bad.yaml": record}, branch="aito/decision/bad"
    )
    sweep = sweeping.tally_open(local_forge, now=clock())
    assert [t.verdict.pr for t in sweep.tallies] == [honest.number]
    with pytest.raises(GovernanceError, match=r"yaml:2: ") as caught:
        applying.tally(local_forge, bad.number, now=clock())
    assert len(str(caught.value)) < 400


def test_a_file_name_that_is_not_utf8_is_critical_and_stops_no_sweep(
    local_forge: LocalForge, governance_repo: Path, org: loading.Organization, clock: Clock
) -> None:
    _, pull = propose(local_forge, org, clock, tier=Tier.MINOR)
    with tempfile.TemporaryDirectory() as scratch:  # git takes any bytes as a name
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        env |= {"GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@x"}
        env |= {"GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@x"}

        def run(*args: str | bytes, stdin: bytes | None = None) -> bytes:
            command = ["git", "-C", str(governance_repo), *args]
            done = subprocess.run(command, input=stdin, env=env, check=True, capture_output=True)
            return done.stdout.strip()

        parent = run("rev-parse", f"refs/heads/{pull.head_ref}")
        run("read-tree", parent)
        blob = run("hash-object", "-w", "--stdin", stdin=b"x\n")
        run("update-index", "--add", "--cacheinfo", b"100644," + blob + b",content/\xff\xfe.md")
        commit = run("commit-tree", run("write-tree"), "-p", parent, "-m", "bytes")
        run("update-ref", f"refs/heads/{pull.head_ref}", commit)
    sweep = sweeping.tally_open(local_forge, now=clock(), apply=False)
    [result] = sweep.tallies
    assert result.verdict.tier is Tier.CRITICAL and any("not UTF-8" in p for p in result.problems)


def test_a_proposer_merging_its_own_proposal_is_no_approval(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    # Where the base branch is unprotected a proposer's bot can merge through the forge;
    # the tally must not then record and announce the decision as approved.
    decision, pull = propose(local_forge, org, clock)
    local_forge.merge(pull.number, sha=pull.head_sha, actor=who(org, "cmo"), message="mine")
    result = applying.tally(local_forge, pull.number, now=clock())
    assert result.verdict.status.value == "escalated" and result.verdict.human_decision is None
    path = f"org/decisions/{decision.id}.yaml"
    recorded = yaml.safe_load(local_forge.read_tree("main", prefixes=[path])[path])
    # Recorded as what it is: a violation, escalated to the maintainers, never "approved".
    assert recorded["status"] == "escalated" and "human_decision" not in recorded
    assert "cmo's bot merged it" in recorded["violation"]
