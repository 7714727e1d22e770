"""Offline embedder figures: load time, and texts per second on the CPU.

all-MiniLM-L6-v2 (int8 ONNX on onnxruntime, see aito/memory/embedders/offline.py),
for short texts (~15 words, a history summary) and longer ones (~100 words, a
decision's description), embedded one at a time and 32 per call.

Run: .venv/bin/python bench/bench_embedding.py [--seconds 5] [--threads 0]
(``--threads 0``: onnxruntime's default, one thread per physical core)
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import time

from aito.memory.embedders import offline

SENTENCES = [
    "The treasury balance fell after the liquidity pool rewards were paid out.",
    "The CMO proposed a marketing campaign on social media for the token launch.",
    "Governance vote: should we increase the staking incentives by five percent?",
    "The CTO fixed a bug in the smart contract deployment script before the audit.",
    "A security audit found a reentrancy vulnerability in the vault contract.",
    "The design team delivered new brand colours and a refreshed logo for the website.",
    "Quarterly budget review: engineering overspent by twelve percent on cloud hosting.",
    "Hire two more community moderators for the Telegram group and the Discord server.",
    "The legal team reviewed the token's regulatory status in the European Union.",
    "Partnership talks with a centralized exchange about a listing next quarter.",
    "Agent CFO flagged unusual spending in the operations wallet on Tuesday night.",
    "Write a blog post explaining the new governance process and the veto period.",
]


def texts(rng: random.Random, *, words: int, count: int) -> list[str]:
    """``count`` texts of about ``words`` words, made of shuffled real sentences."""
    out = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < words:
            parts.append(rng.choice(SENTENCES))
        out.append(" ".join(" ".join(parts).split()[:words]))
    return out


def throughput(
    embedder: offline.MiniLMEmbedder, corpus: list[str], *, batch: int, seconds: float
) -> tuple[float, float]:
    """Texts per second of wall-clock time, and per second of this process's CPU time
    (the second is steadier when other processes share the cores)."""
    embedder.embed(corpus[:batch])  # warm up
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for i in range(0, len(corpus), batch):
            done += len(embedder.embed(corpus[i : i + batch]))
    return done / (time.perf_counter() - start), done / (time.process_time() - cpu)


def cold_start() -> tuple[float, float]:
    """Seconds to import onnxruntime and friends, and to load the model, in a new process."""
    script = (
        "import time; t0 = time.perf_counter()\n"
        "import numpy, onnxruntime, tokenizers\n"
        "from aito.memory.embedders import offline\n"
        "t1 = time.perf_counter(); e = offline.MiniLMEmbedder(); e.embed(['warm'])\n"
        "print(t1 - t0, time.perf_counter() - t1)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(3)
    ]
    return (
        statistics.median(float(r[0]) for r in runs),
        statistics.median(float(r[1]) for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per configuration")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads")
    args = parser.parse_args()

    imports, load = cold_start()
    print(f"model {offline.MODEL}, {os.cpu_count()} CPUs, threads={args.threads or 'default'}")
    print(f"cold start: imports {imports:.2f} s, model load + first text {load:.2f} s")

    embedder = offline.MiniLMEmbedder(threads=args.threads)
    rng = random.Random(42)
    print(
        f"load average before: {os.getloadavg()[0]:.2f} (figures drop when others share the cores)"
    )
    header = f"{'texts':>18} {'pieces':>6} {'batch':>5} {'texts/s':>8} {'ms/text':>8} {'/CPU-s':>7}"
    print(header)
    for label, words in (("short (~15 words)", 15), ("long (~100 words)", 100)):
        corpus = texts(rng, words=words, count=64)
        pieces = statistics.mean(len(e.ids) for e in embedder._tokenizer.encode_batch(corpus))
        for batch in (1, 32):
            rate, per_cpu = throughput(embedder, corpus, batch=batch, seconds=args.seconds)
            figures = f"{rate:8.1f} {1000 / rate:8.2f} {per_cpu:7.1f}"
            print(f"{label:>18} {pieces:6.0f} {batch:5d} {figures}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
