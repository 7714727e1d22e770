"""The rendered workflows, run by act, against GitHub (the local stand-in that speaks its
REST wire format) with every bot a GitHub App: what a live organization does, strict
(`GITHUB_ACTIONS=true`, no offline switch), with each job's secrets and variables handed
in as a repository would hold them.

- `agent-cmo.yml`: the CMO wakes with its own App's key, thinks with the Anthropic
  Messages API (the local stand-in), and opens its decision pull request as
  `shiba-cmo[bot]`; `governance.yml`, triggered by the pull request's `opened` event
  (GitHub's own payload from @octokit/webhooks-examples), tallies it as
  `shiba-governance[bot]`.
- A human member's decision pull request made by hand is tallied on `opened`; a
  maintainer's merge by hand, tallied on `closed`, is recorded on the base branch as the
  human decision; a member's merge by hand raises the violation alert.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import github
import pytest
import yaml
from github import Auth
from support.act import pull_request_event, run_act
from support.fake_anthropic import API_KEY, FakeAnthropic, running_fake_anthropic, tool_use
from support.fake_github import FakeGitHub, make_github_forge, start_fake_github
from support.github_apps_org import LiveOrg, go_live
from support.humans import CAROL, MAINTAINER, with_people

from aito.decisions import proposing
from aito.forge.base import Identity
from aito.forge.github import GitHubForge
from aito.org import loading
from aito.org.organization import Tier

pytestmark = pytest.mark.act

GOVERNANCE = "og-shibaclassic/aito-governance"


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={})
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def model() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as fake:
        yield fake


@pytest.fixture
def live_repo(governance_repo: Path) -> Path:
    """The example organization with human members, committed on main (the base branch
    judges), as the governance repository's checkout."""
    with_people(governance_repo)
    git = ["git", "-C", str(governance_repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-qam", "people"], check=True)
    return governance_repo


def _job(
    repo: Path,
    workflow: str,
    event: str,
    payload: Path | None,
    *,
    variables: dict[str, str],
    secrets: dict[str, str],
) -> str:
    """Run one workflow with act as GitHub would, the repository's secrets and variables
    given as such, strict (no offline switch); returns its output (it must succeed)."""
    extra = [] if payload is None else ["-e", str(payload)]
    for name, value in secrets.items():
        extra += ["--secret", f"{name}={value}"]
    result = run_act(repo, workflow, event, variables=variables, extra=extra, offline=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _tally(
    repo: Path, live: LiveOrg, server: FakeGitHub, urls: dict[str, str], payload: Path
) -> str:
    """governance.yml on a pull_request_target event, with the governance environment."""
    app_id, app_key = live.governance_env().items()
    return _job(
        repo,
        "governance.yml",
        "pull_request_target",
        payload,
        variables={"AITO_GITHUB_API_URL": server.url, app_id[0]: app_id[1]},
        secrets={
            app_key[0]: app_key[1],
            "AITO_POSTGRES_URL": urls["postgres"],
            "AITO_REDIS_URL": urls["redis"],
        },
    )


def _base_record(server: FakeGitHub, decision_id: str) -> dict[str, Any]:
    """The decision's record as committed on the governance repo's base branch."""
    repo = server.repos[GOVERNANCE]
    head = repo.resolve("main")
    assert head is not None
    tree = repo.commits[head].tree
    _, blob = repo.flatten(tree)[f"org/decisions/{decision_id}.yaml"]
    record: dict[str, Any] = yaml.safe_load(repo.blobs[blob])
    return record


def _people_forge(server: FakeGitHub, org: loading.Organization) -> GitHubForge:
    """GitHub as the people see it: each with a token of their own."""
    bot = org.org.governance_repo.bot
    assert bot is not None
    people = {"maintainer": (MAINTAINER.login, MAINTAINER.id), "carol": (CAROL.login, CAROL.id)}
    server.set_permission(CAROL.login, "write")
    return make_github_forge(server, repo=GOVERNANCE, governance=("people-only", 1), agents=people)


def test_an_agent_wakes_as_its_app_and_governance_yml_judges_its_pull_request(
    live_repo: Path,
    server: FakeGitHub,
    model: FakeAnthropic,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    org = loading.load_valid(live_repo)
    live = go_live(server, live_repo, org)
    urls = {"postgres": postgres_url, "redis": redis_url}
    proposal = {
        "tier": "major",
        "title": "Spring campaign",
        "rationale": "Reach new holders before the listing.",
        "files": {"content/spring.md": "Spring!"},
        "amount_usd": 0,
        "cites": [],
    }
    model.plan(tool_use(("propose_decision", proposal), ("summary", {"text": "Proposed."})))
    (app_id, app_id_value), (app_key, app_key_value) = live.agent_env("cmo").items()

    woke = _job(
        live_repo,
        "agent-cmo.yml",
        "workflow_dispatch",
        None,
        variables={
            "AITO_GITHUB_API_URL": server.url,
            "ANTHROPIC_BASE_URL": model.base_url,
            app_id: app_id_value,
        },
        secrets={
            "ANTHROPIC_API_KEY": API_KEY,
            "AITO_POSTGRES_URL": postgres_url,
            "AITO_REDIS_URL": redis_url,
            app_key: app_key_value,
        },
    )

    assert "cmo [cmo:workflow_dispatch:" in woke and "] completed:" in woke
    assert len(model.requests) == 1, woke  # the real model path, not the offline stand-in
    assert "✓ propose_decision" in woke, woke
    [pull] = server.repos[GOVERNANCE].pulls.values()
    assert (pull.user.login, pull.user.id) == ("shiba-cmo[bot]", 190000003)
    assert pull.state == "open"  # an agent's job holds no governance key: nothing merged

    tallied = _tally(live_repo, live, server, urls, pull_request_event(tmp_path, "opened", 1))

    assert "tallying #1" in tallied
    repo = server.repos[GOVERNANCE]
    [status] = [s for s in repo.statuses if s.context == "aito/decision"]
    assert (status.creator.login, status.state) == ("shiba-governance[bot]", "pending")
    assert status.sha == pull.head_sha
    assert "aito/round-1" in pull.labels
    tally_comments = [c for c in repo.comments.values() if c.number == pull.number]
    assert [c.user.login for c in tally_comments] == ["shiba-governance[bot]"]


def _hand_made(forge: GitHubForge, org: loading.Organization, author: Identity, title: str) -> int:
    """A decision pull request a person opens by hand, with a record from `decide new`."""
    record = proposing.template(
        forge, org=org, proposer=author.login, tier=Tier.MAJOR, title=title,
        body="why", amount_usd=0, now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    branch = f"people/{author.login}/{record.id}"
    files = {
        f"org/decisions/{record.id}.yaml": proposing.record_yaml(record, proposal_only=True),
        f"content/{record.id}.md": b"by hand\n",
    }
    forge.commit_files(branch=branch, base="main", files=files, message=title, author=author)
    return forge.open_pull(head=branch, base="main", title=title, body="", author=author).number


def test_a_humans_proposal_merged_by_hand_is_recorded_and_a_members_merge_alerts(
    live_repo: Path,
    server: FakeGitHub,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    org = loading.load_valid(live_repo)
    live = go_live(server, live_repo, org)
    urls = {"postgres": postgres_url, "redis": redis_url}
    with _people_forge(server, org) as people:
        first = _hand_made(people, org, CAROL, "Community fund")
        second = _hand_made(people, org, CAROL, "Second fund")
        for number in (first, second):
            _tally(live_repo, live, server, urls, pull_request_event(tmp_path, "opened", number))
            assert "aito/round-1" in server.repos[GOVERNANCE].pulls[number].labels

        # The maintainer breaks the deadlock by merging on GitHub; the tally on `closed`.
        _merge_by_hand(server, "maintainer", MAINTAINER, first)
        _tally(live_repo, live, server, urls, pull_request_event(tmp_path, "closed", first))
        # A member merges her own proposal by hand: a violation.
        _merge_by_hand(server, "carol", CAROL, second)
        _tally(live_repo, live, server, urls, pull_request_event(tmp_path, "closed", second))

    decided = _base_record(server, _decision_id(server, first))
    assert decided["status"] == "approved"
    assert decided["decided_via"] == "merge"
    assert decided["human_decision"] == "approve"
    assert decided["decided_by"] == MAINTAINER.login
    violated = _base_record(server, _decision_id(server, second))
    assert violated["status"] == "escalated" and violated["violation"]
    alerts = [i for i in server.repos[GOVERNANCE].issues.values() if "aito/alert" in i.labels]
    assert [a.user.login for a in alerts] == ["shiba-governance[bot]"]
    assert f"#{second}" in alerts[0].title + alerts[0].body


def _merge_by_hand(server: FakeGitHub, name: str, person: Identity, number: int) -> None:
    """``person`` presses GitHub's merge button (PyGithub with their own token)."""
    token = f"ghp_{name}_{person.id}"  # what make_github_forge registered for them
    client = github.Github(auth=Auth.Token(token), base_url=server.url, retry=None)
    assert client.get_repo(GOVERNANCE).get_pull(number).merge().merged
    assert server.repos[GOVERNANCE].pulls[number].merged_by == server.users_by_token[token]


def _decision_id(server: FakeGitHub, number: int) -> str:
    pull = server.repos[GOVERNANCE].pulls[number]
    return pull.head_ref.rsplit("/", 1)[-1]
