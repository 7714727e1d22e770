"""What a container costs: an agent's wake-up in Docker against in-process, and a worker's
spawn → result in its sandbox, on the same machine in one run; with the image's size.

1. Wake-up: the CEO woken by hand (forced, so it always thinks), `--runs` times each way,
   on the embedded Postgres and Redis and the offline model (no network, no key):
   in-process (`Runner.run`, what `AITO_RUNTIME=inprocess` does) and in a container
   (`Launcher.run`, what the rendered workflows do on runners: start a hardened
   container of the image, serve its model calls through the gateway, record its logs,
   remove it). Figures: p50 and p95 in ms, and their ratio container/in-process.
2. Worker: the CMO's content writer spawned on a task, from request to applied result:
   thinking in a Docker sandbox (no network, no credentials) against in-process threads
   (the same gateway and checks). Figures: p50 and p95 in ms.

The container's figure includes what every wake-up in a fresh container pays: Python's
start, AITO's imports and the embedder's model load (in-process they are paid once).

Needs a Docker engine and the image (runner/build-base, then runner/build-image; the
tag is AITO_IMAGE, default aito:latest).
Run: .venv/bin/python bench/bench_runtime.py [--runs 10] [--workers 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from support import agent_world  # noqa: E402

from aito import bootstrap  # noqa: E402
from aito.agent import executing, running, runs  # noqa: E402
from aito.llm import offline  # noqa: E402
from aito.memory.base import TERMINAL_RUN_STATUSES  # noqa: E402
from aito.runtime import inprocess, sandbox, working  # noqa: E402
from aito.runtime.docker_engine import DockerRuntime  # noqa: E402
from aito.services import managing  # noqa: E402
from aito.settings import Settings  # noqa: E402


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(count: int, once: Callable[[int], object]) -> list[float]:
    samples = []
    for index in range(count):
        started = time.perf_counter()
        once(index)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="wake-ups each way (default 10)")
    parser.add_argument("--workers", type=int, default=5, help="worker spawns each way")
    options = parser.parse_args()
    image = os.environ.get("AITO_IMAGE") or "aito:latest"
    engine = DockerRuntime()
    if not engine.has_image(image):
        sys.exit(f"no image {image}: build it with runner/build-base and runner/build-image")

    with tempfile.TemporaryDirectory(prefix="aito-bench-runtime-") as tmp:
        root = Path(tmp)
        services = managing.up(Settings.from_env({"AITO_DATA_DIR": str(root / "services")}))
        with agent_world.open_world(
            root / "governance",
            postgres_url=services.postgres_url,
            redis_url=services.redis_url,
            model=offline.OfflineModel(seed=1),
            embedder=True,
        ) as world:
            settings = world.settings.model_copy(update={"image": image})
            launcher = bootstrap.launcher(
                settings, world.runtime, world.org, world.ports, tokens={}, engine=engine
            )
            runner = running.Runner(world.ports)

            def in_process(index: int) -> None:
                run_id = running.run_id_for("ceo", "manual", key=f"inprocess-{index}")
                runner.run("ceo", trigger="manual", run_id=run_id, force=True)
                world.clock.advance(hours=1)

            def in_container(index: int) -> None:
                run_id = running.run_id_for("ceo", "manual", key=f"docker-{index}")
                outcome = launcher.run("ceo", trigger="manual", run_id=run_id, force=True)
                if outcome.status not in TERMINAL_RUN_STATUSES:
                    sys.exit(f"a wake-up in a container ended {outcome.status}: {outcome.error}")
                world.clock.advance(hours=1)

            in_process(-1)  # warm: the embedder loaded, the first fingerprints taken
            here = percentiles(timed(options.runs, in_process))
            there = percentiles(timed(options.runs, in_container))
            print(f"image {image}: {engine.image_size(image) / 1e6:,.0f} MB")
            print(f"wake-up (ceo, forced, offline model), {options.runs} runs each:")
            print(f"  in-process     p50 {here[0]:8.0f} ms   p95 {here[1]:8.0f} ms")
            print(f"  in a container p50 {there[0]:8.0f} ms   p95 {there[1]:8.0f} ms")
            ratios = there[0] / here[0], there[1] / here[1]
            print(f"  ratio          p50 {ratios[0]:8.1f} x    p95 {ratios[1]:8.1f} x")

            first = world.run("cmo", key="bench", force=True)
            task = next((a.ref for a in first.actions if a.type == "create_task"), None)
            if task is None:
                sys.exit("the CMO made no task for its worker")
            threads = inprocess.InProcessRuntime({"aito worker exec": working.in_process})
            for label, containers in (("in-process", threads), ("docker sandbox", engine)):
                workers = sandbox.SandboxWorkers(
                    ports=world.ports, runtime=containers, image=image, user="10001:10001"
                )

                def spawn(
                    index: int, workers: sandbox.SandboxWorkers = workers, label: str = label
                ) -> None:
                    world.clock.advance(days=2)  # each spawn a new day: no loop guard
                    key = f"bench-{label}#{index}"
                    request = executing.WorkerRequest(
                        requester="cmo",
                        requester_run=f"cmo:manual:{key}",
                        position=index,
                        kind="content-writer",
                        task=task,
                        instructions="Draft this week's post.",
                    )
                    run_id = runs.run_id_for("content-writer", "spawn", key=key)
                    outcome = workers("content-writer", run_id, request)
                    if outcome.status != "completed":
                        sys.exit(f"a worker ended {outcome.status}: {outcome.error}")

                p50, p95 = percentiles(timed(options.workers, spawn))
                print(f"worker spawn → result ({label:>14}): p50 {p50:8.0f} ms   p95 {p95:8.0f} ms")


if __name__ == "__main__":
    main()
