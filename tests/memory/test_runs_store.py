"""What the loop keeps for crash safety: usage once per call, verdicts newest first, and
records that cannot fail on text Postgres refuses."""

from __future__ import annotations

import datetime as dt

import pytest

from aito.memory.base import UsageRow
from aito.memory.postgres import PostgresMemory

T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def usage(run_id: str | None, exchange: int | None, cost: float = 0.25) -> UsageRow:
    return UsageRow(
        agent_id="cmo",
        run_id=run_id,
        model="claude-sonnet-4-5",
        input_tokens=1000,
        output_tokens=100,
        cache_write_tokens=0,
        cache_read_tokens=0,
        cost_usd=cost,
        latency_ms=800,
        created_at=T0,
        exchange=exchange,
    )


def test_a_calls_usage_is_written_once_however_often_it_is_recorded(
    store: PostgresMemory,
) -> None:
    assert store.record_usage(usage("cmo:schedule:1", 0)) is True
    assert store.record_usage(usage("cmo:schedule:1", 0, cost=9.0)) is False  # a recovery
    assert store.record_usage(usage("cmo:schedule:1", 1)) is True  # the retry: a call of its own
    assert store.record_usage(usage("cmo:schedule:2", 0)) is True
    assert store.spent(agent_id="cmo", since=T0) == (0.75, 3300)


def test_usage_without_a_call_index_is_never_merged(store: PostgresMemory) -> None:
    assert store.record_usage(usage("r", None)) is True
    assert store.record_usage(usage("r", None)) is True
    assert store.record_usage(usage(None, None)) is True
    assert store.spent(agent_id="cmo", since=T0)[0] == pytest.approx(0.75)


def test_the_newest_verdict_of_a_pull_request_is_kept(store: PostgresMemory) -> None:
    def verdict(stage: str, at: dt.datetime, head: str = "abc") -> None:
        store.store_verdict(
            pr=7,
            decision_id="d-1",
            head_sha=head,
            status="pending",
            verdict={"stage": stage},
            tallied_at=at,
        )

    verdict("vote", T0)
    verdict("analysis", T0 + dt.timedelta(hours=25), head="def")
    verdict("vote", T0 + dt.timedelta(hours=1))  # a slow, older tally finishing late
    assert store.verdicts([7, 8]) == {
        7: {
            "pr": 7,
            "decision_id": "d-1",
            "head_sha": "def",
            "status": "pending",
            "verdict": {"stage": "analysis"},
            "tallied_at": T0 + dt.timedelta(hours=25),
        }
    }
    assert store.verdicts([]) == {}


def test_records_hold_whatever_text_a_broken_reply_brought(store: PostgresMemory) -> None:
    run_id = "cmo:schedule:1"
    assert store.begin_run(run_id=run_id, agent_id="cmo", trigger="schedule", at=T0) is None
    nasty = "a\x00b\ud800c"
    store.save_exchanges(run_id, exchanges=[{"text": nasty, nasty: [nasty]}])
    store.mark_action(
        run_id=run_id,
        position=0,
        agent_id="cmo",
        action={"type": "summary", "text": nasty},
        content_hash="h",
        status="refused",
        at=T0,
        reason=nasty,
    )
    store.add_outcome(agent_id="cmo", kind="refused", summary=nasty, dedupe_key="k", at=T0)
    store.finish_run(run_id, status="failed", at=T0, summary=nasty, error=nasty)
    record = store.run_record(run_id)
    assert record is not None and record["status"] == "failed"
    assert record["error"] == "a\ufffdb\ufffdc"
    assert record["exchanges"] == [
        {"text": "a\ufffdb\ufffdc", "a\ufffdb\ufffdc": ["a\ufffdb\ufffdc"]}
    ]
    assert store.actions_of(run_id)[0]["reason"] == "a\ufffdb\ufffdc"
