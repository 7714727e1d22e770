"""GitHubForge through PyGithub against the local fake GitHub (real HTTP, real SDK)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from support.fake_github import FakeGitHub, make_github_forge, start_fake_github

from aito.errors import ConfigError, PermanentAdapterError, TemporaryAdapterError
from aito.forge.base import (
    CheckState,
    Identity,
    MergeConflict,
    Permission,
    PullState,
    ReviewState,
)
from aito.forge.github import GitHubForge

REPO = "acme/governance"
GOVERNANCE = Identity("aito-governance", 9000)
CEO, DAO, CTO = Identity("ceo-bot", 9101), Identity("dao-bot", 9102), Identity("cto-bot", 9103)
AGENTS = {"ceo": (CEO.login, CEO.id), "dao": (DAO.login, DAO.id), "cto": (CTO.login, CTO.id)}
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"


class Sleeps(list[float]):
    """A ``sleep`` that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={"ghp_maintainer": ("alice", 4242)})
    fake.create_repo(REPO, files={"org/org.yaml": "name: acme\n", "README.md": "# acme\n"})
    yield fake
    fake.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def forge(server: FakeGitHub, sleeps: Sleeps) -> Iterator[GitHubForge]:
    with make_github_forge(
        server,
        repo=REPO,
        governance=(GOVERNANCE.login, GOVERNANCE.id),
        agents=AGENTS,
        backoff=0.5,
        sleep=sleeps,
    ) as forge:
        yield forge


def propose(forge: GitHubForge, author: Identity, name: str) -> tuple[int, str]:
    sha = forge.commit_files(
        branch=f"{author.login}/{name}",
        base="main",
        files={f"org/decisions/{name}.yaml": f"id: {name}\n".encode()},
        message=f"Propose {name}",
        author=author,
    )
    pull = forge.open_pull(
        head=f"{author.login}/{name}", base="main", title=name, body="", author=author
    )
    return pull.number, sha


def test_pull_requests_from_two_bots_carry_their_numeric_ids(forge: GitHubForge) -> None:
    ceo_pr, ceo_sha = propose(forge, CEO, "budget")
    cto_pr, cto_sha = propose(forge, CTO, "stack")

    assert forge.pull(ceo_pr).author == CEO
    assert forge.pull(cto_pr).author == CTO
    assert [c.author for c in forge.commits(ceo_pr)] == [CEO]
    [commit] = forge.commits(cto_pr)
    assert (commit.sha, commit.author) == (cto_sha, CTO)
    assert commit.pushed_at.tzinfo is not None and len(commit.tree_sha) == 40
    assert forge.changed_files(ceo_pr) == ["org/decisions/budget.yaml"]
    assert [p.number for p in forge.pulls()] == [ceo_pr, cto_pr]
    assert forge.read_tree(ceo_sha, prefixes=["org/decisions/"]) == {
        "org/decisions/budget.yaml": b"id: budget\n"
    }


def test_commit_files_puts_several_files_in_one_commit_and_is_idempotent(
    forge: GitHubForge,
) -> None:
    files: dict[str, bytes | None] = {"org/a.yaml": b"a\n", "org/b/c.yaml": b"\x00\xffbin"}
    first = forge.commit_files(branch="w", base="main", files=files, message="m", author=CEO)
    again = forge.commit_files(branch="w", base="main", files=files, message="m", author=CEO)
    assert again == first
    dropped = forge.commit_files(
        branch="w", base="main", files={"org/a.yaml": None}, message="rm", author=CEO
    )
    assert forge.read_tree("w", prefixes=["org"]) == {
        "org/b/c.yaml": b"\x00\xffbin",
        "org/org.yaml": b"name: acme\n",
    }
    assert forge.read_tree(first, prefixes=["org/a.yaml"]) == {"org/a.yaml": b"a\n"}
    assert dropped != first


def test_open_pull_twice_returns_the_open_one(forge: GitHubForge) -> None:
    number, _ = propose(forge, CEO, "hire")
    again = forge.open_pull(head=f"{CEO.login}/hire", base="main", title="x", body="", author=CEO)
    assert again.number == number


