"""The orchestrator's passes against the real services: restarts within the budget, one
error and one notice past it, the DAO's temporary lead and its return, and a decision
tallied when its round deadline passes with no other command run."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from support import notify_servers
from support.agent_world import ScriptedModel, World

from aito.cli import logformat, orchestrator_commands
from aito.decisions import proposing, recording, sweeping
from aito.forge.base import PullState
from aito.org.organization import Tier
from aito.reconcile import applying, looping, metrics, observing, steps

Make = Callable[..., World]


def orchestrator(
    world: World, *, woken: list[str], sent: list[steps.Notify]
) -> looping.Orchestrator:
    sources = observing.Sources(
        bus=world.runtime.bus, memory=world.runtime.memory, forge=world.governance, runtime=None
    )
    applier = applying.Applier(
        sources, wake=lambda agent, run: woken.append(agent), send=sent.append
    )
    return looping.Orchestrator(world.org, sources, applier, clock=world.clock)


def beat(world: World, *agents: str) -> None:
    for agent in agents:
        world.runtime.bus.heartbeat(
            agent_id=agent, status="idle", run_id="r", at=world.clock(), ttl_seconds=86_400
        )


def kinds(done: looping.Pass) -> list[str]:
    return [
        type(a.step).__name__ + ":" + getattr(a.step, "agent", getattr(a.step, "to", ""))
        for a in done.applied
    ]


def test_a_dead_ceo_is_restarted_then_in_error_with_one_notice_and_the_dao_leads_until_it_is_back(
    make_world: Make,
) -> None:
    world = make_world(ScriptedModel())
    woken: list[str] = []
    sent: list[steps.Notify] = []
    orch = orchestrator(world, woken=woken, sent=sent)
    others = [a for a in observing.looping_agents(world.org) if a != "ceo"]
    world.clock.advance(hours=2)  # every slot so far left no heartbeat
    beat(world, *others)  # all but the CEO ran theirs
    waits = [0, 31, 61, 121]
    for seconds in waits[:3]:
        world.clock.advance(seconds=seconds)
        assert kinds(orch.once()) == ["Restart:ceo"]
    assert woken == ["ceo", "ceo", "ceo"]
    world.clock.advance(seconds=waits[3])
    done = orch.once()  # the budget (3 within 60 minutes) is spent
    assert kinds(done) == ["MarkError:ceo", "Notify:", "ChangeLead:dao"]
    [notice] = sent
    assert notice.severity == "critical" and "ceo is down" in notice.subject
    world.clock.advance(minutes=5)
    assert orch.once().applied == []  # nothing twice: no restart, no second notice
    assert orch.look()[1].lead == "dao"
    events = world.runtime.memory.events(event_type="orchestrator.lead_changed", limit=10)
    assert [e["target_agent"] for e in events] == ["dao"]

    beat(world, "ceo")  # the CEO is back
    assert kinds(orch.once()) == ["ClearError:ceo", "ChangeLead:ceo"]
    assert orch.look()[1].lead == "ceo" and len(sent) == 1

    world.clock.advance(hours=3)  # down again later: a new budget, its steps new keys
    beat(world, *others)
    assert kinds(orch.once()) == ["Restart:ceo"]
    assert woken == ["ceo"] * 4


def test_a_decision_is_tallied_when_its_deadline_passes_with_no_other_command(
    make_world: Make,
) -> None:
    world = make_world(ScriptedModel())
    forge, org = world.governance, world.org
    _, pull = proposing.propose(
        forge,
        org=org,
        proposer="cto",
        tier=Tier.MINOR,
        title="Dependency window",
        body="Tuesdays.",
        files={"site/window.txt": b"tuesdays\n"},
        amount_usd=0,
        now=world.clock(),
    )
    recorder = recording.ServicesRecorder(memory=world.runtime.memory, bus=world.runtime.bus)
    sweeping.tally_open(forge, now=world.clock(), numbers=[pull.number], recorder=recorder)
    deadline = world.runtime.memory.verdicts([pull.number])[pull.number]["verdict"]["deadline"]
    assert deadline is not None and forge.pull(pull.number).state is PullState.OPEN
    beat(world, *observing.looping_agents(org))
    orch = orchestrator(world, woken=[], sent=[])
    assert not [a for a in orch.once().applied if isinstance(a.step, steps.Tally)]  # not yet
    world.clock.now = dt.datetime.fromisoformat(deadline) + dt.timedelta(minutes=1)
    beat(world, *observing.looping_agents(org))
    tallied = [a for a in orch.once().applied if isinstance(a.step, steps.Tally)]
    assert [(a.step.pr, a.error) for a in tallied] == [(pull.number, None)]  # type: ignore[union-attr]
    assert forge.pull(pull.number).state is PullState.MERGED  # lazy consensus: approved
    assert not [a for a in orch.once().applied if isinstance(a.step, steps.Tally)]


def test_orchestrator_status_shows_what_it_sees_and_would_do_next(
    make_world: Make,
    run_aito,  # type: ignore[no-untyped-def]
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    world = make_world(ScriptedModel())
    for name in ("POSTGRES_URL", "REDIS_URL"):
        monkeypatch.setenv(name, getattr(world.settings, name.lower()).get_secret_value())
    shown = run_aito("--repo", str(world.repo), "orchestrator", "status", "--json")
    assert shown.code == 0, shown.err
    report = json.loads(shown.out)
    assert report["lead"] == "ceo"
    assert {a["id"] for a in report["agents"]} == set(observing.looping_agents(world.org))
    # nothing ran yet today: every agent whose slot is due would be woken, none twice
    restarts = [s for s in report["next"] if s["step"] == "Restart"]
    assert len({s["agent"] for s in restarts}) == len(restarts)
    assert all(s["attempt"] == 1 for s in restarts)


def test_the_metrics_endpoint_serves_what_a_pass_saw_and_did(make_world: Make) -> None:
    world = make_world(ScriptedModel())
    sent: list[steps.Notify] = []
    orch = orchestrator(world, woken=[], sent=sent)
    orch.metrics = metrics.Metrics()
    world.clock.advance(hours=2)
    beat(world, *[a for a in observing.looping_agents(world.org) if a != "ceo"])
    orch.once()  # the CEO missed its slot: restarted
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    orch.metrics.serve(port)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'aito_restarts_total{agent="ceo"} 1.0' in body
    assert 'aito_orchestrator_steps_total{result="ok",step="Restart"} 1.0' in body
    assert 'aito_heartbeat_age_seconds{agent="cmo"} 0.0' in body
    assert 'aito_bus_inbox_length{agent="cmo"}' in body
    assert "aito_orchestrator_passes_total 1.0" in body


class Killed(BaseException):
    """The orchestrator's process dying (nothing below catches it)."""


