"""The main job on embedded defaults: `aito demo`'s simulated day, timed, costed and counted.

Target (issue): a whole simulated day of the example organization finishes in under a
minute on a fresh checkout. Prints the wall time (services start included, then
without), the runs by status (the idle skip's share of wake-ups that made no model
call), model calls, tokens and (offline, simulated) cost, per-wake-up latency, and
the git processes the day started.

Prompt caching (target: the day costs at most 0.5x of the same calls without a
cache): the offline model simulates Anthropic's cache on the demo's own clock (see
`aito.llm.caching`: 5-minute lifetimes refreshed by reads, the model's minimum
cacheable length, writes at 1.25x and reads at 0.1x the input price, tool schemas
counted). The day's requests are then read back from the run records and priced
again under other layouts of the same prompts, for comparison: no cache, one cached
prefix per agent (tools, then the whole system prompt: the layout before the shared
prefix), and the shared part alone.

Run: .venv/bin/python bench/bench_demo.py [--hours 24] [--seed 0]
It starts its own embedded Postgres and Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from aito.demo import simulating
from aito.llm import caching
from aito.llm.base import ModelRequest, Usage, cost_usd
from aito.org import loading
from aito.org.organization import ModelPrice
from aito.services import managing
from aito.settings import Settings

TARGET = 0.5
"""The day's cost with the cache, as a share of the same calls without one."""


class GitCounter:
    """Counts the `git` processes started while installed (wraps `subprocess.Popen`)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._original: Any = None

    def __enter__(self) -> GitCounter:
        self._original = original = subprocess.Popen
        counts = self.counts

        class Counting(original):  # type: ignore[valid-type,misc]
            def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
                argv = [args] if isinstance(args, str | bytes) else list(args)
                if argv and str(argv[0]) == "git":
                    command = next((a for a in argv[1:] if not str(a).startswith("-")), "?")
                    if argv[1:2] == ["-C"]:
                        command = str(argv[3]) if len(argv) > 3 else "?"
                    counts[command] += 1
                super().__init__(args, *rest, **kwargs)

        subprocess.Popen = Counting  # type: ignore[misc]
        return self

    def __exit__(self, *_: object) -> None:
        subprocess.Popen = self._original  # type: ignore[misc]


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

        with GitCounter() as git:
            report = simulating.run(
                target=target, env={}, seed=args.seed, hours=args.hours, echo=echo
            )
        finished = time.perf_counter()
        org = loading.load_valid(target)
        settings = Settings.from_env({}, repo=target)
        endpoints = managing.up(settings)
        with psycopg.connect(endpoints.postgres_url) as conn:
            usage = conn.execute(
                "SELECT model, sum(input_tokens), sum(output_tokens), sum(cache_write_tokens), "
                "sum(cache_read_tokens), sum(cost_usd), count(*) FROM model_usage GROUP BY model"
            ).fetchall()
            exchanges = conn.execute(
                "SELECT exchanges FROM agent_runs WHERE exchanges <> '[]'::jsonb "
                "ORDER BY started_at, run_id"
            ).fetchall()
        managing.down(settings)
    total = sum(report.runs.values())
    skipped = report.runs.get("skipped", 0)
    calls = sum(row[6] for row in usage)
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
    print(f"  model calls      {calls}, {report.tokens:,} tokens, ${report.cost_usd:.4f} simulated")
    print(f"  timeline lines   {len(lines)}")
    print(
        f"  wall per wake-up {(finished - (first[0] if first else started)) / total * 1000:6.0f} ms"
    )
    commands = ", ".join(f"{n} {name}" for name, n in git.counts.most_common(6))
    print(f"  git processes    {sum(git.counts.values()):,} ({commands}, …)")
    _caching(org, usage, list(_calls(exchanges)))


def _calls(rows: list[tuple[Any, ...]]) -> Iterator[tuple[ModelRequest, int]]:
    """Each answered call of the day: its request and its output tokens."""
    for (exchanges,) in rows:
        for exchange in exchanges:
            if exchange.get("response") is not None:
                output = int(exchange["response"]["usage"]["output_tokens"])
                yield ModelRequest.model_validate(exchange["request"]), output


def _caching(
    org: loading.Organization,
    usage: list[tuple[Any, ...]],
    calls: list[tuple[ModelRequest, int]],
) -> None:
    pricing = org.org.pricing
    recorded = sum(float(row[5]) for row in usage)
    uncached = sum(
        ((row[1] + row[3] + row[4]) * pricing[row[0]].input + row[2] * pricing[row[0]].output)
        / 1_000_000
        for row in usage
    )
    written = sum(row[3] for row in usage)
    read = sum(row[4] for row in usage)
    plain = sum(row[1] for row in usage)
    ratio = recorded / uncached
    print("prompt caching on the demo's timeline (Anthropic's rules, simulated offline)")
    print(
        f"  input tokens     {plain + written + read:,}: {read / (plain + written + read):.0%} "
        f"read from the cache, {written / (plain + written + read):.0%} written, "
        f"{plain / (plain + written + read):.0%} uncached"
    )
    print(
        f"  org-day cost     ${recorded:.4f} cached vs ${uncached:.4f} uncached: "
        f"{ratio:.2f}x (target <= {TARGET}x: {'met' if ratio <= TARGET else 'NOT met'})"
    )
    layouts: dict[str, Callable[[ModelRequest], list[caching.Segment]]] = {
        "one cached prefix per agent (before)": _per_agent,
        "shared part only marked": _shared_only,
        "shared part + agent's own part (sent)": caching.segments,
    }
    for name, layout in layouts.items():
        cost = _replayed(calls, pricing, layout)
        print(f"  {name:38} {cost / uncached:5.2f}x")


def _replayed(
    calls: list[tuple[ModelRequest, int]],
    pricing: dict[str, ModelPrice],
    layout: Callable[[ModelRequest], list[caching.Segment]],
) -> float:
    """The day's calls priced again with a fresh cache and another breakpoint layout."""
    cache = caching.PromptCache()
    total = 0.0
    for request, output in calls:
        now = dt.datetime.fromisoformat(request.context["now"])
        usage = cache.account(model=request.model, parts=layout(request), now=now)
        total += cost_usd(usage + Usage(output_tokens=output), pricing[request.model])
    return total


def _per_agent(request: ModelRequest) -> list[caching.Segment]:
    tools, *blocks, turn = caching.segments(request)
    whole = "".join(block.text for block in blocks)
    return [
        caching.Segment(tools.text, tools.tokens, True),
        caching.Segment(whole, sum(block.tokens for block in blocks), True),
        turn,
    ]


def _shared_only(request: ModelRequest) -> list[caching.Segment]:
    parts = caching.segments(request)
    if len(parts) == 4:
        tools, shared, own, turn = parts
        return [tools, shared, caching.Segment(own.text, own.tokens, False), turn]
    return parts


if __name__ == "__main__":
    main()
