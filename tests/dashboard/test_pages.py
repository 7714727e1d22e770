"""The dashboard's pages over a real simulated day (`aito demo`'s), through HTTP.

One simulated day of the example organization fills a database of its own (runs,
actions, decisions with their rounds, tasks, events, model usage); each test asks the
Starlette app for a page through its test client and checks what a person would read
there against the same database.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.dashboard_day import Day, row_of, text_of

from aito.bus import budgets
from aito.views import budgets as cost_budgets
from aito.views import paging


def test_organization_shows_every_agent_with_its_live_state(day: Day, client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert '<main id="main">' in response.text and "<nav" in response.text
    seen = text_of(response.text)
    assert day.org.org.name in seen
    today = dt.datetime.combine(day.now.date(), dt.time(), dt.UTC)
    spent: dict[str, float] = {}
    for row in day.memory.usage_summary(since=today):
        spent[row["agent_id"]] = spent.get(row["agent_id"], 0.0) + row["cost_usd"]
    beats = dict(day.query("SELECT id, last_heartbeat FROM agents"))
    for agent_id, spec in day.org.agents.items():
        row = row_of(response.text, f'href="/agents/{agent_id}"')
        assert spec.name in row
        assert spec.layer.value in row
        limit = budgets.money(spec.budget.daily_usd)
        assert f"{budgets.money(round(spent.get(agent_id, 0.0), 6))} of {limit}" in row
        if beats.get(agent_id) is None:
            assert "never" in row
        else:
            assert " ago" in row
    ceo = row_of(response.text, 'href="/agents/ceo"')
    schedule = day.org.schedule("ceo")
    assert schedule is not None
    nxt = schedule.next_slot(day.now, stagger_key="ceo")
    assert nxt > day.now
    assert nxt.strftime("%Y-%m-%d %H:%M UTC") in ceo


def test_an_agent_page_shows_profile_authority_git_budgets_and_runs(
    day: Day, client: TestClient
) -> None:
    spec = day.org.agents["cmo"]
    response = client.get("/agents/cmo")
    assert response.status_code == 200
    seen = text_of(response.text)
    assert spec.name in seen
    for path in spec.git.paths:
        assert path in seen
    for item in spec.authority.alone + spec.authority.needs_ceo:
        assert item in seen
    assert budgets.money(spec.budget.daily_usd) in seen
    assert budgets.money(spec.budget.monthly_usd) in seen
    assert day.org.profiles["cmo"].title in seen  # the profile's own text
    newest = day.memory.runs(agent_id="cmo", limit=3)
    assert newest, "the simulated day woke the CMO"
    for run in newest:
        assert f'href="/runs/{run["run_id"]}"' in response.text
    assert 'role="img"' in response.text  # the budget gauges


def test_unknown_agent_run_and_decision_are_404(client: TestClient) -> None:
    for path in ("/agents/nobody", "/runs/nobody:manual:none", "/decisions/no-such-decision"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text
        assert "nobody" in response.text or "no-such-decision" in response.text


def test_a_run_page_shows_the_context_the_answer_each_action_and_the_cost(
    day: Day, client: TestClient
) -> None:
    [(run_id, cost)] = day.query(
        "SELECT r.run_id, r.cost_usd FROM agent_runs r WHERE r.status = 'completed' AND "
        "EXISTS (SELECT 1 FROM agent_actions a WHERE a.run_id = r.run_id AND a.action_type "
        "<> 'summary') ORDER BY r.started_at, r.run_id LIMIT 1"
    )
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200
    seen = text_of(response.text)
    assert budgets.money(float(cost)) in seen
    for position, action in day.memory.actions_of(run_id).items():
        row = row_of(response.text, f'<td class="num">{position}</td>')
        assert action["action_type"] in row
        assert action["status"] in row
        if action["reason"]:
            assert action["reason"][:40] in row
    record = day.memory.run_record(run_id)
    assert record is not None
    prompt = record["exchanges"][0]["request"]["prompt"]
    for heading in re.findall(r"^## (.+)$", prompt, flags=re.M):
        assert f"<summary>{html.escape(heading.strip())}</summary>" in response.text
    calls = record["exchanges"][0]["response"]["tool_calls"]
    for call in calls:
        assert f"<code>{call['name']}</code>" in response.text


def test_decisions_are_listed_filtered_by_status_and_shown_with_their_rounds(
    day: Day, client: TestClient
) -> None:
    rows = day.query("SELECT id, title, status FROM decisions ORDER BY id")
    assert rows, "the simulated day made decisions"
    listed = client.get("/decisions")
    assert listed.status_code == 200
    for decision_id, title, status in rows:
        row = row_of(listed.text, f'href="/decisions/{decision_id}"')
        assert title in row and status in row
    approved = client.get("/decisions", params={"status": "approved"})
    assert approved.status_code == 200
    for decision_id, _, status in rows:
        shown = f'href="/decisions/{decision_id}"' in approved.text
        assert shown == (status == "approved"), decision_id
    assert f"approved ({sum(1 for r in rows if r[2] == 'approved')})" in text_of(approved.text)
    [major] = [d for d in day.report.decisions if d.tier == "major"]
    [(major_id, major_title)] = day.query(
        "SELECT id, title FROM decisions WHERE pr_number = %s", major.pr
    )
    page = client.get(f"/decisions/{major_id}")
    assert page.status_code == 200
    seen = text_of(page.text)
    assert major_title in seen
    for number in (1, 2, 3):
        assert f"Round {number}" in seen
    assert "shiba-maintainer" in seen  # who broke the tie
    assert client.get("/decisions", params={"status": "nonsense"}).status_code == 400


def test_tasks_are_a_board_by_status(
    day: Day, client: TestClient, run_aito: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTGRES_URL", day.url)
    monkeypatch.setenv("REDIS_URL", day.redis_url)
    synced = run_aito("--repo", str(day.report.repo), "up")  # mirrors org/tasks/ in Postgres
    assert synced.code == 0, synced.err
    rows = day.query("SELECT id, title, status FROM tasks")
    assert rows, "the simulated day made tasks"
    response = client.get("/tasks")
    assert response.status_code == 200
    columns = dict(
        re.findall(r'<section aria-labelledby="col-([a-z_]+)">(.*?)</section>', response.text, re.S)
    )
    assert set(columns) == {"pending", "in_progress", "blocked", "done", "cancelled"}
    for task_id, title, status in rows:
        assert task_id in columns[status] and title in text_of(columns[status])
        others = [c for s, c in columns.items() if s != status]
        assert not any(task_id in c for c in others)


def test_events_are_paged_newest_first_and_filtered_by_type_and_agent(
    day: Day, client: TestClient
) -> None:
    [(total,)] = day.query("SELECT count(*) FROM events")
    assert total > 100, "a day's audit log spans several pages"
    seen_ids: list[str] = []
    path: str | None = "/events"
    pages = 0
    while path and pages < 3:
        response = client.get(path)
        assert response.status_code == 200
        rows = re.findall(r"<tr>\s*<td>(.*?)</td>", response.text, flags=re.S)
        seen_ids += rows
        found = re.search(r'href="(/events\?after=[^"]+)" rel="next"', response.text)
        path = html.unescape(found[1]) if found else None
        pages += 1
    assert pages == 3 and len(seen_ids) == 150
    times = [dt.datetime.strptime(t, "%Y-%m-%d %H:%M UTC") for t in seen_ids]
    assert times == sorted(times, reverse=True)
    [(newest,)] = day.query("SELECT max(created_at) FROM events")
    assert seen_ids[0] == newest.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    woke = client.get("/events", params={"type": "agent.woke", "agent": "cmo"})
    assert woke.status_code == 200
    rows = re.findall(r"<tr>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>", woke.text)
    [(count,)] = day.query(
        "SELECT count(*) FROM events WHERE event_type = 'agent.woke' AND source_agent = 'cmo'"
    )
    assert len(rows) == min(count, 50) and count > 0
    assert all(row == ("agent.woke", "cmo") for row in rows)
    assert client.get("/events", params={"after": "not-a-cursor"}).status_code == 400


def test_costs_show_each_budget_and_each_agents_days_against_limits(
    day: Day, client: TestClient
) -> None:
    response = client.get("/costs", params={"days": "3"})
    assert response.status_code == 200
    since = dt.datetime.combine(day.now.date() - dt.timedelta(days=2), dt.time(), dt.UTC)
    per_day: dict[tuple[str, str], float] = {}
    for row in day.memory.usage_summary(since=since):
        key = (row["day"].isoformat(), row["agent_id"])
        per_day[key] = per_day.get(key, 0.0) + row["cost_usd"]
    assert per_day, "the simulated day spent (simulated) money"
    seen = text_of(response.text)
    for (day_text, agent_id), cost in per_day.items():
        limit = day.org.agents[agent_id].budget.daily_usd
        share = f"{cost / limit:.0%}"
        assert f"{day_text} {agent_id} {budgets.money(round(cost, 6))}" in seen
        assert share in seen
    org_limit = budgets.money(day.org.org.budget.daily_usd)
    assert f"of {org_limit}" in row_of(response.text, '<th scope="row">organization')
    assert client.get("/costs", params={"days": "0"}).status_code == 400


def test_the_cli_lists_the_runs_the_dashboard_shows(
    day: Day, client: TestClient, run_aito: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTGRES_URL", day.url)
    monkeypatch.setenv("REDIS_URL", day.redis_url)
    result = run_aito("--repo", str(day.report.repo), "agent", "runs", "--agent", "cto")
    assert result.code == 0, result.err
    page = client.get("/agents/cto")
    for run_id in re.findall(r"\s(cto:\S+)$", result.out, flags=re.M):
        assert f'href="/runs/{run_id}"' in page.text


def test_no_secret_is_rendered(
    day: Day, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-ant-" + uuid.uuid4().hex
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    monkeypatch.setenv("AITO_GITHUB_TOKEN", secret)
    for path in ("/", "/agents/ceo", "/decisions", "/tasks", "/events", "/costs"):
        response = client.get(path)
        assert response.status_code == 200
        assert secret not in response.text
        assert day.url not in response.text


def test_the_costs_table_is_paged_newest_day_first_and_every_row_once() -> None:
    """92 days of 11 agents is 1,012 rows: the page shows them 50 at a time, each once."""
    rows = [
        cost_budgets.DailyCost(
            agent_id=f"agent-{n}", day=f"2026-{m:02d}-{d:02d}", cost_usd=1.0,
            simulated=False, limit_usd=5.0,
        )
        for m in (3, 2, 1) for d in range(28, 0, -1) for n in range(11)
    ]  # fmt: skip
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = cost_budgets.daily_page(rows, limit=50, cursor=cursor)
        assert len(page.items) <= 50
        seen += [(r.day, r.agent_id) for r in page.items]
        if page.next is None:
            break
        cursor = page.next
    assert seen == [(r.day, r.agent_id) for r in rows]
    with pytest.raises(paging.BadCursor):
        cost_budgets.daily_page(rows, limit=50, cursor="garbage")
