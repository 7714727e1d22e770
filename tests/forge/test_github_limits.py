"""GitHub's limits through PyGithub and GitHubForge on the fake GitHub: writes paced under
the secondary limits, rate-limit replies waited out as GitHub asks, and no duplicate
comment, review, issue, pull request or branch when a reply is lost after GitHub acted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.fake_github import FakeGitHub, make_github_forge, start_fake_github
from support.fake_github_limits import (
    SECONDARY_MESSAGE,
    drop_reply_next,
    enforce_content_limits,
    primary_limit_next,
    secondary_limit_next,
)

from aito import errors
from aito.forge import github_markers, github_pacing
from aito.forge.base import Identity, PullState, ReviewState
from aito.forge.github import GitHubForge

REPO = "acme/governance"
GOVERNANCE = Identity("aito-governance", 9000)
CEO, DAO = Identity("ceo-bot", 9101), Identity("dao-bot", 9102)
AGENTS = {"ceo": (CEO.login, CEO.id), "dao": (DAO.login, DAO.id)}
COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
REVIEWS = "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"
START = 1_800_000_000.0


class FakeTime:
    """A clock (epoch seconds) that only ``sleep`` moves; the sleeps are kept."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={"ghp_mallory": ("mallory", 6666)})
    fake.create_repo(REPO, files={"org/org.yaml": "name: acme\n"})
    yield fake
    fake.stop()


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


def forge_on(server: FakeGitHub, time_: FakeTime, **options: object) -> GitHubForge:
    return make_github_forge(
        server,
        repo=REPO,
        governance=(GOVERNANCE.login, GOVERNANCE.id),
        agents=AGENTS,
        backoff=0.5,
        sleep=time_.sleep,
        clock=time_.clock,
        **({"pacing": github_pacing.GITHUB_LIMITS} | options),
    )


@pytest.fixture
def forge(server: FakeGitHub, time_: FakeTime) -> Iterator[GitHubForge]:
    with forge_on(server, time_) as forge:
        yield forge


def propose(forge: GitHubForge, name: str = "budget") -> tuple[int, str]:
    sha = forge.commit_files(
        branch=f"ceo/{name}",
        base="main",
        files={f"org/decisions/{name}.yaml": f"id: {name}\n".encode()},
        message=name,
        author=CEO,
    )
    pull = forge.open_pull(head=f"ceo/{name}", base="main", title=name, body="Why.", author=CEO)
    return pull.number, sha


def most_in_any_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered if start <= t < start + window) for start in ordered), default=0
    )


# -- pacing ---------------------------------------------------------------------------------


def test_the_figures_are_githubs_documented_secondary_limits() -> None:
    assert (github_pacing.CONTENT_PER_MINUTE, github_pacing.CONTENT_PER_HOUR) == (80, 500)


def test_the_pacer_never_lets_more_than_80_a_minute_nor_500_an_hour_through() -> None:
    time_ = FakeTime()
    pacer = github_pacing.Pacer(clock=time_.clock, sleep=time_.sleep)
    sent = []
    for _ in range(1200):
        pacer.admit("write")
        sent.append(time_.now)
    assert most_in_any_window(sent, 60) == 80
    assert most_in_any_window(sent, 3600) == 500
    # it waits only as long as needed: each hour 500 go in bursts of 80 a minute, so
    # writes 1001-1200 go at 2 h, 2 h 1 min and 2 h 2 min
    assert sent[-1] - sent[0] == 2 * 3600 + 2 * 60


def test_writes_under_the_limits_are_not_held_back() -> None:
    time_ = FakeTime()
    pacer = github_pacing.Pacer(clock=time_.clock, sleep=time_.sleep)
    for _ in range(80):
        pacer.admit("write")
    assert time_.sleeps == []


def test_a_pacing_wait_longer_than_max_wait_is_raised_with_its_retry_after() -> None:
    time_ = FakeTime()
    limits = github_pacing.Limits(per_minute=80, per_hour=3)
    pacer = github_pacing.Pacer(limits=limits, clock=time_.clock, sleep=time_.sleep, max_wait=120)
    for _ in range(3):
        pacer.admit("write")
    with pytest.raises(errors.TemporaryAdapterError) as raised:
        pacer.admit("comment on #1")
    assert raised.value.retry_after == pytest.approx(3600)
    assert time_.sleeps == []


def test_the_forge_paces_each_tokens_writes_and_not_its_reads(
    server: FakeGitHub, time_: FakeTime
) -> None:
    limits = github_pacing.Limits(per_minute=4, per_hour=10)
    with forge_on(server, time_, pacing=limits, max_wait=3600.0) as forge:
        number, _ = propose(forge)  # the ceo token: blob, tree, commit, ref, pull = 5 writes
        posted_at = []
        for index in range(12):
            forge.post_comment(number, author=DAO, body=f"note {index}")
            posted_at.append(time_.now)
        for _ in range(20):
            forge.comments(number)  # reads are not paced
    assert most_in_any_window(posted_at, 60) <= 4
    assert most_in_any_window(posted_at, 3600) <= 10
    assert len(posted_at) == 12  # the dao's writes waited, none was lost
    bodies = [c.body for c in forge.comments(number)]
    assert bodies == [f"note {index}" for index in range(12)]


