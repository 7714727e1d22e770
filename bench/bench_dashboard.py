"""The dashboard's page server time at a year of history against the same pages young.

Issue: the run list, a decision page and the cost charts at a year of history (100,000
runs, 10,000 decisions) against the same pages at 1,000 runs, as a ratio; target at most
2x (pages are paged and indexed, never full scans).

The history is real: `aito demo`'s simulated day of the example organization (the
memory's own writes: runs with their model exchanges and plans, each action's fate,
model usage priced per model, the audit log, decisions with their rounds) is written
once into a database of its own, then copied server-side (INSERT ... SELECT over
generate_series) into fresh databases migrated by AITO itself, shifted in time and
renamed, at one rate (the day repeated every 12.9 hours: about 274 runs a day; the
events the demo stamps with the database's clock are put back on its simulated day),
each ending at the same moment:

- young: 1,000 runs (3.7 days), 100 decisions;
- a month: 8,500 runs (31 days), 850 decisions: windows of a month (this month's
  spend, the cost charts) are full here as at a year, so year/month tells what the
  length of the history costs, and year/young adds what fuller windows cost;
- a year: 100,000 runs, 10,000 decisions (about 27 a day; the last 48 hours' still
  pending, the others closed as approved, rejected, escalated or withdrawn, each with
  its status events and the tally's verdict).

Each page is asked through the real ASGI app (Starlette's test client: no network, no
browser), over a pooled PostgresMemory and the Redis budget ledger, as `aito dashboard`
serves it. The first request of the 92-day cost chart, which rolls the settled days up
(migration 0012), is timed alone; then, after warm-up requests (statements prepared,
pages in memory), each page is asked ``--repeat`` times, the datasets in turn. Figures:
p50 and p95 per page per dataset, and the ratios of the p50s.

On the embedded Postgres and Redis, in a temporary directory (``--keep DIR`` keeps them
and reuses the databases next time); no network.
Run: .venv/bin/python bench/bench_dashboard.py [--repeat 30] [--runs 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb
from starlette.testclient import TestClient

from aito.bus import budgets
from aito.bus.redis import RedisBus
from aito.dashboard import app
from aito.demo import simulating
from aito.memory import base
from aito.memory.postgres import PostgresMemory
from aito.org import loading
from aito.services import managing
from aito.settings import Settings
from aito.views import paging

TARGET = 2.0
"""A page at a year of history takes at most this many times its time when young."""
YEAR = dt.timedelta(days=365)
DECISIONS_PER_RUN = 0.1
"""10,000 decisions for 100,000 runs, 100 for 1,000."""
OPEN_FOR = dt.timedelta(hours=48)
"""Decisions younger than this are still pending; older ones are closed."""
CLOSED = ["approved"] * 12 + ["rejected"] * 4 + ["escalated", "withdrawn"]
NOW = dt.datetime(2026, 3, 31, 20, 0, tzinfo=dt.UTC)
"""The end of both histories: late in a month, so this month's spend spans 31 days
(the Costs page's and the budgets' longest window)."""


@dataclasses.dataclass
class Dataset:
    label: str
    url: str
    runs: int
    decisions: int
    middle_run: str = ""
    middle_decision: str = ""
    deep_cursor: str = ""
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    megabytes: float = 0.0
    seconds: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--runs", type=int, default=100_000, help="runs of the year's history")
    parser.add_argument("--young", type=int, default=1_000, help="runs of the young history")
    parser.add_argument("--month", type=int, default=8_500, help="runs of a month's history")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the services and databases in this directory, and reuse them next time",
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aito-bench-dashboard-") as tmp:
        root = options.keep or Path(tmp)
        settings = Settings.from_env({"AITO_DATA_DIR": str(root / "services")})
        services = managing.up(settings)
        try:
            run(root, services, options)
        finally:
            managing.down(settings)


def run(root: Path, services: managing.Endpoints, options: argparse.Namespace) -> None:
    admin = make_conninfo(services.postgres_url, dbname="postgres")
    seed_url = database(admin, "seed")
    started = time.perf_counter()
    if not (root / "demo").exists():
        report = simulating.run(
            target=root / "demo",
            env={"POSTGRES_URL": seed_url, "REDIS_URL": services.redis_url},
            seed=0,
            hours=24,
            echo=lambda _: None,
        )
        print(
            f"seed: aito demo's simulated day, {sum(report.runs.values())} runs, "
            f"in {time.perf_counter() - started:.0f} s"
        )
    org = loading.load_valid(root / "demo")
    sizes = {"young": options.young, "a month": options.month, "a year": options.runs}
    datasets = [
        Dataset(label, database(admin, f"runs_{runs}"), runs, round(runs * DECISIONS_PER_RUN))
        for label, runs in sizes.items()
    ]
    for found in datasets:
        started = time.perf_counter()
        if not generated(found.url):
            generate(found, seed_url, org)
        found.seconds = time.perf_counter() - started
        describe(found)
        print(
            f"{found.label}: {found.runs:,} runs, {found.decisions:,} decisions, ready in "
            f"{found.seconds:.0f} s; "
            + ", ".join(f"{table} {count:,}" for table, count in found.sizes.items())
            + f"; {found.megabytes:,.0f} MB"
        )
    bus = RedisBus(url=services.redis_url)
    try:
        results = measure(datasets, org, bus, options.repeat)
    finally:
        bus.close()
    young, month, year = (results[d.label] for d in datasets)
    print(
        f"page server time through the ASGI app, {options.repeat} requests each after "
        "warm-up, the datasets in turn (p50 / p95 ms; target: a year within "
        f"{TARGET:g}x of young)"
    )
    print(f"  {'page':30} {'young':>13} {'a month':>13} {'a year':>13}  year/young  year/month")
    worst = 0.0
    for page in young:
        ratio = year[page][0] / young[page][0]
        worst = max(worst, ratio)
        print(
            f"  {page:30} "
            + " ".join(
                f"{found[page][0]:5.1f} / {found[page][1]:5.1f}" for found in (young, month, year)
            )
            + f"  {ratio:8.2f}x  {year[page][0] / month[page][0]:8.2f}x"
            + ("" if ratio <= TARGET else "  (NOT met)")
        )
    print(f"worst year/young {worst:.2f}x: target {'met' if worst <= TARGET else 'NOT met'}")


def database(admin: str, name: str) -> str:
    PostgresMemory(url=admin).ensure_database(name)
    return make_conninfo(admin, dbname=name)


def pages(found: Dataset) -> dict[str, str]:
    """The pages timed: label -> path."""
    return {
        "organization /": "/",
        "agent ceo: recent runs": "/agents/ceo",
        "agent ceo: runs mid-history": f"/agents/ceo?after={found.deep_cursor}",
        "run (mid-history)": f"/runs/{found.middle_run}",
        "decisions": "/decisions",
        "decisions ?status=rejected": "/decisions?status=rejected",
        "decision (mid-history)": f"/decisions/{found.middle_decision}",
        "events": "/events",
        "events ?type=decision.status": "/events?type=decision.status",
        "events ?agent=cfo": "/events?agent=cfo",
        "costs (14 days, this month)": "/costs",
        "costs ?days=92": "/costs?days=92",
    }


def measure(
    datasets: list[Dataset], org: loading.Organization, bus: RedisBus, repeat: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """Each page of each dataset: p50 and p95 of ``repeat`` requests, the datasets asked
    in turn (so a busy moment of the machine weighs on each alike)."""
    with contextlib.ExitStack() as stack:
        clients = {}
        for found in datasets:
            memory = PostgresMemory(url=found.url, pool_size=4)  # as `aito dashboard` has it
            stack.callback(memory.close)
            source = app.Source(
                organization=lambda: org,
                memory=memory,
                ledger=budgets.BudgetLedger(bus),
                clock=lambda: NOW,
            )
            clients[found.label] = stack.enter_context(TestClient(app.create_app(source)))
        for found in datasets:  # the days of the longest chart rolled up (migration 0012)
            started = time.perf_counter()
            clients[found.label].get("/costs?days=92")
            elapsed = (time.perf_counter() - started) * 1000
            print(f"{found.label}: the first /costs?days=92 (92 days rolled up) {elapsed:.0f} ms")
        samples: dict[str, dict[str, list[float]]] = {d.label: {} for d in datasets}
        for number, label in enumerate(pages(datasets[0])):
            paths = {d.label: list(pages(d).values())[number] for d in datasets}
            for found in datasets:
                for _ in range(8):  # warm: psycopg prepares a statement on its 5th use
                    answer = clients[found.label].get(paths[found.label])
                    if answer.status_code != 200:
                        raise SystemExit(
                            f"{found.label} {paths[found.label]}: {answer.status_code}"
                        )
            for _ in range(repeat):
                for found in datasets:
                    started = time.perf_counter()
                    clients[found.label].get(paths[found.label])
                    elapsed = (time.perf_counter() - started) * 1000
                    samples[found.label].setdefault(label, []).append(elapsed)
    return {
        found: {page: percentiles(times) for page, times in pages_.items()}
        for found, pages_ in samples.items()
    }


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, math.ceil(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered), p95


# -- the history -------------------------------------------------------------------------

SEEDED = ("agent_runs", "agent_actions", "model_usage", "events", "decisions")


def generate(found: Dataset, seed_url: str, org: loading.Organization) -> None:
    """``found.runs`` runs copied from the seed day at its rate, ending at NOW, and
    ``found.decisions`` decisions over the same span, in a freshly migrated database."""
    memory = PostgresMemory(url=found.url)
    memory.migrate()
    memory.register_agents(base.agent_rows(org))
    memory.close()
    with psycopg.connect(seed_url) as seed, psycopg.connect(found.url, autocommit=True) as conn:
        for table in SEEDED:
            conn.execute(f"CREATE UNLOGGED TABLE seed_{table} (LIKE {table})")
            with (
                seed.cursor().copy(f"COPY {table} TO STDOUT (FORMAT BINARY)") as out,
                conn.cursor().copy(f"COPY seed_{table} FROM STDIN (FORMAT BINARY)") as into,
            ):
                for chunk in out:
                    into.write(chunk)
        per_day, first, last = _seed_span(conn)
        # The seed day repeated every `spacing`: the year's 100,000 runs fill 365 days.
        copies_in_year = math.ceil(100_000 / per_day)
        spacing = YEAR / copies_in_year
        copies = math.ceil(found.runs / per_day)
        base_shift = NOW - (last - first) - (copies - 1) * spacing - first
        shifts = {"base": base_shift, "spacing": spacing, "copies": copies, "runs": found.runs}
        _copy_runs(conn, shifts, per_day)
        start = NOW - (last - first) - (copies - 1) * spacing
        _decisions(conn, found, start)
        for table in SEEDED:
            conn.execute(f"DROP TABLE seed_{table}")
        conn.execute("VACUUM ANALYZE")  # what autovacuum does after a load


def generated(url: str) -> bool:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT to_regclass('agent_runs') IS NOT NULL").fetchone()
        if not (found and found[0]):
            return False
        return conn.execute("SELECT 1 FROM agent_runs LIMIT 1").fetchone() is not None


def describe(found: Dataset) -> None:
    """Rows per table, the database's size, and the pages' landmarks: a run and a
    decision in the middle of the history, the cursor of the CEO's runs there."""
    with psycopg.connect(found.url) as conn:
        for table in (*SEEDED, "decision_verdicts"):
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            found.sizes[table] = int(row[0]) if row else 0
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        found.megabytes = (size[0] if size else 0) / 1e6
        runs = conn.execute(
            "SELECT run_id, started_at, agent_id FROM agent_runs "
            "WHERE exchanges <> '[]'::jsonb ORDER BY started_at, run_id"
        ).fetchall()
        decisions = conn.execute("SELECT id FROM decisions ORDER BY created_at, id").fetchall()
    found.middle_run = runs[len(runs) // 2][0]
    ceo = [row for row in runs if row[2] == "ceo"]
    middle = ceo[len(ceo) // 2]
    found.deep_cursor = paging.encode(middle[1], middle[0])
    found.middle_decision = decisions[len(decisions) // 2][0]


def _seed_span(conn: psycopg.Connection[Any]) -> tuple[int, dt.datetime, dt.datetime]:
    row = conn.execute("SELECT count(*), min(started_at), max(started_at) FROM seed_agent_runs")
    found = row.fetchone()
    assert found is not None
    return int(found[0]), found[1], found[2]


def _copy_runs(conn: psycopg.Connection[Any], shifts: dict[str, Any], per_day: int) -> None:
    """Copy k of the seed day is shifted by base + k * spacing; its runs are renamed
    `<run id>.<k>`. The newest ``runs`` runs are kept (copy 0 may be partial); their
    actions, usage and events come with them; decision events are made with the
    decisions instead."""
    conn.execute(
        "CREATE TEMP TABLE kept AS "
        "SELECT s.run_id, k, s.run_id || '.' || k AS new_id, "
        "%(base)s + k * %(spacing)s AS shift "
        "FROM generate_series(0, %(copies)s - 1) AS k "
        "CROSS JOIN (SELECT run_id, row_number() OVER (ORDER BY started_at DESC, run_id DESC) "
        "- 1 AS n FROM seed_agent_runs) s "
        "WHERE (%(copies)s - 1 - k) * %(per)s + s.n < %(runs)s",
        shifts | {"per": per_day},
    )
    conn.execute("CREATE INDEX ON kept (run_id, k)")
    conn.execute(
        "INSERT INTO agent_runs (run_id, agent_id, trigger, status, fingerprint, started_at, "
        "finished_at, summary, error, provider, model, usage, cost_usd, exchanges, actions, "
        "container) "
        "SELECT kept.new_id, s.agent_id, s.trigger, s.status, s.fingerprint, "
        "s.started_at + kept.shift, s.finished_at + kept.shift, s.summary, s.error, s.provider, "
        "s.model, s.usage, s.cost_usd, s.exchanges, s.actions, s.container "
        "FROM kept JOIN seed_agent_runs s USING (run_id) ORDER BY s.started_at + kept.shift"
    )
    conn.execute(
        "INSERT INTO agent_actions (run_id, position, agent_id, action_type, action, "
        "content_hash, status, reason, ref, created_at) "
        "SELECT kept.new_id, a.position, a.agent_id, a.action_type, a.action, a.content_hash, "
        "a.status, a.reason, replace(a.ref, a.run_id, kept.new_id), a.created_at + kept.shift "
        "FROM kept JOIN seed_agent_actions a USING (run_id) ORDER BY a.created_at + kept.shift"
    )
    conn.execute(
        "INSERT INTO model_usage (agent_id, run_id, model, input_tokens, output_tokens, "
        "cache_write_tokens, cache_read_tokens, cost_usd, latency_ms, created_at, exchange) "
        "SELECT u.agent_id, kept.new_id, u.model, u.input_tokens, u.output_tokens, "
        "u.cache_write_tokens, u.cache_read_tokens, u.cost_usd, u.latency_ms, "
        "u.created_at + kept.shift, u.exchange "
        "FROM kept JOIN seed_model_usage u USING (run_id) ORDER BY u.created_at + kept.shift"
    )
    # Events of a run come with it; the few without a run (registrations, the lead
    # changing, notifications) with each copy that has runs. Most events are stamped
    # by the database's clock (the demo's day passes in seconds of it): their times
    # are mapped linearly onto the simulated day, which keeps their order.
    conn.execute(
        "CREATE TEMP TABLE seed_times AS SELECT "
        "(SELECT min(started_at) FROM seed_agent_runs) AS first, "
        "(SELECT max(started_at) FROM seed_agent_runs) AS last, "
        "min(created_at) AS w0, max(created_at) AS w1 FROM seed_events "
        "WHERE created_at > (SELECT max(started_at) + interval '1 day' FROM seed_agent_runs)"
    )
    simulated = (
        "CASE WHEN e.created_at <= t.last + interval '1 day' THEN e.created_at "
        "ELSE t.first + (t.last - t.first) * (extract(epoch FROM e.created_at - t.w0) "
        "/ greatest(extract(epoch FROM t.w1 - t.w0), 1)) END"
    )
    conn.execute(
        "INSERT INTO events (event_type, source_agent, target_agent, run_id, decision_id, "
        "payload, created_at) "
        "SELECT e.event_type, e.source_agent, e.target_agent, kept.new_id, NULL, e.payload, "
        f"{simulated} + kept.shift "
        "FROM kept JOIN seed_events e USING (run_id) CROSS JOIN seed_times t "
        "UNION ALL "
        "SELECT e.event_type, e.source_agent, e.target_agent, NULL, NULL, e.payload, "
        f"{simulated} + c.shift "
        "FROM (SELECT DISTINCT k, shift FROM kept) c CROSS JOIN seed_events e "
        "CROSS JOIN seed_times t WHERE e.run_id IS NULL AND e.decision_id IS NULL "
        "ORDER BY 7"
    )


def _decisions(conn: psycopg.Connection[Any], found: Dataset, start: dt.datetime) -> None:
    """``found.decisions`` decisions evenly over [start, NOW), shaped like the seed's two
    (a minor one passed by lazy consensus in one round; a major one vetoed by the DAO,
    analysed and voted again in three), with their status events and verdicts."""
    seeds = conn.execute(
        "SELECT title, description, proposed_by, tier, veto_round, ceo_vote, dao_vote, "
        "c_level_votes, rounds, record FROM seed_decisions ORDER BY veto_round"
    ).fetchall()
    step = (NOW - start) / found.decisions
    decisions, events, verdicts = [], [], []
    for n in range(found.decisions):
        (title, description, proposer, tier, rounds_n, ceo, dao, c_level, rounds, record) = seeds[
            n % len(seeds)
        ]
        created = start + n * step
        slug = title.lower().replace(" ", "-")
        decision_id = f"{created:%Y%m%d}-{slug}-{n}"
        pending = NOW - created < OPEN_FOR
        status = "pending" if pending else CLOSED[n % len(CLOSED)]
        resolved = None if pending else created + dt.timedelta(hours=4 + n % 44)
        due = created + dt.timedelta(hours=48)
        shown = rounds[:1] if pending else rounds
        pr = n + 1
        url = f"https://github.com/example/governance/pull/{pr}"
        facts = dict(record, id=decision_id, pr=pr, status=status, created_at=created.isoformat())
        decisions.append(
            (
                decision_id,
                title,
                description,
                proposer,
                tier,
                status,
                len(shown) if not pending else 1,
                ceo,
                dao if not pending else None,
                Jsonb(c_level if not pending else {}),
                Jsonb(shown),
                "approve" if status == "approved" and rounds_n > 1 else None,
                "maintainer" if status == "approved" and rounds_n > 1 else None,
                pr,
                url,
                due,
                resolved,
                Jsonb(facts),
                created,
                resolved or created,
            )
        )
        moments = [(created, "pending", 1)]
        if resolved is not None:
            moments.append((resolved, status, len(shown)))
        for at, state, round_ in moments:
            payload = {"pr": pr, "round": round_, "status": state}
            events.append(("decision.status", proposer, decision_id, Jsonb(payload), at))
        verdict = {
            "pr": pr,
            "tier": tier,
            "round": len(shown),
            "stage": "vote" if pending else "done",
            "title": title,
            "votes": shown[-1].get("votes", {}),
            "status": status,
            "missing": ["dao"] if pending else [],
            "deadline": due.isoformat() if pending else None,
            "head_sha": f"{n:040x}",
            "decision_id": decision_id,
            "proposed_by": proposer,
        }
        tallied = resolved or NOW
        verdicts.append((pr, decision_id, f"{n:040x}", status, Jsonb(verdict), tallied))
    with conn.cursor() as cursor:
        with cursor.copy(
            "COPY decisions (id, title, description, proposed_by, tier, status, veto_round, "
            "ceo_vote, dao_vote, c_level_votes, rounds, human_decision, decided_by, pr_number, "
            "pr_url, due, resolved_at, record, created_at, updated_at) FROM STDIN"
        ) as copy:
            for row in decisions:
                copy.write_row(row)
        with cursor.copy(
            "COPY events (event_type, source_agent, decision_id, payload, created_at) FROM STDIN"
        ) as copy:
            for row in sorted(events, key=lambda e: e[4]):
                copy.write_row(row)
        with cursor.copy(
            "COPY decision_verdicts (pr, decision_id, head_sha, status, verdict, tallied_at) "
            "FROM STDIN"
        ) as copy:
            for row in verdicts:
                copy.write_row(row)


if __name__ == "__main__":
    main()