def test_an_orchestrator_killed_mid_apply_repeats_nothing_when_started_again(
    make_world: Make,
) -> None:
    world = make_world(ScriptedModel())
    world.clock.advance(hours=2)
    beat(world, *[a for a in observing.looping_agents(world.org) if a != "ceo"])
    state = world.runtime.bus.orchestrator()
    for attempt in (1, 2, 3):  # the CEO's budget is spent: the next pass gives up on it
        state.add_restart("ceo", at=world.clock(), attempt=attempt)
    sent: list[steps.Notify] = []

    def dies_after_sending(notice: steps.Notify) -> None:
        sent.append(notice)
        raise Killed  # killed after the notice went out, before it was recorded

    first = orchestrator(world, woken=[], sent=[])
    first.applier.send = dies_after_sending
    with contextlib.suppress(Killed):
        first.once()
    again = orchestrator(world, woken=[], sent=sent)  # started again
    done = again.once()
    assert [type(a.step).__name__ for a in done.applied] == ["Notify", "ChangeLead"]
    assert len(sent) == 1  # the notice is not sent twice
    memory = world.runtime.memory
    assert len(memory.events(event_type="agent.error", limit=10)) == 1
    assert len(memory.events(event_type="orchestrator.lead_changed", limit=10)) == 1
    assert again.once().applied == []


def test_a_notice_whose_channel_failed_is_sent_on_the_next_pass(make_world: Make) -> None:
    world = make_world(ScriptedModel())
    cause_issue = world.governance.open_issue(
        title="Budget exhausted: cmo",
        body="b",
        labels=["human-action-required"],
        author=world.identity("cmo"),
    )
    beat(world, *observing.looping_agents(world.org))
    sent: list[steps.Notify] = []
    failing = orchestrator(world, woken=[], sent=sent)

    def down(notice: steps.Notify) -> None:
        raise OSError("the mail server is away")

    failing.applier.send = down
    [failed] = [a for a in failing.once().applied if isinstance(a.step, steps.Notify)]
    assert failed.error is not None and "away" in failed.error
    orchestrator(world, woken=[], sent=sent).once()
    assert [n.cause for n in sent] == [f"issue:{cause_issue.number}"]


