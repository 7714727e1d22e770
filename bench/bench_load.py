"""Time to load and validate a large organization: 1,000 agents, 10,000 decisions and tasks.

Target (issue #2): under 2 s on a 2-core machine. Run: .venv/bin/python bench/bench_load.py
Prints the figures, and the same load with PyYAML only (the fallback when the yaml-rs
accelerator is not installed) as a baseline in the same process, with the ratio.
It is a measurement, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from aito.org import loading, yamlfiles

REPO_ROOT = Path(__file__).resolve().parents[1]


def generate(root: Path, *, agents: int, decisions: int, tasks: int) -> None:
    """The Shiba Classic org plus generated c-level agents, decisions and tasks."""
    shutil.copytree(REPO_ROOT / "org", root / "org")
    shutil.copytree(REPO_ROOT / "profiles", root / "profiles")
    org_yaml = yaml.safe_load((root / "org/org.yaml").read_text())
    template = yaml.safe_load((root / "org/agents/cmo.yaml").read_text())
    template.pop("manages", None)
    template.pop("workers", None)
    extra = agents - len(list((root / "org/agents").glob("*.yaml")))
    org_yaml["budget"]["daily_usd"] = 100 + extra * template["budget"]["daily_usd"]
    ids = [f"agent-{n:04d}" for n in range(extra)]
    for number, agent_id in enumerate(ids):
        spec = dict(
            template,
            id=agent_id,
            name=f"Generated agent {number}",
            profile="profiles/cmo.md",
            type="cmo",
        )
        (root / "org/agents" / f"{agent_id}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        org_yaml["bots"][agent_id] = {"login": f"gen-{number}-bot", "id": 500000000 + number}
    (root / "org/org.yaml").write_text(yaml.safe_dump(org_yaml, sort_keys=False))
    proposers = ["cmo", "cto", "cfo", "coo", "cco", *ids[:50]]
    for number in range(decisions):
        record = {
            "id": f"d-{number:05d}",
            "title": f"Decision {number}",
            "proposed_by": proposers[number % len(proposers)],
            "tier": ["minor", "major", "critical"][number % 3],
            "status": "approved",
            "round": 1,
            "rounds": [{"round": 1, "votes": {"ceo": "approve", "dao": "approve"}}],
            "created_at": "2026-11-01T10:00:00Z",
            "pr": {"number": number + 1},
        }
        (root / "org/decisions" / f"d-{number:05d}.yaml").write_text(
            yaml.safe_dump(record, sort_keys=False)
        )
    for number in range(tasks):
        record = {
            "id": f"t-{number:05d}",
            "title": f"Task {number}",
            "assigned_to": proposers[number % len(proposers)],
            "created_by": "ceo",
            "status": "pending",
            "priority": 1 + number % 10,
            "due_date": "2026-12-01T12:00:00Z",
        }
        (root / "org/tasks" / f"t-{number:05d}.yaml").write_text(
            yaml.safe_dump(record, sort_keys=False)
        )


def measure(root: Path, repeat: int) -> tuple[list[float], loading.LoadResult]:
    timings = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = loading.load(root)
        timings.append(time.perf_counter() - started)
    assert result is not None and result.organization is not None, [
        p.render() for p in (result.problems[:5] if result else [])
    ]
    return timings, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-baseline", action="store_true", help="skip the PyYAML-only run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, agents=args.agents, decisions=args.decisions, tasks=args.tasks)
        timings, result = measure(root, args.repeat)
        baseline: list[float] = []
        if not args.no_baseline and yamlfiles.yaml_rs is not None:
            accelerator = yamlfiles.yaml_rs
            yamlfiles.yaml_rs = None
            try:
                baseline, _ = measure(root, max(1, args.repeat // 2))
            finally:
                yamlfiles.yaml_rs = accelerator
    org = result.organization
    assert org is not None
    print(
        f"organization: {len(org.agents)} agents, {len(org.decisions)} decisions, "
        f"{len(org.tasks)} tasks ({len(result.problems)} problems)"
    )
    parser_name = "yaml-rs" if yamlfiles.yaml_rs is not None else "PyYAML"
    print(
        f"load + validate ({parser_name}): best {min(timings):.3f} s, median "
        f"{statistics.median(timings):.3f} s over {args.repeat} runs (target < 2 s)"
    )
    files = len(org.agents) + len(org.decisions) + len(org.tasks)
    runs = ", ".join(f"{t:.2f}" for t in timings)
    print(f"per file: {min(timings) / files * 1e6:.0f} µs; all runs: {runs} s")
    if baseline:
        print(
            f"baseline (PyYAML only): best {min(baseline):.3f} s; "
            f"speed-up {min(baseline) / min(timings):.1f}x"
        )


if __name__ == "__main__":
    main()