def test_reviews_are_by_numeric_id_and_keep_their_commit(forge: GitHubForge) -> None:
    number, first = propose(forge, CEO, "veto")
    forge.post_review(
        number, author=DAO, state=ReviewState.CHANGES_REQUESTED, body="no", commit_id=first
    )
    second = forge.commit_files(
        branch=f"{CEO.login}/veto",
        base="main",
        files={"org/decisions/veto.yaml": b"id: veto\nv: 2\n"},
        message="Address the veto",
        author=CEO,
    )
    posted = forge.post_review(
        number, author=DAO, state=ReviewState.APPROVED, body="ok now", commit_id=second
    )

    reviews = forge.reviews(number)
    assert [(r.user, r.state, r.commit_id) for r in reviews] == [
        (DAO, ReviewState.CHANGES_REQUESTED, first),
        (DAO, ReviewState.APPROVED, second),
    ]
    assert reviews[-1] == posted and isinstance(posted.id, int)
    assert forge.pull(number).head_sha == second
    with pytest.raises(PermanentAdapterError, match="own pull request"):
        forge.post_review(number, author=CEO, state=ReviewState.APPROVED, body="", commit_id=second)


def test_pagination_reads_more_than_a_hundred_reviews_and_comments(
    server: FakeGitHub, forge: GitHubForge
) -> None:
    number, sha = propose(forge, CEO, "busy")
    for i in range(105):
        forge.post_review(
            number, author=(DAO, CTO)[i % 2], state=ReviewState.COMMENTED, body=f"r{i}",
            commit_id=sha,
        )  # fmt: skip
        forge.post_comment(number, author=GOVERNANCE, body=f"c{i}")
    server.reset_counts()

    assert [r.body for r in forge.reviews(number)] == [f"r{i}" for i in range(105)]
    assert [c.body for c in forge.comments(number)] == [f"c{i}" for i in range(105)]
    assert server.calls["GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"] == 2
    assert server.calls["GET /repos/{owner}/{repo}/issues/{issue_number}/comments"] == 2


def test_server_errors_are_retried_with_backoff(
    server: FakeGitHub, forge: GitHubForge, sleeps: Sleeps
) -> None:
    number, _ = propose(forge, CEO, "flaky")
    server.reset_counts()
    server.fail_next(status=502, times=2, path=PULL)

    assert forge.pull(number).number == number
    assert server.calls[f"GET {PULL}"] == 3
    assert sleeps == [0.5, 1.0]


def test_retries_run_out_as_a_temporary_error(
    server: FakeGitHub, forge: GitHubForge, sleeps: Sleeps
) -> None:
    number, _ = propose(forge, CEO, "down")
    server.reset_counts()
    server.fail_next(status=503, times=10, path=PULL)

    with pytest.raises(TemporaryAdapterError) as caught:
        forge.pull(number)
    assert caught.value.service == "github" and caught.value.retry_after == 8.0
    assert server.calls[f"GET {PULL}"] == 5  # retries=4
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_secondary_rate_limit_waits_for_retry_after(
    server: FakeGitHub, forge: GitHubForge, sleeps: Sleeps
) -> None:
    number, _ = propose(forge, CEO, "busy")
    server.rate_limit_next(retry_after=7, path=PULL)

    assert forge.requested_reviewers(number) == []
    assert sleeps == [7.0]


def test_a_rate_limit_longer_than_max_wait_is_raised_at_once(
    server: FakeGitHub, forge: GitHubForge, sleeps: Sleeps
) -> None:
    server.rate_limit_next(retry_after=3600, secondary=False, path="/repos/{owner}/{repo}")

    with pytest.raises(TemporaryAdapterError, match="rate limit") as caught:
        _ = forge.default_branch
    assert caught.value.retry_after > 3000
    assert sleeps == []


def test_timeouts_are_retried(server: FakeGitHub) -> None:
    sleeps = Sleeps()
    with make_github_forge(
        server, repo=REPO, governance=("gov", 1), agents={}, timeout=1, sleep=sleeps
    ) as forge:
        server.fail_next(status=None, delay=1.5, path="/repos/{owner}/{repo}")
        assert forge.default_branch == "main"
    assert server.calls["GET /repos/{owner}/{repo}"] == 2
    assert len(sleeps) == 1


def test_not_found_is_permanent_and_says_what_to_check(
    server: FakeGitHub, forge: GitHubForge
) -> None:
    with pytest.raises(PermanentAdapterError) as caught:
        forge.pull(404)
    assert "#404" in str(caught.value) and REPO in str(caught.value)
    lost = make_github_forge(server, repo="acme/missing", governance=("gov", 1), agents={})
    with lost, pytest.raises(PermanentAdapterError, match=r"acme/missing.*404.*exists"):
        _ = lost.default_branch
    assert server.calls[f"GET {PULL}"] == 1  # not retried


def test_a_bad_token_is_permanent_and_names_the_token(server: FakeGitHub) -> None:
    forge = GitHubForge(
        repo=REPO, api_url=server.url, token=SecretStr("ghp_revoked"), agent_tokens={}
    )
    with forge, pytest.raises(PermanentAdapterError, match="governance token was") as caught:
        forge.pull(1)
    assert "ghp_revoked" not in str(caught.value)
    assert server.calls[f"GET {PULL}"] == 1


