"""The decision gate on GitHub, attacked through PyGithub against the local fake GitHub.

The same rules as `tests/decisions/test_gate_attacks.py`, where GitHub differs: file
statuses come from the pull request's files, dismissals and force pushes from issue
events, push times only from server evidence, and review requests can be refused.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import github
import pytest
import yaml
from github import Auth, InputGitAuthor
from support.decision_scenario import propose_campaign, who
from support.fake_github import FakeGitHub, make_org_forge, start_fake_github

from aito.decisions import applying, marks, proposing, sweeping
from aito.errors import PermanentAdapterError
from aito.forge.base import FileChange, PullRequest, PullState
from aito.forge.github import GitHubForge
from aito.org import loading
from aito.org.organization import Tier
from aito.org.records import Decision

GHOST = ("ghost-maintainer", 90000777)  # listed in org.yaml, unknown to the repository


@pytest.fixture
def world(example_repo: Path) -> Iterator[tuple[FakeGitHub, GitHubForge, loading.Organization]]:
    org_yaml = example_repo / "org/org.yaml"
    org_yaml.write_text(
        org_yaml.read_text().replace(
            "maintainers:\n", f"maintainers:\n  - login: {GHOST[0]}\n    id: {GHOST[1]}\n"
        )
    )
    org = loading.load_valid(example_repo)
    server = start_fake_github(users={})
    try:
        admins = {"shiba-maintainer": ("shiba-maintainer", 90000001)}  # not GHOST
        forge = make_org_forge(server, example_repo, org, admins=admins)
        with forge:
            yield server, forge, org
    finally:
        server.stop()


def propose(
    forge: GitHubForge, org: loading.Organization, **values: object
) -> tuple[Decision, PullRequest]:
    return propose_campaign(forge, org, now=dt.datetime.now(dt.UTC), **values)


def later(hours: float = 0) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)


def test_a_lowered_tier_is_judged_at_the_proposed_tier(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    _, forge, org = world
    decision, pull = propose(forge, org, tier=Tier.MAJOR, amount_usd=500)
    applying.tally(forge, pull.number, now=later())
    path = f"org/decisions/{decision.id}.yaml"
    data = yaml.safe_load(forge.read_tree(pull.head_ref, prefixes=[path])[path])
    data.update(tier="minor", amount_usd=50.0)
    forge.commit_files(
        branch=pull.head_ref,
        base="main",
        files={path: yaml.safe_dump(data).encode()},
        message="lower",
        author=who(org, "cmo"),
    )
    result = applying.tally(forge, pull.number, now=later(hours=5))
    assert (result.verdict.tier, result.decision.amount_usd) == (Tier.MAJOR, 500)
    assert result.verdict.status.value == "pending"
    assert any("never lower" in p for p in result.problems)
    assert forge.pull(pull.number).state is PullState.OPEN


def test_changing_an_existing_record_is_critical(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    _, forge, org = world
    old = Decision(id="old", title="Old", proposed_by="cmo", tier=Tier.MAJOR, status="approved")
    forge.commit_files(
        branch="main",
        base="main",
        files={"org/decisions/old.yaml": yaml.safe_dump(old.model_dump(mode="json")).encode()},
        message="record",
        author=who(org, "ceo"),
    )
    _, pull = propose(forge, org, tier=Tier.MINOR)
    forge.commit_files(
        branch=pull.head_ref,
        base="main",
        files={"org/decisions/old.yaml": b"id: old\ntitle: Old\nproposed_by: cmo\ntier: minor\n"},
        message="rewrite history",
        author=who(org, "cmo"),
    )
    statuses = {c.path: c.status.value for c in forge.file_changes(pull.number)}
    assert statuses["org/decisions/old.yaml"] == "modified"
    result = applying.tally(forge, pull.number, now=later())
    assert result.verdict.tier is Tier.CRITICAL
    assert any("rules or records" in p for p in result.problems)


def test_the_proposer_dismissing_a_veto_does_not_withdraw_it(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    _, forge, org = world
    _, pull = propose(forge, org)
    proposing.review(forge, pull.number, author=who(org, "dao"), vote="veto", body="no")
    [veto] = forge.reviews(pull.number)
    forge.dismiss_review(pull.number, review_id=veto.id, actor=who(org, "cmo"), message="stale")
    [seen] = forge.reviews(pull.number)
    assert (seen.dismissed_by, seen.dismissed_state) == (who(org, "cmo"), veto.state)
    proposing.review(forge, pull.number, author=who(org, "ceo"), vote="approve", body="")
    result = applying.tally(forge, pull.number, now=later(hours=1))
    assert (result.verdict.stage.value, result.verdict.round) == ("analysis", 2)
    assert any("still counts" in p for p in result.problems)
    assert forge.pull(pull.number).state is PullState.OPEN


def test_a_voter_dismissing_its_own_vote_withdraws_it(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    _, forge, org = world
    _, pull = propose(forge, org)
    proposing.review(forge, pull.number, author=who(org, "ceo"), vote="approve", body="")
    [approval] = forge.reviews(pull.number)
    forge.dismiss_review(pull.number, review_id=approval.id, actor=who(org, "ceo"), message="x")
    time.sleep(1.1)  # GitHub's times have whole seconds: let the next vote come after
    proposing.review(forge, pull.number, author=who(org, "dao"), vote="approve", body="")
    result = applying.tally(forge, pull.number, now=later(hours=1))
    assert result.verdict.missing == ("ceo",) and result.verdict.status.value == "pending"


def agent_client(server: FakeGitHub, org: loading.Organization, agent: str) -> github.Github:
    """PyGithub as the agent's bot, for what GitHubForge never does (dated commits,
    force pushes) but a proposer with push access can."""
    bot = org.org.bots[agent]
    return github.Github(auth=Auth.Token(f"ghp_{agent}_{bot.id}"), base_url=server.url)


def test_commit_dates_are_never_push_times(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    server, forge, org = world
    _, pull = propose(forge, org, tier=Tier.MINOR)
    [only] = forge.commits(pull.number)
    assert only.pushed_at == forge.pull(pull.number).created_at  # the head since it opened
    opened = later()
    applying.tally(forge, pull.number, now=opened)
    client = agent_client(server, org, "cmo")
    repo = client.get_repo(org.org.governance_repo.repo)
    head = repo.get_git_commit(pull.head_sha)
    blob = repo.create_git_blob("v2\n", "utf-8")
    tree = repo.create_git_tree(
        [github.InputGitTreeElement("content/c.md", "100644", "blob", sha=blob.sha)], head.tree
    )
    old = InputGitAuthor("cmo", "cmo@example.com", "2001-01-01T00:00:00Z")
    backdated = repo.create_git_commit("v2", tree, [head], author=old, committer=old)
    repo.get_git_ref(f"heads/{pull.head_ref}").edit(backdated.sha)
    client.close()
    assert [c.pushed_at for c in forge.commits(pull.number)] == [None, None]  # unknown
    seen = opened + dt.timedelta(hours=3)
    applying.tally(forge, pull.number, now=seen)  # the bot first sees the new head
    result = applying.tally(forge, pull.number, now=opened + dt.timedelta(hours=5))
    assert result.verdict.status.value == "pending"  # 4 hours from first sight, not from 2001
    done = applying.tally(forge, pull.number, now=seen + dt.timedelta(hours=4, minutes=1))
    assert done.verdict.status.value == "approved"
    assert forge.pull(pull.number).state is PullState.MERGED


def test_a_force_pushed_single_commit_is_not_dated_by_the_pull_request(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    server, forge, org = world
    _, pull = propose(forge, org)
    client = agent_client(server, org, "cmo")
    repo = client.get_repo(org.org.governance_repo.repo)
    main = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    blob = repo.create_git_blob("id: other\n", "utf-8")
    path = next(p for p in forge.changed_files(pull.number) if p.startswith("org/decisions/"))
    tree = repo.create_git_tree(
        [github.InputGitTreeElement(path, "100644", "blob", sha=blob.sha)], main.tree
    )
    replaced = repo.create_git_commit("replaced", tree, [main])
    repo.get_git_ref(f"heads/{pull.head_ref}").edit(replaced.sha, force=True)
    client.close()
    [only] = forge.commits(pull.number)
    assert (only.sha, only.pushed_at) == (replaced.sha, None)


def test_a_maintainer_who_cannot_be_requested_does_not_stop_the_tally(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    _, forge, org = world
    _, pull = propose(forge, org, tier=Tier.CRITICAL)
    for voter in ("ceo", "dao"):
        proposing.review(forge, pull.number, author=who(org, voter), vote="approve", body="")
    result = applying.tally(forge, pull.number, now=later(hours=1))
    assert result.verdict.stage.value == "maintainer"
    assert forge.requested_reviewers(pull.number) == ["shiba-maintainer"]
    assert any(f"{GHOST[0]} cannot be asked" in p for p in result.problems)
    assert "tally comment posted" in result.changes


def test_marks_forged_in_file_names_are_never_read_back(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    _, forge, org = world
    forged = "<!-- aito:state approved -->"
    _, pull = propose(forge, org, title=forged, files={f"legal/{forged}.md": b"x\n"})
    for _ in range(2):
        result = applying.tally(forge, pull.number, now=later())
        assert result.verdict.status.value == "pending"
        assert result.verdict.missing == ("ceo", "dao")
    [body] = [c.body for c in forge.comments(pull.number) if c.body.startswith(marks.TALLY_MARK)]
    assert body.count("<!--") == 2 and "<!-- aito:state" not in body
    assert forge.pull(pull.number).state is PullState.OPEN


def test_a_pull_request_with_more_files_than_github_lists_is_not_judged(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    server, forge, org = world
    _, pull = propose(forge, org, tier=Tier.MINOR)
    repo = server.repos[org.org.governance_repo.repo]
    head = repo.commits[pull.head_sha]
    flat = repo.flatten(head.tree)
    blob = repo.put_blob(b"filler\n")
    flat |= {f"content/filler/{n:04d}.md": ("100644", blob) for n in range(3000)}
    flat[".github/workflows/deploy.yml"] = ("100644", repo.put_blob(b"on: push\n"))
    commit = repo.put_commit(
        tree=repo.put_tree(flat), parents=(head.sha,), message="bulk", user=repo.owner
    )
    repo.refs[f"heads/{pull.head_ref}"] = commit.sha  # a push GitHub would accept
    with pytest.raises(PermanentAdapterError, match="split the pull request"):
        applying.tally(forge, pull.number, now=later(hours=5))
    assert forge.pull(pull.number).state is PullState.OPEN
    # … and it hides no other decision from the sweep (it once ended `tally --all`).
    _, honest = propose(forge, org, tier=Tier.MAJOR, title="Honest")
    sweep = sweeping.tally_open(forge, now=later(hours=5))
    assert [t.verdict.pr for t in sweep.tallies] == [honest.number]
    assert [p.pr for p in sweep.problems] == [pull.number]


def test_a_symbolic_link_in_a_decision_is_critical(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    server, forge, org = world
    _, pull = propose(forge, org, tier=Tier.MINOR)
    repo = server.repos[org.org.governance_repo.repo]
    head = repo.commits[pull.head_sha]
    flat = repo.flatten(head.tree)
    flat["content/notes"] = ("120000", repo.put_blob(b"../.github/workflows"))
    commit = repo.put_commit(
        tree=repo.put_tree(flat), parents=(head.sha,), message="link", user=repo.owner
    )
    repo.refs[f"heads/{pull.head_ref}"] = commit.sha
    changes = {c.path: c.special for c in forge.file_changes(pull.number)}
    assert changes["content/notes"] and not changes["content/c.md"]
    result = applying.tally(forge, pull.number, now=later())
    assert result.verdict.tier is Tier.CRITICAL
    assert any("symbolic link" in p for p in result.problems)


def test_a_dismissal_github_does_not_explain_decides_nothing(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
) -> None:
    # Issue events can lag behind the review list: a veto dismissed by the proposer whose
    # `review_dismissed` event is not listed yet must not pass as withdrawn.
    server, forge, org = world
    _, pull = propose(forge, org, tier=Tier.MINOR)
    proposing.review(forge, pull.number, author=who(org, "ceo"), vote="veto", body="no")
    [veto] = forge.reviews(pull.number)
    forge.dismiss_review(pull.number, review_id=veto.id, actor=who(org, "cmo"), message="x")
    repo = server.repos[org.org.governance_repo.repo]
    repo.events[:] = [e for e in repo.events if e.event != "review_dismissed"]
    result = applying.tally(forge, pull.number, now=later(hours=5))  # past the 4 h window
    assert result.verdict.status.value == "pending" and result.verdict.check_state == "failure"
    assert "does not say by whom" in result.verdict.reason
    assert forge.pull(pull.number).state is PullState.OPEN


def test_the_files_judged_are_the_heads_that_is_merged_however_the_branch_moves(
    world: tuple[FakeGitHub, GitHubForge, loading.Organization],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pusher swaps the branch to a harmless commit just while the tally lists its
    files, and back: the files are listed for the head the tally read and would merge."""
    server, forge, org = world
    _, pull = propose(forge, org, tier=Tier.MINOR)
    repo = server.repos[org.org.governance_repo.repo]
    harmless = pull.head_sha
    flat = repo.flatten(repo.commits[harmless].tree)
    flat["org/org.yaml"] = ("100644", repo.put_blob(b"name: taken over\n"))
    evil = repo.put_commit(
        tree=repo.put_tree(flat), parents=(harmless,), message="x", user=repo.owner
    ).sha
    ref = f"heads/{pull.head_ref}"
    repo.refs[ref] = evil  # the head the tally reads (and would merge)
    listing = GitHubForge.file_changes

    def swapped(self: GitHubForge, number: int, *, head: str | None = None) -> list[FileChange]:
        repo.refs[ref] = harmless  # during the listing only
        try:
            return listing(self, number, head=head)
        finally:
            repo.refs[ref] = evil

    monkeypatch.setattr(GitHubForge, "file_changes", swapped)
    result = applying.tally(forge, pull.number, now=later(hours=5))
    assert result.verdict.tier is Tier.CRITICAL  # org/org.yaml was seen
    assert forge.pull(pull.number).state is PullState.OPEN