def test_paced_writes_are_never_refused_by_a_github_that_enforces_the_limits(
    server: FakeGitHub, time_: FakeTime
) -> None:
    counted = enforce_content_limits(server, per_minute=80, per_hour=500, clock=time_.clock)
    with forge_on(server, time_, max_wait=3600.0) as forge:
        number, _ = propose(forge)
        for index in range(200):
            forge.post_comment(number, author=DAO, body=f"note {index}")
    assert counted.refused == 0
    assert most_in_any_window(counted.accepted["token ghp_dao_9102"], 60) == 80
    assert len(forge.comments(number)) == 200


def test_unpaced_writes_are_refused_then_retried_after_and_land_once(
    server: FakeGitHub, time_: FakeTime
) -> None:
    """Without pacing GitHub refuses the 81st write in a minute; its retry-after is honoured
    and every comment still lands exactly once."""
    counted = enforce_content_limits(server, per_minute=80, per_hour=500, clock=time_.clock)
    unpaced = github_pacing.Limits(per_minute=10_000, per_hour=10_000)
    with forge_on(server, time_, pacing=unpaced) as forge:
        number, _ = propose(forge)
        for index in range(100):
            forge.post_comment(number, author=DAO, body=f"note {index}")
    assert counted.refused >= 1
    bodies = [c.body for c in forge.comments(number)]
    assert bodies == [f"note {index}" for index in range(100)]


# -- rate-limit replies ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
def test_a_secondary_limit_is_waited_out_for_its_retry_after(
    server: FakeGitHub, forge: GitHubForge, time_: FakeTime, status: int
) -> None:
    number, _ = propose(forge)
    secondary_limit_next(server, status=status, retry_after=17, method="POST", path=COMMENTS)
    comment = forge.post_comment(number, author=DAO, body="ok")
    assert 17.0 in time_.sleeps
    assert [c.id for c in forge.comments(number)] == [comment.id]


def test_a_secondary_limit_without_retry_after_waits_at_least_a_minute(
    server: FakeGitHub, forge: GitHubForge, time_: FakeTime
) -> None:
    number, _ = propose(forge)
    secondary_limit_next(server, retry_after=None, method="POST", path=COMMENTS)
    forge.post_comment(number, author=DAO, body="ok")
    assert time_.sleeps and time_.sleeps[-1] >= 60


def test_a_spent_primary_limit_waits_until_its_reset_by_the_forges_clock(
    server: FakeGitHub, forge: GitHubForge, time_: FakeTime
) -> None:
    number, _ = propose(forge)
    primary_limit_next(server, reset_at=int(time_.now) + 42, method="POST", path=COMMENTS)
    forge.post_comment(number, author=DAO, body="ok")
    assert time_.sleeps[-1] == pytest.approx(42, abs=1)


@pytest.mark.parametrize("status", [403, 429])
def test_a_limit_longer_than_max_wait_is_raised_at_once_with_its_retry_after(
    server: FakeGitHub, forge: GitHubForge, time_: FakeTime, status: int
) -> None:
    number, _ = propose(forge)
    secondary_limit_next(server, status=status, retry_after=900, method="POST", path=COMMENTS)
    with pytest.raises(errors.TemporaryAdapterError) as raised:
        forge.post_comment(number, author=DAO, body="ok")
    assert raised.value.retry_after == 900
    assert "secondary rate limit" in str(raised.value)
    assert time_.sleeps == []
    assert forge.comments(number) == []


def test_the_fake_answers_githubs_secondary_limit_message(server: FakeGitHub) -> None:
    assert SECONDARY_MESSAGE.startswith("You have exceeded a secondary rate limit")


# -- lost replies --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reset", "502"])
def test_a_comment_whose_reply_was_lost_is_found_not_posted_again(
    server: FakeGitHub, forge: GitHubForge, mode: str
) -> None:
    number, _ = propose(forge)
    drop_reply_next(server, method="POST", path=COMMENTS, mode=mode)
    comment = forge.post_comment(number, author=DAO, body="I agree.")
    listed = forge.comments(number)
    assert [c.id for c in listed] == [comment.id]
    assert comment.body == listed[0].body == "I agree."  # the marker is not handed back
    assert comment.user == DAO


@pytest.mark.parametrize("mode", ["reset", "502"])
def test_a_review_whose_reply_was_lost_is_found_not_posted_again(
    server: FakeGitHub, forge: GitHubForge, mode: str
) -> None:
    number, sha = propose(forge)
    drop_reply_next(server, method="POST", path=REVIEWS, mode=mode)
    review = forge.post_review(
        number, author=DAO, state=ReviewState.APPROVED, body="", commit_id=sha
    )
    listed = forge.reviews(number)
    assert [r.id for r in listed] == [review.id]
    assert (listed[0].user, listed[0].state, listed[0].body) == (DAO, ReviewState.APPROVED, "")


