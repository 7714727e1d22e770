"""Humans in the decision flow on GitHub (issue 11), through PyGithub against the fake
GitHub: a human member opens a decision pull request by hand (a record from
`aito decide new`), `aito decide tally N` runs as governance.yml runs it on open, push,
review and close, and maintainers merge or close by hand through the API. Who merged
comes from the pull's ``merged_by``, who closed from the issue's ``closed_by``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import github
import pytest
import yaml
from github import Auth
from support.decision_scenario import who
from support.fake_github import FakeGitHub, make_github_forge, start_fake_github
from support.humans import CAROL, DAVE, MAINTAINER, OUTSIDER, SECOND_MAINTAINER, with_people

from aito.decisions import alerting, applying, proposing
from aito.forge.base import Identity, PullRequest, PullState, ReviewState
from aito.forge.github import GitHubForge
from aito.org import loading
from aito.org.organization import Tier
from aito.org.records import Decision

World = tuple[FakeGitHub, GitHubForge, loading.Organization, Path]
ROLES = {
    "maintainer": (MAINTAINER, "admin"),
    "second": (SECOND_MAINTAINER, "admin"),
    "carol": (CAROL, "write"),
    "dave": (DAVE, "write"),
    "eve": (OUTSIDER, "write"),  # an outside collaborator: may push, is no member
}


def token_of(name: str) -> str:
    """The token make_github_forge registered for ``name`` (see its docstring)."""
    return f"ghp_{name}_{ROLES[name][0].id}"


@pytest.fixture
def world(example_repo: Path) -> Iterator[World]:
    with_people(example_repo)
    org = loading.load_valid(example_repo)
    server = start_fake_github(users={})
    try:
        files = {
            str(p.relative_to(example_repo)): p.read_bytes()
            for p in example_repo.rglob("*")
            if p.is_file() and p.relative_to(example_repo).parts[0] in ("org", "profiles")
        }
        repo = org.org.governance_repo.repo
        server.create_repo(repo, files=files)
        for person, role in ROLES.values():
            server.set_permission(person.login, role)
        governance = org.org.governance_repo.bot
        assert governance is not None
        people = {a: (b.login, b.id) for a, b in org.org.bots.items()}
        people |= {name: (person.login, person.id) for name, (person, _) in ROLES.items()}
        forge = make_github_forge(
            server, repo=repo, governance=(governance.login, governance.id), agents=people
        )
        with forge:
            yield server, forge, org, example_repo
    finally:
        server.stop()


def as_person(
    server: FakeGitHub, org: loading.Organization, name: str
) -> github.Repository.Repository:
    """The governance repository as ``name`` sees it through PyGithub (their own token)."""
    client = github.Github(auth=Auth.Token(token_of(name)), base_url=server.url, retry=None)
    return client.get_repo(org.org.governance_repo.repo)


def open_by_hand(
    forge: GitHubForge,
    org: loading.Organization,
    author: Identity,
    *,
    tier: Tier = Tier.MAJOR,
    proposed_by: str | None = None,
    files: dict[str, bytes] | None = None,
) -> tuple[Decision, PullRequest]:
    """What a person does on GitHub: a branch with a record from `decide new` (and the
    files it authorises), and a pull request from their own account."""
    record = proposing.template(
        forge, org=org, proposer=CAROL.login, tier=Tier.MAJOR, title="Hand made",
        body="why", amount_usd=0, now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    record = record.model_copy(update={"tier": tier, "proposed_by": proposed_by or author.login})
    branch = f"people/{author.login}/{record.id}"
    content = {f"org/decisions/{record.id}.yaml": proposing.record_yaml(record, proposal_only=True)}
    content |= files if files is not None else {"content/hand.md": b"hand\n"}
    forge.commit_files(branch=branch, base="main", files=content, message="mine", author=author)
    pull = forge.open_pull(head=branch, base="main", title="Hand made", body="", author=author)
    return record, pull


@pytest.fixture
def tally(world: World, postgres_url: str, redis_url: str, monkeypatch, run_aito):  # type: ignore[no-untyped-def]
    """`aito decide tally N` as governance.yml runs it: on the governance branch's
    checkout, with the governance bot's token, against GitHub (here the fake)."""
    server, _, org, root = world
    governance = org.org.governance_repo.bot
    assert governance is not None
    for name, value in {
        "AITO_FORGE": "github",
        "AITO_GITHUB_API_URL": server.url,
        "AITO_GITHUB_TOKEN": f"ghp_governance_{governance.id}",
        "POSTGRES_URL": postgres_url,
        "REDIS_URL": redis_url,
    }.items():
        monkeypatch.setenv(name, value)

    def run(number: int) -> dict[str, object]:
        result = run_aito("--repo", str(root), "decide", "tally", str(number), "--json")
        assert result.code == 0, result.err
        data = json.loads(result.out)
        assert isinstance(data, dict)
        return data

    return run


