"""Spend per day from the rollup of settled days (migration 0012): the same figures as
the calls themselves, and a call written late, or a run found simulated later, counted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from aito.memory.base import UsageRow
from aito.memory.postgres import PostgresMemory


def midnight() -> dt.datetime:
    """Today's start in UTC, read when a test runs (a suite may cross midnight)."""
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def settled_before_yesterday(days: list[dt.date]) -> list[dt.date]:
    """The days the rollup may hold: those before yesterday by the clock of this moment."""
    return [d for d in days if d < (midnight() - dt.timedelta(days=1)).date()]


def call(run_id: str | None, at: dt.datetime, cost: float, *, agent: str = "cmo") -> UsageRow:
    return UsageRow(
        agent_id=agent,
        run_id=run_id,
        model="claude-sonnet-4-5",
        input_tokens=1000,
        output_tokens=100,
        cache_write_tokens=10,
        cache_read_tokens=1,
        cost_usd=cost,
        latency_ms=int(cost * 1000),
        created_at=at,
    )


def run(store: PostgresMemory, run_id: str, at: dt.datetime, provider: str) -> None:
    store.begin_run(run_id=run_id, agent_id="cmo", trigger="schedule", at=at)
    store.finish_run(run_id, status="completed", at=at, provider=provider)


def from_calls(url: str, since: dt.datetime, until: dt.datetime | None = None) -> list[Any]:
    """The figures summed straight from the calls (what usage_summary read before 0012)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT u.agent_id, (u.created_at AT TIME ZONE 'UTC')::date, u.model, "
            "COALESCE(r.provider IN ('offline', 'replay'), false), count(*), "
            "sum(u.cost_usd)::float8, percentile_cont(0.5) WITHIN GROUP (ORDER BY u.latency_ms) "
            "FROM model_usage u LEFT JOIN agent_runs r USING (run_id) "
            "WHERE u.created_at >= %s AND (%s::timestamptz IS NULL OR u.created_at < %s) "
            "GROUP BY 1, 2, 3, 4 ORDER BY 2, 1, 3, 4",
            (since, until, until),
        ).fetchall()


def summary(store: PostgresMemory, since: dt.datetime, until: dt.datetime | None = None) -> list:
    return [
        (
            r["agent_id"],
            r["day"],
            r["model"],
            r["simulated"],
            r["calls"],
            round(r["cost_usd"], 6),
            r["latency_p50_ms"],
        )
        for r in store.usage_summary(since=since, until=until)
    ]


def rolled_days(url: str) -> list[dt.date]:
    with psycopg.connect(url) as conn:
        return [d for (d,) in conn.execute("SELECT day FROM model_usage_days_rolled ORDER BY 1")]


def test_settled_days_read_from_their_rollup_match_the_calls_and_follow_late_writes(
    store: PostgresMemory, postgres_url: str
) -> None:
    today = midnight()
    day1 = today - dt.timedelta(days=9)  # settled days: rolled up when first read
    run(store, "cmo:real", day1, "anthropic")
    run(store, "cmo:offline", day1, "offline")
    for day in range(9):  # the nine days before today, then today
        at = day1 + dt.timedelta(days=day, hours=10)
        store.record_usage(call("cmo:real", at, 0.5 + day))
        store.record_usage(call("cmo:offline", at + dt.timedelta(hours=1), 0.25))
        store.record_usage(call(None, at, 0.125, agent="cto"))
    store.record_usage(call("cmo:real", today + dt.timedelta(minutes=5), 3.0))

    first = summary(store, day1)
    assert first == [(*row[:5], round(row[5], 6), row[6]) for row in from_calls(postgres_url, day1)]
    assert len(first) == 9 * 3 + 1
    settled = settled_before_yesterday([(day1 + dt.timedelta(days=n)).date() for n in range(9)])
    assert len(settled) >= 8
    assert rolled_days(postgres_url) == settled
    assert summary(store, day1) == first  # now read from the rollup

    # A call written late into a rolled-up day is counted at once.
    store.record_usage(call("cmo:real", day1 + dt.timedelta(days=2, hours=20), 7.0))
    later = summary(store, day1)
    day3 = [row for row in later if row[1] == settled[2] and row[0] == "cmo" and not row[3]]
    assert day3 == [("cmo", settled[2], "claude-sonnet-4-5", False, 2, 9.5, 4750.0)]
    assert later == [(*row[:5], round(row[5], 6), row[6]) for row in from_calls(postgres_url, day1)]

    # A run found simulated after its days were rolled up: its spend moves to simulated.
    store.finish_run("cmo:real", status="completed", at=day1, provider="replay")
    moved = summary(store, day1)
    assert not [row for row in moved if row[0] == "cmo" and not row[3]]
    assert moved == [(*row[:5], round(row[5], 6), row[6]) for row in from_calls(postgres_url, day1)]


def test_a_window_that_starts_or_ends_inside_a_day_counts_only_its_hours(
    store: PostgresMemory, postgres_url: str
) -> None:
    day1 = midnight() - dt.timedelta(days=9)
    for hours in range(0, 24 * 6, 5):
        store.record_usage(call(None, day1 + dt.timedelta(hours=hours), 1.0 + hours))
    since, until = day1 + dt.timedelta(hours=13), day1 + dt.timedelta(days=4, hours=7)
    summary(store, day1)  # every settled day rolled up
    expected = [(*r[:5], round(r[5], 6), r[6]) for r in from_calls(postgres_url, since, until)]
    assert summary(store, since, until) == expected
    assert sum(row[4] for row in expected) == len(range(13, 24 * 4 + 7, 5))