def test_an_agent_without_a_token_of_its_own_is_refused_and_nothing_is_written(
    server: FakeGitHub, forge: GitHubForge
) -> None:
    stranger = Identity("unknown-bot", 555)
    with pytest.raises(ConfigError, match="unknown-bot has no GitHub token of its own"):
        forge.commit_files(
            branch="s", base="main", files={"x.md": b"x\n"}, message="x", author=stranger
        )
    with pytest.raises(ConfigError, match="unknown-bot"):
        forge.open_pull(head="main", base="main", title="x", body="", author=stranger)
    repo = server.repos["acme/governance"]
    assert "heads/s" not in repo.refs and not repo.pulls


def test_merge_with_a_stale_sha_is_a_conflict(forge: GitHubForge) -> None:
    number, first = propose(forge, CEO, "race")
    second = forge.commit_files(
        branch=f"{CEO.login}/race",
        base="main",
        files={"org/decisions/race.yaml": b"id: race\nv: 2\n"},
        message="push",
        author=CEO,
    )
    with pytest.raises(MergeConflict, match="Head branch was modified"):
        forge.merge(number, sha=first, actor=GOVERNANCE, message="approved")

    merge_sha = forge.merge(number, sha=second, actor=GOVERNANCE, message="approved")
    pull = forge.pull(number)
    assert (pull.state, pull.merged_by, pull.merge_sha) == (
        PullState.MERGED,
        GOVERNANCE,
        merge_sha,
    )
    assert forge.read_tree("main", prefixes=["org/decisions"]) == {
        "org/decisions/race.yaml": b"id: race\nv: 2\n"
    }
    assert forge.pulls() == [] and forge.pulls(state=PullState.MERGED) == [pull]


def test_close_records_who_closed(forge: GitHubForge) -> None:
    number, _ = propose(forge, CEO, "drop")
    forge.close(number, actor=GOVERNANCE)
    pull = forge.pull(number)
    assert (pull.state, pull.closed_by, pull.merged_by) == (PullState.CLOSED, GOVERNANCE, None)
    assert forge.pulls(state=PullState.CLOSED) == [pull]


def test_labels_statuses_comments_and_review_requests(forge: GitHubForge) -> None:
    number, sha = propose(forge, CEO, "misc")
    forge.set_labels(number, add=["decision", "round-1"], remove=[])
    forge.set_labels(number, add=["round-2"], remove=["round-1", "never-there"])
    assert forge.pull(number).labels == {"decision", "round-2"}

    forge.set_status(sha=sha, context="aito/tally", state=CheckState.PENDING, description="r1")
    forge.set_status(sha=sha, context="aito/tally", state=CheckState.SUCCESS, description="ok")
    forge.set_status(sha=sha, context="aito/lint", state=CheckState.FAILURE, description="bad")
    assert [(s.context, s.state, s.description) for s in forge.statuses(sha)] == [
        ("aito/lint", CheckState.FAILURE, "bad"),
        ("aito/tally", CheckState.SUCCESS, "ok"),
    ]

    comment = forge.post_comment(number, author=GOVERNANCE, body="tally: round 1")
    edited = forge.edit_comment(number, comment_id=comment.id, body="tally: round 2")
    assert (edited.id, edited.user, edited.body) == (comment.id, GOVERNANCE, "tally: round 2")
    assert forge.comments(number) == [edited]

    forge.request_reviewers(number, logins=[DAO.login, "alice"])
    assert forge.requested_reviewers(number) == [DAO.login, "alice"]


def test_permission_of_maintainers_and_strangers(server: FakeGitHub, forge: GitHubForge) -> None:
    server.set_permission("alice", "admin")
    server.set_permission(CTO.login, "maintain")
    assert forge.permission(Identity("alice", 4242)) is Permission.ADMIN
    assert forge.permission(CTO) is Permission.MAINTAIN
    assert forge.permission(DAO) is Permission.NONE  # a user without access
    assert forge.permission(Identity("no-such-user", 1)) is Permission.NONE  # 404


def test_tokens_never_reach_the_log_or_errors(
    server: FakeGitHub, forge: GitHubForge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub pins its logger to INFO
    number, sha = propose(forge, CEO, "secret")
    forge.post_review(number, author=DAO, state=ReviewState.APPROVED, body="", commit_id=sha)
    with pytest.raises(PermanentAdapterError) as caught:
        forge.pull(999)
    assert "token (oauth token removed)" in caplog.text  # PyGithub logged the header …
    for token in server.users_by_token:
        assert token not in caplog.text and token not in str(caught.value)  # … masked