def record_on_main(forge: GitHubForge, decision_id: str) -> dict[str, object]:
    path = f"org/decisions/{decision_id}.yaml"
    data = yaml.safe_load(forge.read_tree("main", prefixes=[path])[path])
    assert isinstance(data, dict)
    return data


def through_the_rounds(forge: GitHubForge, org: loading.Organization, tally, number: int) -> None:  # type: ignore[no-untyped-def]
    """Reviews by the bots; the review event's tally runs the command once (round 2), the
    later rounds are tallied in-process (each command pays PyGithub's pacing of writes)."""
    for voter, vote in (("ceo", "approve"), ("dao", "veto")):
        proposing.review(forge, number, author=who(org, voter), vote=vote, body="")
    assert tally(number)["round"] == 2
    for advisor in ("cmo", "cto", "cfo", "coo", "cco"):
        forge.post_review(
            number, author=who(org, advisor), state=ReviewState.COMMENTED, body="analysis",
            commit_id=forge.pull(number).head_sha,
        )  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    assert applying.tally(forge, number, now=now).verdict.round == 3
    for voter, vote in (
        ("ceo", "approve"), ("cto", "approve"), ("dao", "veto"), ("cfo", "veto"),
        ("cmo", "abstain"), ("coo", "abstain"), ("cco", "abstain"),
    ):  # fmt: skip
        proposing.review(forge, number, author=who(org, voter), vote=vote, body="")
    escalated = applying.tally(forge, number, now=dt.datetime.now(dt.UTC)).verdict
    assert escalated.status.value == "escalated" and "tie" in escalated.reason


def test_a_humans_pull_request_escalates_and_a_maintainers_merge_is_recorded(
    world: World,
    tally,  # type: ignore[no-untyped-def]
) -> None:
    server, forge, org, _ = world
    decision, pull = open_by_hand(forge, org, CAROL)
    opened = tally(pull.number)  # on: pull_request_target opened
    assert opened["proposed_by"] == CAROL.login and opened["missing"] == ["ceo", "dao"]
    forge.commit_files(  # on: synchronize (nobody voted yet: round 1 restarts)
        branch=pull.head_ref, base="main", files={"content/hand.md": b"better\n"},
        message="better", author=CAROL,
    )  # fmt: skip
    assert tally(pull.number)["round"] == 1
    through_the_rounds(forge, org, tally, pull.number)
    assert MAINTAINER.login in forge.requested_reviewers(pull.number)

    theirs = as_person(server, org, "maintainer").get_pull(pull.number)
    assert theirs.merge(merge_method="merge").merged  # the maintainer's button
    done = tally(pull.number)  # on: pull_request_target closed
    assert done["status"] == "approved" and done["decided_by"] == MAINTAINER.login
    assert done["decided_via"] == "merge"
    record = record_on_main(forge, decision.id)
    assert (record["status"], record["human_decision"]) == ("approved", "approve")
    assert (record["decided_by"], record["decided_via"]) == (MAINTAINER.login, "merge")
    assert record["proposed_by"] == CAROL.login and len(record["rounds"]) == 3  # type: ignore[arg-type]
    assert forge.read_tree("main", prefixes=["content/"])["content/hand.md"] == b"better\n"
    assert tally(pull.number)["changes"] == []  # the schedule's tally changes nothing


