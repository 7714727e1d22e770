"""The live and detail parts of the dashboard over a real simulated day, through HTTP.

The event streams are read from a real uvicorn server on 127.0.0.1 (a test client
buffers a response whole, and an event stream never ends); the changes they report are
made through the code the agents use: a wake-up run by `aito agent run` (its wake-up
and heartbeat), a worker's container record written as a sandbox writes it, a verdict
recorded by the governance tally's recorder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import html
import json
import queue
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient
from support.dashboard_day import Day, row_of, source_of, text_of

from aito.bus import budgets
from aito.dashboard import app
from aito.memory import recalling
from aito.memory.embedders import offline
from aito.views import workers

Event = tuple[str, dict[str, Any]]


def quote(run_id: str) -> str:
    """A run id as a path segment (``#`` starts a fragment)."""
    return urllib.parse.quote(run_id, safe=":@._~-")


@contextlib.contextmanager
def served(day: Day) -> Iterator[str]:
    """The dashboard over ``day`` on a free loopback port; its base URL."""
    config = uvicorn.Config(
        app.create_app(source_of(day)),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def events(url: str) -> Iterator[queue.Queue[Event]]:
    """The server-sent events of ``url`` as they arrive, parsed (name, JSON data)."""
    found: queue.Queue[Event] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server went away: the test is over
            follow()

    def follow() -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(5, read=30)) as http,
            http.stream("GET", url) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            name, data = "message", ""
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data += line.removeprefix("data: ")
                elif line == "" and data:
                    found.put((name, json.loads(data)))
                    name, data = "message", ""

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()


def next_event(found: queue.Queue[Event], *, within: float) -> Event:
    try:
        return found.get(timeout=within)
    except queue.Empty:
        raise AssertionError(f"no event within {within} s") from None


def test_the_org_chart_streams_a_new_heartbeat_within_two_seconds(
    day: Day, run_aito: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = TestClient(app.create_app(source_of(day))).get("/")
    assert '<tbody data-live="/live/organization">' in page.text
    assert 'http-equiv="refresh"' not in page.text  # live updates replace the reload
    assert "<noscript>" in page.text and '<script src="/static/live.js"' in page.text
    for agent_id in day.org.agents:
        row = re.search(
            rf'<tr id="agent-{agent_id}" data-agent="{agent_id}">(.*?)</tr>', page.text, re.S
        )
        assert row, agent_id
        for name in ("heartbeat", "running", "spent", "burn", "burn-bar", "burn-text", "lead"):
            assert f'data-field="{name}"' in row[1], (agent_id, name)
    assert 'id="lead" data-field="lead"' in page.text
    assert "leads" in row_of(page.text, 'data-agent="ceo"')  # the orchestrator never moved it

    monkeypatch.setenv("POSTGRES_URL", day.url)
    monkeypatch.setenv("REDIS_URL", day.redis_url)
    with served(day) as base, events(f"{base}/live/organization") as found:
        name, first = next_event(found, within=10)
        assert name == "organization" and first["lead"] == "ceo"
        before = first["agents"]["cmo"]["heartbeat_at"]
        assert before == day.bus.statuses(["cmo"])["cmo"]["last_heartbeat"]
        # A wake-up of the CMO, through the agent loop: its wake-up and heartbeat.
        woke = run_aito(
            "--repo", str(day.report.repo), "agent", "run", "cmo", "--trigger", "manual"
        )
        assert woke.code == 0, woke.err
        beat = day.bus.statuses(["cmo"])["cmo"]["last_heartbeat"]
        assert beat != before
        finished = time.monotonic()
        while True:
            name, data = next_event(found, within=max(0.01, finished + 2.0 - time.monotonic()))
            if data["agents"]["cmo"]["heartbeat_at"] == beat:
                break
        assert time.monotonic() - finished <= 2.0
        assert name == "organization"
        assert data["agents"]["cmo"]["heartbeat"].endswith("ago")
        assert data["agents"]["cmo"]["running"] == "no"  # the run is over

        # The DAO takes the temporary lead (as the orchestrator's step does): pushed too.
        day.bus.orchestrator().set_lead("dao")
        try:
            name, data = next_event(found, within=2.5)
            assert data["lead"] == "dao"
            assert data["agents"]["dao"]["lead"] and not data["agents"]["ceo"]["lead"]
        finally:
            day.bus.orchestrator().set_lead("ceo")


def test_workers_are_listed_and_a_workers_log_streams_when_it_is_recorded(
    day: Day, client: TestClient
) -> None:
    rows = day.query(
        "SELECT run_id, agent_id, status FROM agent_runs WHERE trigger = 'spawn' "
        "ORDER BY started_at DESC, run_id DESC"
    )
    assert rows, "the simulated day spawned workers"
    listed = client.get("/workers")
    assert listed.status_code == 200
    for run_id, kind, status in rows[:25]:
        row = row_of(listed.text, f'data-run="{run_id}"')
        requester = run_id.split(":spawn:")[1].split(":")[0]
        assert kind in row and status in row and requester in row

    [(done_id, logs)] = day.query(
        "SELECT run_id, container->>'logs' FROM agent_runs WHERE trigger = 'spawn' "
        "AND container IS NOT NULL ORDER BY run_id LIMIT 1"
    )
    page = client.get(f"/workers/{quote(done_id)}")
    assert page.status_code == 200
    assert html.escape(logs.strip()) in page.text
    assert client.get("/workers/cmo:manual:none").status_code == 404

    # A worker starts (as a requester's run spawns it) and its log lands when it ends.
    kind = workers.kinds(day.org)[0]
    run_id = f"{kind}:spawn:cmo:manual:live-test#0"
    started = dt.datetime.now(dt.UTC)
    assert day.memory.begin_run(run_id=run_id, agent_id=kind, trigger="spawn", at=started) is None
    with served(day) as base, events(f"{base}/live/workers/{quote(run_id)}") as found:
        name, first = next_event(found, within=10)
        assert (name, first["status"], first["logs"], first["finished"]) == (
            "log",
            "running",
            "",
            False,
        )
        assert run_id in client.get("/workers").text  # running now
        day.memory.record_container(
            run_id,
            container={
                "kind": "worker",
                "name": "aito-worker-live-test",
                "image": "aito:latest",
                "status": "exited",
                "exit_code": 0,
                "seconds": 1.5,
                "logs": "answer handed in: 1 action(s)\n",
            },
        )
        day.memory.finish_run(run_id, status="completed", at=started + dt.timedelta(seconds=2))
        name, data = next_event(found, within=3)
        assert name == "log" and data["status"] == "completed" and data["finished"]
        assert data["logs"] == "answer handed in: 1 action(s)\n"
        assert data["container"]["exit_code"] == 0 and "logs" not in data["container"]
        assert next_event(found, within=3)[0] == "end"


def test_an_agents_memory_search_shows_what_its_recall_finds(day: Day, client: TestClient) -> None:
    query = "community growth campaign"
    response = client.get("/agents/cmo", params={"q": query})
    assert response.status_code == 200
    assert 'name="q"' in response.text and 'method="get"' in response.text
    found = recalling.recall(
        day.memory, offline.MiniLMEmbedder(), agent_id="cmo", query=query, k=10, recent=0
    )
    assert found, "the CMO remembers its day"
    shown = re.findall(r"<tr data-memory>(.*?)</tr>", response.text, flags=re.S)
    assert len(shown) == len(found)
    for item, row in zip(found, shown, strict=True):
        seen = text_of(row)
        assert item.score is not None and f"{item.score:.3f}" in seen
        assert item.summary[:60] in seen
        assert item.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") in seen
    assert "<tr data-memory>" not in client.get("/agents/cmo").text  # no query, no search


def test_a_run_page_shows_its_tokens_cache_and_the_replay_command(
    day: Day, client: TestClient, run_aito: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    [(run_id,)] = day.query(
        "SELECT run_id FROM agent_runs WHERE status = 'completed' AND trigger <> 'spawn' "
        "AND (exchanges->0->'response'->'usage'->>'cache_read_tokens')::int > 0 "
        "ORDER BY started_at, run_id LIMIT 1"
    )
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200
    record = day.memory.run_record(run_id)
    assert record is not None
    for index, exchange in enumerate(record["exchanges"], start=1):
        usage = exchange["response"]["usage"]
        row = row_of(response.text, f'data-call="{index}"')
        for key in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens"):
            assert f"{usage[key]:,}" in row, key
    parts = [text_of(p) for p in re.findall(r"<tr data-part>(.*?)</tr>", response.text, re.S)]
    assert any("cached (read)" in p for p in parts)  # the system prefix came from the cache
    request = record["exchanges"][0]["request"]
    for heading in re.findall(r"^## (.+)$", request["prompt"], flags=re.M):
        assert any(p.strip().startswith(heading.strip()) and "not cached" in p for p in parts), (
            heading
        )
    command = f"aito agent replay {run_id}"
    assert f'<code data-field="replay">{command}</code>' in response.text
    monkeypatch.setenv("POSTGRES_URL", day.url)
    monkeypatch.setenv("REDIS_URL", day.redis_url)
    replayed = run_aito("--repo", str(day.report.repo), *command.split()[1:])
    assert replayed.code == 0, replayed.err  # the command shown reproduces the run


def test_a_decision_page_is_a_timeline_of_votes_with_their_commit_and_the_countdown(
    day: Day, client: TestClient, run_aito: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    [major] = [d for d in day.report.decisions if d.tier == "major"]
    [(decision_id, rounds)] = day.query(
        "SELECT id, rounds FROM decisions WHERE pr_number = %s", major.pr
    )
    page = client.get(f"/decisions/{decision_id}")
    assert page.status_code == 200
    voted = [r for r in rounds if r["votes"]]
    assert voted, "the major decision was voted on"
    for r in voted:
        section = re.search(rf'<li data-round="{r["round"]}">(.*?)</li>', page.text, re.S)
        assert section, r["round"]
        for voter, vote in r["votes"].items():
            ballot = r["ballots"][voter]
            row = row_of(section[1], f'data-vote="{voter}"')
            at = dt.datetime.fromisoformat(ballot["at"]).strftime("%Y-%m-%d %H:%M UTC")
            assert vote in row and at in row and ballot["sha"][:12] in row
    assert "Time left" not in page.text  # decided: no countdown

    # A new major decision in its first round: the CEO's vote so far, the deadline ahead.
    monkeypatch.setenv("POSTGRES_URL", day.url)
    monkeypatch.setenv("REDIS_URL", day.redis_url)
    repo = ("--repo", str(day.report.repo))
    proposed = run_aito(
        *repo, "decide", "propose", "--as", "cmo", "--tier", "major",
        "--title", "A weekly newsletter", "--body", "Readers ask for it.", "--json",
    )  # fmt: skip
    assert proposed.code == 0, proposed.err
    number = json.loads(proposed.out)["pr"]
    voted = run_aito(*repo, "decide", "review", str(number), "--as", "ceo", "--approve")
    assert voted.code == 0, voted.err
    tallied = run_aito(*repo, "decide", "tally", str(number), "--json")
    assert tallied.code == 0, tallied.err
    verdict = json.loads(tallied.out)
    verdict = verdict[0] if isinstance(verdict, list) else verdict
    assert verdict["status"] == "pending" and verdict["round"] == 1
    current = verdict["current"]
    ballot = current["ballots"]["ceo"]
    [(new_id, due)] = day.query("SELECT id, due FROM decisions WHERE pr_number = %s", number)
    later = dt.datetime.fromisoformat(ballot["at"]) + dt.timedelta(minutes=90)
    source = source_of(day)
    clocked = dataclasses.replace(source, clock=lambda: later)
    with TestClient(app.create_app(clocked)) as http:
        open_page = http.get(f"/decisions/{new_id}")
    assert open_page.status_code == 200
    left = int((due - later).total_seconds())
    assert left > 0
    countdown = re.search(r'<p data-field="countdown">(.*?)</p>', open_page.text, re.S)
    assert countdown, "an open round shows the time left"
    seen = text_of(countdown[1])
    assert f"{left // 3600} h {left % 3600 // 60} min" in seen
    assert due.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") in seen
    first = re.search(r'<li data-round="1">(.*?)</li>', open_page.text, flags=re.S)
    assert first and ", open" in first[1]
    row = row_of(first[1], 'data-vote="ceo"')
    at = dt.datetime.fromisoformat(ballot["at"]).strftime("%Y-%m-%d %H:%M UTC")
    assert "approve" in row and at in row and ballot["sha"][:12] in row
    assert f'href="{verdict.get("url") or ""}' in open_page.text or f"#{number}" in open_page.text


def test_costs_are_charted_per_agent_day_and_model_against_the_limits(
    day: Day, client: TestClient
) -> None:
    response = client.get("/costs", params={"days": "3"})
    assert response.status_code == 200
    since = dt.datetime.combine(day.now.date() - dt.timedelta(days=2), dt.time(), dt.UTC)
    per_model: dict[str, float] = {}
    agents: set[str] = set()
    for row in day.memory.usage_summary(since=since):
        per_model[row["model"]] = per_model.get(row["model"], 0.0) + row["cost_usd"]
        agents.add(row["agent_id"])
    assert per_model
    for model, cost in per_model.items():
        assert budgets.money(round(cost, 6)) in row_of(response.text, f'data-model="{model}"')
    for agent_id in agents:
        chart = re.search(
            rf'<figure data-chart="{agent_id}">(.*?)</figure>', response.text, flags=re.S
        )
        assert chart, agent_id
        assert '<line class="limit"' in chart[1]  # the daily limit drawn across
        assert "<rect" in chart[1]
        # a bar per day of the window (3), the days it spent nothing empty
        assert chart[1].count("<g>") == 3, agent_id
