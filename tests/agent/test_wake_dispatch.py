"""Wake-ups on events, end to end: agent runs and a tally on the fake GitHub (real
PyGithub, real Postgres and Redis) send `repository_dispatch` `aito-wake-<id>`, at most one
pending per agent; on the local forge nothing is dispatched."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support import agent_world
from support.decision_scenario import propose_campaign, who
from support.fake_github import FakeGitHub, start_fake_github
from support.fake_github_limits import dispatches, drop_reply_next, secondary_limit_next

from aito.bus import keys, waking
from aito.decisions import applying, proposing, recording
from aito.forge import github_waking
from aito.org import loading
from aito.org.records import DecisionStatus

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = (
    ROOT / ".aito/cache/npm/node_modules/@octokit/openapi/generated/api.github.com.deref.json"
)
GitHubWorld = tuple[FakeGitHub, agent_world.World]
DISPATCHES = "/repos/{owner}/{repo}/dispatches"
ISSUE_COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
LABELS = "/repos/{owner}/{repo}/issues/{issue_number}/labels"


def message(to: str, subject: str) -> tuple[str, dict[str, Any]]:
    return ("send_message", {"to": to, "subject": subject, "body": "Please look.", "cites": []})


@contextlib.contextmanager
def github_world(
    directory: Path, *, postgres_url: str, redis_url: str, model: Any
) -> Iterator[GitHubWorld]:
    """The Shiba Classic organization with its governance repo on the fake GitHub, every
    bot and the governance bot holding a token of their own (AITO_FORGE=github)."""
    server = start_fake_github(users={})
    org = loading.load_valid(agent_world.governance_repo(directory / "probe"))
    bots = {name: (bot.login, bot.id) for name, bot in org.org.bots.items()}
    governance = org.org.governance_repo.bot
    assert governance is not None
    env = {
        "AITO_FORGE": "github",
        "AITO_GITHUB_API_URL": server.url,
        "AITO_GITHUB_TOKEN": "ghp_governance",
    }
    server.add_user(token="ghp_governance", login=governance.login, id=governance.id)
    for name, (login, user_id) in bots.items():
        token = f"ghp_{name.replace('-', '_')}"
        server.add_user(token=token, login=login, id=user_id)
        env[f"AITO_GITHUB_TOKEN_{name.upper().replace('-', '_')}"] = token
    try:
        with agent_world.open_world(
            directory / "governance",
            postgres_url=postgres_url,
            redis_url=redis_url,
            model=model,
            env=env,
        ) as world:
            files = {
                str(path.relative_to(world.repo)): path.read_bytes()
                for path in world.repo.rglob("*")
                if path.is_file() and path.relative_to(world.repo).parts[0] in ("org", "profiles")
            }
            server.create_repo(org.org.governance_repo.repo, files=files)
            yield server, world
    finally:
        server.stop()


@pytest.fixture
def make_github_world(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> Iterator[Callable[[Any], GitHubWorld]]:
    with contextlib.ExitStack() as stack:

        def make(model: Any) -> GitHubWorld:
            return stack.enter_context(
                github_world(tmp_path, postgres_url=postgres_url, redis_url=redis_url, model=model)
            )

        yield make


def test_three_messages_before_the_cmo_wakes_send_one_dispatch_then_its_run_rearms_it(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    model = agent_world.ScriptedModel(
        [message("cmo", "Plan"), message("cmo", "Budget"), message("cmo", "Launch")],
        [("summary", {"text": "quiet"})],  # the cmo's run
        [message("cmo", "One more")],
    )
    server, world = make_github_world(model)
    first = world.run("ceo", key="1")
    assert [a.status for a in first.actions if a.type == "send_message"] == ["executed"] * 3
    assert len(world.stream("cmo")) == 3
    wakes = dispatches(server, event_type="aito-wake-cmo")
    assert len(wakes) == 1
    sent = wakes[0]
    assert sent.repo == world.org.org.governance_repo.repo
    assert sent.sender == world.org.org.bots["ceo"].login  # the sending agent's own token
    assert sent.client_payload["reason"] == "direct"
    assert sent.client_payload["from"] == "ceo"
    assert sent.client_payload["source"] == world.stream("cmo")[0].id
    assert "Please look." not in json.dumps(sent.client_payload)  # ids only, never the text

    world.run("cmo", key="1", trigger="repository_dispatch")  # its run starts: re-armed
    world.clock.advance(minutes=5)
    world.run("ceo", key="2", force=True)
    assert len(dispatches(server, event_type="aito-wake-cmo")) == 2
    assert dispatches(server, event_type="aito-wake-ceo") == []  # nobody wrote to the ceo


def test_whatever_the_bus_delivers_wakes_its_recipients_once_per_pending_wake(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    """Messages sent straight through the bus (not an agent's run): a group message wakes
    each member once, whoever sends; a worker's message goes out with its manager's token."""
    server, world = make_github_world(agent_world.ScriptedModel())
    for index in range(3):
        world.send(id=f"m{index}", type="broadcast", from_="cfo", to="clevel", payload={})
    members = sorted(world.org.groups()["clevel"])
    woken = sorted(d.event_type for d in dispatches(server))
    assert woken == sorted(f"aito-wake-{a}" for a in members if a != "cfo")
    assert {d.sender for d in dispatches(server)} == {world.org.org.bots["cfo"].login}
    worker = next(a for a in world.org.agents.values() if a.layer.value == "worker")
    manager = worker.reports_to if worker.reports_to in world.org.org.bots else "ceo"
    world.runtime.bus.waker.started("cfo")
    world.send(id="w1", type="direct", from_=worker.id, to="cfo", payload={})
    assert dispatches(server, event_type="aito-wake-cfo")[0].sender == (
        world.org.org.bots[manager or "ceo"].login
    )


def test_a_message_during_the_agents_run_wakes_it_again_afterwards(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    server, world = make_github_world(agent_world.ScriptedModel())
    waker = world.ports.waker
    assert waker.wake(["cmo"], reason="direct", source="m1", sender="ceo") == ["cmo"]
    waker.started("cmo")  # the run begins …
    assert waker.wake(["cmo"], reason="direct", source="m2", sender="ceo") == ["cmo"]
    assert waker.wake(["cmo"], reason="direct", source="m3", sender="ceo") == []
    assert [d.client_payload["source"] for d in dispatches(server)] == ["m1", "m2"]


def test_workers_and_unknown_agents_are_never_dispatched(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    server, world = make_github_world(agent_world.ScriptedModel())
    workers = [
        a.id for a in world.org.agents.values() if a.loop is None or a.layer.value == "worker"
    ]
    assert workers
    assert world.ports.waker.wake([*workers, "nobody"], reason="x", source="s", sender=None) == []
    assert dispatches(server) == []


def test_a_failed_dispatch_is_logged_and_the_next_event_tries_again(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    server, world = make_github_world(agent_world.ScriptedModel())
    secondary_limit_next(server, retry_after=900, method="POST", path=DISPATCHES)
    assert world.ports.waker.wake(["cmo"], reason="direct", source="a", sender="ceo") == []
    assert world.ports.waker.wake(["cmo"], reason="direct", source="b", sender="ceo") == ["cmo"]
    assert [d.client_payload["source"] for d in dispatches(server)] == ["b"]


def test_a_retried_claim_whose_reply_was_lost_still_dispatches_once(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    server, world = make_github_world(agent_world.ScriptedModel())
    drop_reply_next(server, method="POST", path=DISPATCHES, mode="502")
    woken = world.ports.waker.wake(["cmo"], reason="direct", source="a", sender="ceo")
    # GitHub acted although its reply was lost; the retry sends again (documented: a
    # dispatch carries no marker), which the workflow's concurrency group collapses.
    assert woken == ["cmo"]
    assert 1 <= len(dispatches(server)) <= 2


def test_a_decided_decision_wakes_its_proposer_with_the_governance_token(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    """A real tally on the fake GitHub, its comment and status replies lost and its labels
    secondary-limited: one tally comment, one merge, and the proposer is woken."""
    server, world = make_github_world(agent_world.ScriptedModel())
    forge, org = world.ports.governance, world.org
    now = dt.datetime.now(dt.UTC)
    _, pull = propose_campaign(forge, org, now=now)
    server_pull = server.repos[org.org.governance_repo.repo].pulls[pull.number]
    for voter in ("ceo", "dao"):
        proposing.review(forge, pull.number, author=who(org, voter), vote="approve", body="Yes.")
    recorder = recording.ServicesRecorder(memory=world.runtime.memory, bus=world.runtime.bus)
    drop_reply_next(server, method="POST", path=ISSUE_COMMENTS, mode="reset")
    drop_reply_next(server, method="POST", path="/repos/{owner}/{repo}/statuses/{sha}")
    secondary_limit_next(server, retry_after=1, method="POST", path=LABELS)
    drop_reply_next(server, method="PUT", path="/repos/{owner}/{repo}/pulls/{pull_number}/merge")
    result = applying.tally(
        forge, pull.number, now=now + dt.timedelta(minutes=1), recorder=recorder
    )
    assert server.faults == []  # every lost reply and limit was met
    assert result.verdict.status is DecisionStatus.APPROVED
    assert server_pull.merged_at is not None
    governance = org.org.governance_repo.bot
    assert governance is not None
    tally_comments = [c for c in forge.comments(pull.number) if c.user.id == governance.id]
    assert len(tally_comments) == 1
    woken = {d.event_type: d for d in dispatches(server)}
    assert "aito-wake-cmo" in woken  # the proposer
    assert woken["aito-wake-cmo"].sender == governance.login  # the governance token
    assert woken["aito-wake-cmo"].client_payload == {
        "agent": "cmo",
        "reason": "decision",
        "source": f"decision:{result.decision.id}:approved:cmo",  # the message's id
        "from": "governance",
    }
    # tallied again: nothing new to announce, nobody woken twice
    before = len(dispatches(server))
    applying.tally(forge, pull.number, now=now + dt.timedelta(minutes=2), recorder=recorder)
    assert len(dispatches(server)) == before


def test_an_agent_run_with_lost_replies_and_secondary_limits_writes_once_and_finishes(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    model = agent_world.ScriptedModel(
        [
            ("request_human_action", {"title": "Rotate the key", "body": "It expires."}),
            message("cmo", "Plan"),
        ]
    )
    server, world = make_github_world(model)
    drop_reply_next(server, method="POST", path="/repos/{owner}/{repo}/issues", mode="reset")
    secondary_limit_next(server, status=429, retry_after=1, method="POST", path=DISPATCHES)
    outcome = world.run("ceo", key="1")
    assert server.faults == []  # the issue's reply was lost, the dispatch limited
    assert [a.status for a in outcome.actions if a.type != "summary"] == ["executed"] * 2
    issues = world.ports.governance.issues(state=None)
    assert [i.title for i in issues] == ["Rotate the key"]
    assert len(dispatches(server, event_type="aito-wake-cmo")) == 1


def test_the_dispatch_github_receives_matches_githubs_description(
    make_github_world: Callable[[Any], GitHubWorld],
) -> None:
    if not DESCRIPTION.exists():
        pytest.skip("GitHub's OpenAPI description is missing; run scripts/fetch-github-specs")
    server, world = make_github_world(agent_world.ScriptedModel())
    world.ports.waker.wake(["cmo"], reason="direct", source="m" * 500, sender="ceo")
    operation = json.loads(DESCRIPTION.read_text())["paths"][DISPATCHES]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    sent = dispatches(server)[0]
    body = {"event_type": sent.event_type, "client_payload": sent.client_payload}
    jsonschema.validate(body, schema)
    assert len(sent.client_payload["source"]) == waking.MAX_FIELD


def test_on_the_local_forge_nothing_is_dispatched(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    model = agent_world.ScriptedModel([message("cmo", "Plan"), message("cmo", "Budget")])
    with agent_world.open_world(
        tmp_path / "governance", postgres_url=postgres_url, redis_url=redis_url, model=model
    ) as world:
        assert isinstance(world.ports.waker, waking.NoWaker)
        world.run("ceo", key="1")
        assert len(world.stream("cmo")) == 2
        key = world.runtime.bus.connection.key(keys.wake_pending("cmo"))
        assert not world.runtime.bus.connection.run(lambda c: c.exists(key), op="t")


def test_the_event_type_is_the_one_agent_workflows_listen_for() -> None:
    assert github_waking.event_type("cmo") == "aito-wake-cmo"
    workflow = (ROOT / ".github/workflows/agent-cmo.yml").read_text()
    assert "types: [aito-wake-cmo]" in workflow
