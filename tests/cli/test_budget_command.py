"""`aito budget`: spend per agent, day and model from Postgres, against the org's limits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from aito.bus import budgets
from aito.bus.redis import RedisBus
from aito.memory.base import UsageRow
from aito.memory.postgres import PostgresMemory


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, redis_url: str, example_repo: Path
) -> tuple[str, ...]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    return ("--repo", str(example_repo))


def usage(
    agent_id: str, model: str, cost: float, at: dt.datetime, *, latency: int = 1000
) -> UsageRow:
    return UsageRow(
        agent_id=agent_id,
        run_id=None,
        model=model,
        input_tokens=1000,
        output_tokens=200,
        cache_write_tokens=0,
        cache_read_tokens=300,
        cost_usd=cost,
        latency_ms=latency,
        created_at=at,
    )


@pytest.fixture
def spending(memory: PostgresMemory) -> dt.datetime:
    """Calls by cmo and ceo today, cmo 3 days ago and 20 days ago; returns now."""
    memory.migrate()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    memory.record_usage(usage("cmo", "claude-sonnet-4-5", 0.03, now, latency=1000))
    memory.record_usage(usage("cmo", "claude-sonnet-4-5", 0.02, now, latency=3000))
    memory.record_usage(usage("cmo", "claude-haiku-4-5", 0.001, now))
    memory.record_usage(usage("ceo", "claude-opus-4-1", 0.5, now))
    memory.record_usage(usage("cmo", "claude-sonnet-4-5", 1.0, now - dt.timedelta(days=3)))
    memory.record_usage(usage("cmo", "claude-sonnet-4-5", 2.0, now - dt.timedelta(days=20)))
    return now


def test_json_shows_spend_per_agent_day_and_model(cli_env, run_aito, spending) -> None:  # type: ignore[no-untyped-def]
    result = run_aito(*cli_env, "budget", "--json")

    assert result.code == 0, result.err
    data = json.loads(result.out)
    today, three_ago = spending.date(), (spending - dt.timedelta(days=3)).date()
    assert data["days"] == 7 and data["agent"] is None
    assert data["since"] == (today - dt.timedelta(days=6)).isoformat()
    rows = {(u["day"], u["agent_id"], u["model"]): u for u in data["usage"]}
    assert set(rows) == {
        (three_ago.isoformat(), "cmo", "claude-sonnet-4-5"),
        (today.isoformat(), "ceo", "claude-opus-4-1"),
        (today.isoformat(), "cmo", "claude-haiku-4-5"),
        (today.isoformat(), "cmo", "claude-sonnet-4-5"),
    }  # 20 days ago is outside the 7 days
    sonnet = rows[(today.isoformat(), "cmo", "claude-sonnet-4-5")]
    assert sonnet == {
        "agent_id": "cmo",
        "day": today.isoformat(),
        "model": "claude-sonnet-4-5",
        "simulated": False,
        "calls": 2,
        "input_tokens": 2000,
        "output_tokens": 400,
        "cache_write_tokens": 0,
        "cache_read_tokens": 600,
        "tokens": 3000,
        "cost_usd": 0.05,
        "latency_p50_ms": 2000.0,
    }


def test_json_shows_budgets_against_the_limits_and_reservations(  # type: ignore[no-untyped-def]
    cli_env, run_aito, spending, bus: RedisBus
) -> None:
    held = budgets.BudgetLedger(bus).reserve(
        reservation_id="in-flight",
        limits=[budgets.Limit(scope="agent:cmo", period="day", usd=6.0)],
        usd=0.25,
        tokens=4000,
        now=spending,
    )
    assert isinstance(held, budgets.Reservation)

    data = json.loads(run_aito(*cli_env, "budget", "--json").out)

    table = {row["scope"]: row for row in data["budgets"]}
    assert next(iter(table)) == "org" and len(table) == 12  # the org and its 11 agents
    cmo, org = table["agent:cmo"], table["org"]
    assert cmo["agent_id"] == "cmo"
    assert cmo["day"] == {
        "period": spending.strftime("%Y-%m-%d"),
        "spent_usd": 0.051,
        "simulated_usd": 0.0,
        "spent_tokens": 4500,
        "limit_usd": 6.0,
        "limit_tokens": None,
        "reserved_usd": 0.25,
        "reserved_tokens": 4000,
    }
    same_month = [
        d for d in (0, 3, 20) if (spending - dt.timedelta(days=d)).month == spending.month
    ]
    cost = {0: 0.051, 3: 1.0, 20: 2.0}
    assert cmo["month"]["period"] == spending.strftime("%Y-%m")
    assert cmo["month"]["spent_usd"] == pytest.approx(sum(cost[d] for d in same_month))
    assert cmo["month"]["limit_usd"] == 150.0
    assert org["day"]["spent_usd"] == 0.551 and org["day"]["limit_usd"] == 60.0
    assert org["month"]["limit_usd"] == 1500.0 and org["day"]["reserved_usd"] == 0.0


def test_table_output(cli_env, run_aito, spending) -> None:  # type: ignore[no-untyped-def]
    result = run_aito(*cli_env, "budget")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    sonnet = next(
        line
        for line in lines
        if "cmo" in line
        and "claude-sonnet-4-5" in line
        and line.startswith(spending.strftime("%Y-%m-%d"))
    )
    assert sonnet.split()[3:] == ["2", "2,000", "400", "600", "$0.05", "2.0s"]
    assert any(line.split()[:2] == ["total", "5"] for line in lines)
    org = next(line for line in lines if line.startswith("org "))
    assert "$0.551 of $60.00 (1%)" in org
    cmo = next(line for line in lines if line.startswith("agent cmo "))
    assert "$0.051 of $6.00 (1%)" in cmo and cmo.rstrip().endswith("4,500")
    assert "hard limits checked before each model call" in result.out


def test_one_agent_and_a_longer_window(cli_env, run_aito, spending) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(run_aito(*cli_env, "budget", "--agent", "ceo", "--days", "30", "--json").out)

    assert {u["agent_id"] for u in data["usage"]} == {"ceo"}
    assert [row["scope"] for row in data["budgets"]] == ["org", "agent:ceo"]
    assert data["budgets"][1]["day"]["limit_usd"] == 12.0
    cmo = json.loads(run_aito(*cli_env, "budget", "--agent", "cmo", "--days", "30", "--json").out)
    assert len(cmo["usage"]) == 4  # today (2 models), 3 and 20 days ago


def test_an_unknown_agent_is_a_usage_error(cli_env, run_aito) -> None:  # type: ignore[no-untyped-def]
    result = run_aito(*cli_env, "budget", "--agent", "nobody")
    assert result.code == 2 and "no agent 'nobody'" in result.err


def test_no_usage_yet(cli_env, run_aito) -> None:  # type: ignore[no-untyped-def]
    result = run_aito(*cli_env, "budget")
    assert result.code == 0, result.err
    assert "no model calls recorded" in result.out and "$0.00 of $6.00 (0%)" in result.out


def test_help_teaches_what_budgets_are(run_aito) -> None:  # type: ignore[no-untyped-def]
    out = run_aito("budget", "--help").out
    assert "hard limits" in out and "Before every model call" in out


def test_offline_spend_is_labelled_simulated(  # type: ignore[no-untyped-def]
    cli_env, run_aito, memory: PostgresMemory
) -> None:
    assert run_aito(*cli_env, "budget").code == 0  # registers the agents
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for run_id, provider, cost in (
        ("cmo:manual:a", "offline", 0.25),
        ("cmo:manual:b", "anthropic", 0.5),
    ):
        memory.begin_run(run_id=run_id, agent_id="cmo", trigger="manual", at=now)
        memory.finish_run(run_id, status="completed", at=now, provider=provider, cost_usd=cost)
        memory.record_usage(
            dataclasses.replace(usage("cmo", "claude-sonnet-4-5", cost, now), run_id=run_id)
        )

    data = json.loads(run_aito(*cli_env, "budget", "--agent", "cmo", "--json").out)
    by_kind = {u["simulated"]: u["cost_usd"] for u in data["usage"]}
    assert by_kind == {True: 0.25, False: 0.5}
    cmo = data["budgets"][1]
    assert cmo["day"]["spent_usd"] == 0.75 and cmo["day"]["simulated_usd"] == 0.25
    text = run_aito(*cli_env, "budget", "--agent", "cmo").out
    assert "$0.25*" in text and "* simulated: $0.25" in text

    runs = json.loads(run_aito(*cli_env, "agent", "runs", "--json").out)
    assert {r["run_id"]: r["simulated"] for r in runs} == {
        "cmo:manual:a": True,
        "cmo:manual:b": False,
    }
    listing = run_aito(*cli_env, "agent", "runs")
    simulated_line = next(line for line in listing.out.splitlines() if "cmo:manual:a" in line)
    real_line = next(line for line in listing.out.splitlines() if "cmo:manual:b" in line)
    assert "simulated" in simulated_line and "simulated" not in real_line


def test_agent_runs_json_has_numbers_and_iso_times(  # type: ignore[no-untyped-def]
    cli_env, run_aito, memory: PostgresMemory
) -> None:
    assert run_aito(*cli_env, "budget").code == 0  # registers the agents
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    memory.begin_run(run_id="cmo:manual:a", agent_id="cmo", trigger="manual", at=now)
    memory.finish_run("cmo:manual:a", status="completed", at=now, provider="x", cost_usd=0.25)

    [run] = json.loads(run_aito(*cli_env, "agent", "runs", "--json").out)

    assert run["cost_usd"] == 0.25  # a number, as in `budget --json`, not the text "0.25"
    assert dt.datetime.fromisoformat(run["started_at"]) == now
    assert "T" in run["started_at"] and "T" in run["finished_at"]
