"""What MCP costs: a tool call through an MCP server against the same function called
directly, in one run; and the worker's tool loop in turns per second, without the model.

1. Call overhead: the rss connector's `read_feed` on a local feed, `--calls` times, called
   (a) as a plain Python function in this process (fetch and parse) and (b) through the
   MCP SDK's client to `aito mcp serve rss` over stdio, on the trusted side's hub (what a
   run's tool loop does). Figures: p50 and p95 per call in ms, the overhead (b - a) and
   the ratio b / a.
2. Tool loop: one run of the CMO whose model (a script: no network, no thinking time)
   reads the feed for `mcp.max_turns` (16) turns and then answers, against the same run
   answering at once (its servers started all the same): the difference is what the
   loop costs, per turn (the MCP call, recording it, reserving and settling the call's
   budget, saving the exchange in Postgres, building the next request); the model's
   own latency is not counted (it has none). Figure: turns per second.

On the embedded Postgres and Redis; no key, no network beyond 127.0.0.1.
Run: .venv/bin/python bench/bench_mcp.py [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

import yaml  # noqa: E402
from support import agent_world  # noqa: E402
from support.web_servers import Page, site  # noqa: E402

from aito.connectors import fetching, rss  # noqa: E402
from aito.org.mcp_servers import McpServer  # noqa: E402
from aito.services import managing  # noqa: E402
from aito.settings import Settings  # noqa: E402
from aito.toolbox import hub  # noqa: E402

ITEMS = "".join(
    f"<item><title>News {n}</title><guid>n{n}</guid><description>Item {n}.</description></item>"
    for n in range(20)
)
FEED = f'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>{ITEMS}</channel></rss>'
TURNS = 16


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(count: int, once: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        once()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls each way (default 200)")
    options = parser.parse_args()
    with site({"/feed.xml": Page(FEED.encode(), "application/rss+xml")}) as web:
        url = web.url("/feed.xml")
        allowed = ["127.0.0.1"]

        def direct() -> None:
            rss.parse(fetching.fetch(url, allowed=allowed), limit=20)

        server = McpServer(command=["aito", "mcp", "serve", "rss"], domains=allowed)
        with hub.Hub({"news": server}) as opened:

            def through_mcp() -> None:
                if opened.call("news", "read_feed", {"url": url}).is_error:
                    sys.exit("read_feed failed through MCP")

            direct(), through_mcp()  # warm both
            plain = percentiles(timed(options.calls, direct))
            mcp = percentiles(timed(options.calls, through_mcp))
        print(f"read_feed on a local 20-item feed, {options.calls} calls each way:")
        print(f"  direct call       p50 {plain[0]:7.2f} ms   p95 {plain[1]:7.2f} ms")
        print(f"  through MCP stdio p50 {mcp[0]:7.2f} ms   p95 {mcp[1]:7.2f} ms")
        print(
            f"  overhead per call p50 {mcp[0] - plain[0]:7.2f} ms   "
            f"ratio {mcp[0] / plain[0]:5.1f} x"
        )
        print(f"tool loop: {loop_turns_per_second(url):.1f} turns/s (the model's latency excluded)")


def loop_turns_per_second(url: str) -> float:
    reads = [[("news__read_feed", {"url": url})]] * TURNS
    model = agent_world.ScriptedModel(*reads, [("summary", {"text": "read it all"})])

    def servers(repo: Path) -> None:
        org_yaml = repo / "org" / "org.yaml"
        data = yaml.safe_load(org_yaml.read_text())
        data["mcp"] = {
            "max_turns": TURNS,
            "servers": {
                "news": {"command": ["aito", "mcp", "serve", "rss"], "domains": ["127.0.0.1"]}
            },
        }
        org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
        agent_world.edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["news"]))

    with tempfile.TemporaryDirectory(prefix="aito-bench-mcp-") as tmp:
        root = Path(tmp)
        settings = Settings.from_env({"AITO_DATA_DIR": str(root / "services")})
        services = managing.up(settings)
        with agent_world.open_world(
            root / "governance",
            postgres_url=services.postgres_url,
            redis_url=services.redis_url,
            model=model,
            edit=servers,
        ) as world:
            world.run("cmo", key="warm", force=True)  # the services and imports warm

            def timed_run(key: str) -> float:
                world.clock.advance(hours=4)
                started = time.perf_counter()
                outcome = world.run("cmo", key=key, force=True)
                if outcome.status != "completed":
                    sys.exit(f"the run ended {outcome.status}: {outcome.error}")
                return time.perf_counter() - started

            model.plan([("summary", {"text": "nothing to read"})])
            without = timed_run("no-reads")  # the same run, its servers started, no turn
            model.plan(*reads, [("summary", {"text": "read it all"})])
            reading = timed_run("reads")
        managing.down(settings)
    return TURNS / (reading - without)


if __name__ == "__main__":
    main()