@pytest.mark.parametrize("mode", ["reset", "502"])
def test_an_issue_whose_reply_was_lost_is_found_not_opened_again(
    server: FakeGitHub, forge: GitHubForge, mode: str
) -> None:
    drop_reply_next(server, method="POST", path="/repos/{owner}/{repo}/issues", mode=mode)
    issue = forge.open_issue(title="Budget", body="Please look.", labels=["alert"], author=CEO)
    listed = forge.issues(state=None)
    assert [i.number for i in listed] == [issue.number]
    assert (listed[0].body, listed[0].author) == ("Please look.", CEO)


@pytest.mark.parametrize("mode", ["reset", "502"])
def test_a_pull_request_whose_reply_was_lost_is_found_not_opened_again(
    server: FakeGitHub, forge: GitHubForge, mode: str
) -> None:
    forge.commit_files(
        branch="ceo/plan", base="main", files={"plan.md": b"plan\n"}, message="p", author=CEO
    )
    drop_reply_next(server, method="POST", path="/repos/{owner}/{repo}/pulls", mode=mode)
    pull = forge.open_pull(head="ceo/plan", base="main", title="Plan", body="Body.", author=CEO)
    listed = forge.pulls(state=None)
    assert [p.number for p in listed] == [pull.number]
    assert (listed[0].body, listed[0].author) == ("Body.", CEO)


@pytest.mark.parametrize(
    "path", ["/repos/{owner}/{repo}/git/refs", "/repos/{owner}/{repo}/git/commits"]
)
def test_a_commit_whose_reply_was_lost_lands_once(
    server: FakeGitHub, forge: GitHubForge, path: str
) -> None:
    drop_reply_next(server, method="POST", path=path)
    sha = forge.commit_files(
        branch="ceo/plan", base="main", files={"plan.md": b"plan\n"}, message="p", author=CEO
    )
    repo = server.repos[REPO]
    assert repo.refs["heads/ceo/plan"] == sha
    assert forge.read_tree("ceo/plan", prefixes=["plan.md"]) == {"plan.md": b"plan\n"}


def test_a_moved_branch_whose_reply_was_lost_is_taken_as_moved(
    server: FakeGitHub, forge: GitHubForge
) -> None:
    files = {"plan.md": b"one\n"}
    forge.commit_files(branch="ceo/plan", base="main", files=files, message="1", author=CEO)
    drop_reply_next(server, method="PATCH", path="/repos/{owner}/{repo}/git/refs/{ref}")
    sha = forge.commit_files(
        branch="ceo/plan", base="main", files={"plan.md": b"two\n"}, message="2", author=CEO
    )
    assert server.repos[REPO].refs["heads/ceo/plan"] == sha


def test_a_merge_whose_reply_was_lost_is_read_back_not_refused(
    server: FakeGitHub, forge: GitHubForge
) -> None:
    number, sha = propose(forge)
    drop_reply_next(server, method="PUT", path="/repos/{owner}/{repo}/pulls/{pull_number}/merge")
    merged = forge.merge(number, sha=sha, actor=GOVERNANCE, message="merge")
    pull = forge.pull(number)
    assert pull.state is PullState.MERGED
    assert pull.merge_sha == merged


def test_a_lost_reply_where_github_did_not_act_is_posted_once(
    server: FakeGitHub, forge: GitHubForge
) -> None:
    number, _ = propose(forge)
    server.fail_next(status=502, method="POST", path=COMMENTS)  # refused before acting
    forge.post_comment(number, author=DAO, body="once")
    assert [c.body for c in forge.comments(number)] == ["once"]


def test_only_the_acting_accounts_own_items_count_as_found() -> None:
    """A marker copied into someone else's comment never stands for ours."""
    key = github_markers.new_key("comment", REPO, 1, DAO.id, "x")
    assert github_markers.carries(github_markers.marked("x", key), key)
    other = github_markers.new_key("comment", REPO, 1, DAO.id, "x")
    assert other != key  # a fresh nonce per call: no earlier identical comment matches
    assert not github_markers.carries(github_markers.marked("x", other), key)


def test_a_copied_marker_in_another_accounts_comment_does_not_suppress_the_post(
    server: FakeGitHub, forge: GitHubForge
) -> None:
    """Mallory copies the body GitHub received (marker and all) into her own comment
    before the retry looks: the lost comment is still found as the dao's, and a comment
    GitHub never made is posted."""
    number, _ = propose(forge)
    original = server.handle

    def copy_then_refuse(method: str, raw_path: str, auth: str | None, body: bytes) -> tuple:
        if (
            method == "POST"
            and raw_path.endswith(f"/issues/{number}/comments")
            and auth != ("token ghp_mallory")
        ):
            server.handle = original  # type: ignore[method-assign]
            # Mallory posts the very body the dao sent; the dao's own request then fails
            # before GitHub acts on it.
            original(method, raw_path, "token ghp_mallory", body)
            return 502, {"message": "Server Error"}, {}, 0.0
        return original(method, raw_path, auth, body)

    server.handle = copy_then_refuse  # type: ignore[method-assign]
    posted = forge.post_comment(number, author=DAO, body="My vote.")
    listed = forge.comments(number)
    assert [c.user.login for c in listed] == ["mallory", DAO.login]
    assert posted.user == DAO