def test_the_orchestrator_command_tells_the_humans_on_their_channel_once(
    make_world: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    def with_webhook(repo: Path) -> None:
        path = repo / "org" / "org.yaml"
        data = yaml.safe_load(path.read_text("utf-8"))
        data["notify"] = [{"kind": "webhook", "name": "ops"}]
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    world = make_world(ScriptedModel(), edit=with_webhook)
    with notify_servers.webhook_receiver() as hook:
        settings = world.settings.model_copy(update={"webhook_url": SecretStr(hook.url + "/ops")})
        orch = orchestrator_commands._orchestrator(settings, world.runtime, world.org)
        orch.clock = world.clock
        world.clock.advance(hours=2)
        beat(world, *[a for a in observing.looping_agents(world.org) if a != "ceo"])
        state = world.runtime.bus.orchestrator()
        for attempt in (1, 2, 3):
            state.add_restart("ceo", at=world.clock(), attempt=attempt)
        orch.once()
        world.clock.advance(minutes=5)
        orch.once()
    [received] = hook.received
    assert received.body["aito"]["subject"] == "ceo is down and its restart budget is spent"
    assert received.body["aito"]["severity"] == "critical"


def test_log_json_writes_one_json_object_per_line_with_its_context(make_world: Make) -> None:
    world = make_world(ScriptedModel())
    env = {
        **os.environ,
        "POSTGRES_URL": world.settings.postgres_url.get_secret_value(),  # type: ignore[union-attr]
        "REDIS_URL": world.settings.redis_url.get_secret_value(),  # type: ignore[union-attr]
    }
    command = [sys.executable, "-m", "aito", "--repo", str(world.repo), "--log-json", "-vv"]
    done = subprocess.run(
        [*command, "orchestrator", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines and all({"at", "level", "logger", "message"} <= set(line) for line in lines)
    record = logging.LogRecord("aito.agent", logging.WARNING, "f", 1, "stopped", (), None)
    record.agent, record.run_id = "cmo", "cmo:manual:1"
    line = json.loads(logformat.JsonFormatter().format(record))
    assert (line["agent"], line["run_id"], line["message"]) == ("cmo", "cmo:manual:1", "stopped")


def test_an_orchestrator_process_killed_while_it_notifies_repeats_nothing(
    make_world: Make,
) -> None:
    def with_webhook(repo: Path) -> None:
        path = repo / "org" / "org.yaml"
        data = yaml.safe_load(path.read_text("utf-8"))
        data["notify"] = [{"kind": "webhook", "name": "ops"}]
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    world = make_world(ScriptedModel(), edit=with_webhook)
    now = dt.datetime.now(dt.UTC)  # the orchestrator process reads the real clock
    bus = world.runtime.bus
    for agent in observing.looping_agents(world.org):
        if agent != "ceo":
            bus.heartbeat(agent_id=agent, status="idle", run_id="r", at=now, ttl_seconds=86_400)
    for attempt in (1, 2, 3):  # the CEO's restart budget is spent
        bus.orchestrator().add_restart("ceo", at=now, attempt=attempt)
    with notify_servers.webhook_receiver() as hook:
        hook.delay_seconds = 4.0  # the notice is on its way when the process dies
        env = {
            **os.environ,
            "POSTGRES_URL": world.settings.postgres_url.get_secret_value(),  # type: ignore[union-attr]
            "REDIS_URL": world.settings.redis_url.get_secret_value(),  # type: ignore[union-attr]
            "AITO_WEBHOOK_URL": hook.url + "/ops",
        }
        command = [sys.executable, "-m", "aito", "--repo", str(world.repo), "orchestrator"]
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not hook.received:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "no notice was sent"
            time.sleep(0.05)
        first.kill()  # SIGKILL, while the webhook has not answered yet
        first.communicate()
        hook.delay_seconds = 0.0
        second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        memory = world.runtime.memory
        deadline = time.monotonic() + 60
        while not memory.events(event_type="orchestrator.lead_changed", limit=5):
            assert second.poll() is None, second.communicate()
            assert time.monotonic() < deadline, "the second orchestrator did not finish the pass"
            time.sleep(0.1)
        time.sleep(1)
        second.terminate()  # SIGTERM: a clean stop
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
    assert len(hook.received) == 1  # the notice was not sent twice
    assert len(memory.events(event_type="agent.error", limit=10)) == 1
    assert len(memory.events(event_type="orchestrator.lead_changed", limit=10)) == 1


def test_on_github_the_notice_of_an_agent_down_links_its_workflow_runs(make_world: Make) -> None:
    world = make_world(ScriptedModel())
    sources = observing.Sources(
        bus=world.runtime.bus,
        memory=world.runtime.memory,
        forge=world.governance,
        runtime=None,
        web_url="https://github.example.com/",
    )
    sent: list[steps.Notify] = []
    applier = applying.Applier(sources, wake=lambda agent, run: None, send=sent.append)
    orch = looping.Orchestrator(world.org, sources, applier, clock=world.clock)
    world.clock.advance(hours=2)
    beat(world, *[a for a in observing.looping_agents(world.org) if a != "ceo"])
    for seconds in [0, 31, 61, 121]:
        world.clock.advance(seconds=seconds)
        orch.once()
    [notice] = sent
    repo = world.org.org.governance_repo.repo
    assert notice.link == f"https://github.example.com/{repo}/actions/workflows/agent-ceo.yml"
