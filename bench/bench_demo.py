"""The main job on embedded defaults: `aito demo`'s simulated day, timed.

Target (issue): a whole simulated day of the example organization finishes in under a
minute on a fresh checkout. Prints the wall time (services start included, then
without), the runs by status (the idle skip's share of wake-ups that made no model
call), model calls, tokens and (offline, simulated) cost, and per-wake-up latency.
Run: .venv/bin/python bench/bench_demo.py [--hours 24] [--seed 0]
It starts its own embedded Postgres and Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psycopg

from aito.demo import simulating
from aito.services import managing
from aito.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aito-bench-demo-") as tmp:
        target = Path(tmp) / "demo"
        lines: list[str] = []
        started = time.perf_counter()
        first: list[float] = []

        def echo(line: str) -> None:
            if not first and line.startswith("simulating"):
                first.append(time.perf_counter())
            lines.append(line)

        report = simulating.run(target=target, env={}, seed=args.seed, hours=args.hours, echo=echo)
        finished = time.perf_counter()
        settings = Settings.from_env({}, repo=target)
        endpoints = managing.up(settings)
        with psycopg.connect(endpoints.postgres_url) as conn:
            calls = conn.execute("SELECT count(*) FROM model_usage").fetchone()
        managing.down(settings)
    total = sum(report.runs.values())
    skipped = report.runs.get("skipped", 0)
    print(f"aito demo: {args.hours} simulated hours, seed {args.seed}, offline model")
    print(
        f"  wall time        {finished - started:6.1f} s (target < 60 s), of which services "
        f"start {(first[0] if first else started) - started:4.1f} s"
    )
    print(
        f"  wake-ups         {total} ("
        + ", ".join(f"{n} {status}" for status, n in sorted(report.runs.items()))
        + ")"
    )
    print(f"  idle skips       {skipped / total:6.1%} of wake-ups made no model call")
    print(
        f"  model calls      {calls[0] if calls else 0}, {report.tokens:,} tokens, "
        f"${report.cost_usd:.4f} simulated"
    )
    print(f"  timeline lines   {len(lines)}")
    print(
        f"  wall per wake-up {(finished - (first[0] if first else started)) / total * 1000:6.0f} ms"
    )


if __name__ == "__main__":
    main()