def test_a_maintainers_close_by_hand_is_a_rejection(world: World, tally) -> None:  # type: ignore[no-untyped-def]
    server, forge, org, _ = world
    decision, pull = open_by_hand(forge, org, CAROL)
    as_person(server, org, "second").get_pull(pull.number).edit(state="closed")
    assert forge.pull(pull.number).closed_by == SECOND_MAINTAINER  # the issue's closed_by
    done = tally(pull.number)
    assert done["status"] == "rejected" and done["decided_via"] == "close"
    record = record_on_main(forge, decision.id)
    assert (record["human_decision"], record["decided_by"]) == ("reject", SECOND_MAINTAINER.login)


def test_a_merge_by_a_non_maintainer_raises_the_violation_alert(world: World, tally) -> None:  # type: ignore[no-untyped-def]
    server, forge, org, _ = world
    decision, pull = open_by_hand(forge, org, CAROL)
    assert as_person(server, org, "dave").get_pull(pull.number).merge(merge_method="merge").merged
    result = tally(pull.number)
    assert result["status"] == "escalated" and result["human_decision"] is None
    assert f"{DAVE.login} merged it" in str(result["violation"])
    record = record_on_main(forge, decision.id)
    assert record["status"] == "escalated" and "violation" in record
    [alert] = forge.issues(state="open", labels=[alerting.ALERT_LABEL])
    assert f"@{MAINTAINER.login}" in alert.body and alerting.HUMAN_ACTION_LABEL in alert.labels
    applying.tally(forge, pull.number, now=dt.datetime.now(dt.UTC))  # the schedule's tally
    assert len(forge.issues(state=None, labels=[alerting.ALERT_LABEL])) == 1  # alerted once


@pytest.mark.parametrize(
    ("author", "values", "reason"),
    [
        (DAVE, {}, "may propose up to minor"),  # files make it major; dave's ceiling is minor
        (CAROL, {"proposed_by": DAVE.login}, "cannot be claimed"),
        (CAROL, {"proposed_by": "cmo"}, "cannot be claimed"),
        (OUTSIDER, {"proposed_by": CAROL.login}, "neither an agent's bot, a human member"),
    ],
    ids=["above-ceiling", "names-another-human", "names-an-agent", "outsider"],
)
def test_refused_proposals_are_never_merged(
    world: World, author: Identity, values: dict[str, str], reason: str
) -> None:
    _, forge, org, _ = world
    _, pull = open_by_hand(forge, org, author, tier=Tier.MINOR, **values)  # type: ignore[arg-type]
    proposing.review(forge, pull.number, author=who(org, "ceo"), vote="approve", body="")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    result = applying.tally(forge, pull.number, now=later)
    assert reason in result.verdict.reason and result.verdict.check_state == "failure"
    assert forge.pull(pull.number).state is PullState.OPEN


def test_a_humans_own_approval_never_counts(world: World) -> None:
    server, forge, org, _ = world
    _, pull = open_by_hand(forge, org, CAROL)
    proposing.review(forge, pull.number, author=who(org, "ceo"), vote="approve", body="")
    mine = as_person(server, org, "carol").get_pull(pull.number)
    try:
        mine.create_review(body="mine", event="APPROVE")
    except github.GithubException as exc:
        assert exc.status == 422  # GitHub refuses an author's approval …
    result = applying.tally(forge, pull.number, now=dt.datetime.now(dt.UTC))
    assert result.verdict.missing == ("dao",)  # … and the author's reviews never count
