"""Direct messages through AITO's bus vs raw redis-py on the same Redis, same run.

Judged by ratios (absolute times on a shared machine are noise): AITO within 1.5x of
raw redis-py in throughput and in p50 and p99 latency, measured in the same run.
Run: .venv/bin/python bench/bench_bus.py [--messages 50000] [--rounds 5]

It starts its own embedded Redis (append-only file, fsync always, as in
production; ``--appendfsync everysec`` takes the disk out of the figures) in a
temporary directory. Sender and receiver are separate processes.
Throughput: the sender pipelines batches while the receiver reads batches, handles
and acknowledges; the clock runs from the first send to the last acknowledgement.
Latency: one message per millisecond, each timed from just before its send to just
after its acknowledgement (AITO's includes the dedupe mark written with the ack).
The raw baseline is XADD / XREADGROUP / XACK with no validation, dedupe or retry.
Rounds alternate raw and AITO, so each pair sees the same machine; the ratio printed
is the median of the per-pair ratios. It is a measurement, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from aito.bus import consuming, streams
from aito.bus.redis import RedisBus
from aito.org.messages import AgentMessage
from aito.services.redis_server import EmbeddedRedis

GROUP = "bench"
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def _message(n: int, *, agent: str, sent: float = 0.0) -> AgentMessage:
    return AgentMessage.model_validate(
        {
            "id": f"{agent}-{n}",
            "type": "direct",
            "from": "ceo",
            "to": agent,
            "payload": {"n": n, "sent": sent},
            "timestamp": NOW,
        }
    )


# -- throughput ---------------------------------------------------------------------


def aito_send(url: str, agent: str, total: int, batch: int, ready: Any, go: Any) -> None:
    bus = RedisBus(url=url)
    messenger = streams.Messenger(bus)
    messages = [_message(n, agent=agent) for n in range(total)]
    ready.wait()
    go.put(time.perf_counter())
    for start in range(0, total, batch):
        messenger.send_many(messages[start : start + batch])
    bus.close()


def aito_receive(url: str, agent: str, total: int, batch: int, ready: Any, done: Any) -> None:
    bus = RedisBus(url=url)
    consumer = consuming.Consumer(bus, agent_id=agent, batch_size=batch)
    consumer.ensure_group()
    count = 0

    def handle(_: AgentMessage) -> None:
        nonlocal count
        count += 1

    ready.wait()
    while count < total:
        consumer.poll(handle, block_seconds=1.0)
    done.put(time.perf_counter())
    bus.close()


def raw_send(url: str, agent: str, total: int, batch: int, ready: Any, go: Any) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    stream = f"raw:{agent}"
    messages = [_message(n, agent=agent) for n in range(total)]
    fields = [{"id": m.id, "message": m.to_wire()} for m in messages]
    ready.wait()
    go.put(time.perf_counter())
    for start in range(0, total, batch):
        with client.pipeline(transaction=False) as pipe:
            for entry in fields[start : start + batch]:
                pipe.xadd(stream, entry)  # type: ignore[arg-type]
            pipe.execute()
    client.close()


def raw_receive(url: str, agent: str, total: int, batch: int, ready: Any, done: Any) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    stream = f"raw:{agent}"
    client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    count = 0
    ready.wait()
    while count < total:
        reply = client.xreadgroup(GROUP, "c1", {stream: ">"}, count=batch, block=1000)
        for _, entries in reply or []:
            ids = [entry_id for entry_id, _ in entries]
            count += len(ids)
            client.xack(stream, GROUP, *ids)
    done.put(time.perf_counter())
    client.close()


def throughput(
    url: str, *, sender: Callable[..., None], receiver: Callable[..., None], total: int, batch: int
) -> float:
    agent = f"tp-{time.monotonic_ns()}"
    ready = multiprocessing.Barrier(3)
    go: Any = multiprocessing.Queue()
    done: Any = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=receiver, args=(url, agent, total, batch, ready, done)),
        multiprocessing.Process(target=sender, args=(url, agent, total, batch, ready, go)),
    ]
    for proc in procs:
        proc.start()
    ready.wait()
    started, finished = go.get(timeout=300), done.get(timeout=300)
    for proc in procs:
        proc.join()
    return total / (finished - started)


# -- latency ------------------------------------------------------------------------


def aito_paced(url: str, agent: str, total: int, rate: float, ready: Any) -> None:
    bus = RedisBus(url=url)
    messenger = streams.Messenger(bus)
    ready.wait()
    start = time.perf_counter()
    for n in range(total):
        _pace(start + n / rate)
        messenger.send(_message(n, agent=agent, sent=time.perf_counter()))
    bus.close()


def aito_timed(url: str, agent: str, total: int, rate: float, ready: Any, out: Any) -> None:
    bus = RedisBus(url=url)
    consumer = consuming.Consumer(bus, agent_id=agent, batch_size=100)
    consumer.ensure_group()
    consumer.poll(lambda m: None)  # the first poll's reclaim pass, outside the timing
    sent: list[float] = []
    latencies: list[float] = []
    ready.wait()
    while len(latencies) < total:
        consumer.poll(lambda m: sent.append(float(m.payload["sent"])), block_seconds=1.0)
        acked = time.perf_counter()
        latencies += [acked - t for t in sent]
        sent.clear()
    out.put(latencies)
    bus.close()


def raw_paced(url: str, agent: str, total: int, rate: float, ready: Any) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    stream = f"raw:{agent}"
    ready.wait()
    start = time.perf_counter()
    for n in range(total):
        _pace(start + n / rate)
        m = _message(n, agent=agent, sent=time.perf_counter())
        client.xadd(stream, {"id": m.id, "message": m.to_wire()})
    client.close()


def raw_timed(url: str, agent: str, total: int, rate: float, ready: Any, out: Any) -> None:

    client = redis.Redis.from_url(url, decode_responses=True)
    stream = f"raw:{agent}"
    client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    latencies: list[float] = []
    ready.wait()
    while len(latencies) < total:
        reply = client.xreadgroup(GROUP, "c1", {stream: ">"}, count=100, block=1000)
        for _, entries in reply or []:
            sent = [json.loads(fields["message"])["payload"]["sent"] for _, fields in entries]
            client.xack(stream, GROUP, *[entry_id for entry_id, _ in entries])
            acked = time.perf_counter()
            latencies += [acked - t for t in sent]
    out.put(latencies)
    client.close()


def _pace(when: float) -> None:
    # sleep, do not spin: on a 2-core machine a spinning sender starves the receiver
    left = when - time.perf_counter()
    if left > 0:
        time.sleep(left)


def latency(
    url: str,
    *,
    sender: Callable[..., None],
    receiver: Callable[..., None],
    total: int,
    rate: float,
) -> tuple[float, float]:
    agent = f"lat-{time.monotonic_ns()}"
    ready = multiprocessing.Barrier(2)
    out: Any = multiprocessing.Queue()
    receiving = multiprocessing.Process(target=receiver, args=(url, agent, total, rate, ready, out))
    sending = multiprocessing.Process(target=sender, args=(url, agent, total, rate, ready))
    receiving.start()
    sending.start()
    samples = sorted(out.get(timeout=300))
    sending.join()
    receiving.join()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="per throughput round")
    parser.add_argument("--batch", type=int, default=250, help="send and read batch size")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of each (ratios: median of the pairs)"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="paced msgs/s for latency")
    parser.add_argument("--seconds", type=float, default=5.0, help="paced run length")
    parser.add_argument(
        "--appendfsync",
        choices=["always", "everysec", "no"],
        default="always",
        help="the server's fsync policy (production: always; the others show the cost "
        "of the disk apart from the cost of the code)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aito-bench-bus-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp))
        url = server.start(ping=_ping)
        version = _ping(url)
        admin = redis.Redis.from_url(url)
        admin.config_set("appendfsync", args.appendfsync)
        admin.close()
        try:
            raw_tp, aito_tp = [], []
            for _ in range(args.rounds):  # alternate, so both see the same machine state
                common = {"total": args.messages, "batch": args.batch}
                raw_tp.append(throughput(url, sender=raw_send, receiver=raw_receive, **common))
                aito_tp.append(throughput(url, sender=aito_send, receiver=aito_receive, **common))
            paced = {"total": int(args.rate * args.seconds), "rate": args.rate}
            raw_rounds, aito_rounds = [], []
            for _ in range(args.rounds):
                raw_rounds.append(latency(url, sender=raw_paced, receiver=raw_timed, **paced))
                aito_rounds.append(latency(url, sender=aito_paced, receiver=aito_timed, **paced))
        finally:
            server.stop()

    best_raw, best_aito = max(raw_tp), max(aito_tp)
    print(f"Redis {version}, embedded: appendonly yes, appendfsync {args.appendfsync}; sender and")
    print("receiver in separate processes; raw = redis-py XADD / XREADGROUP / XACK, same server")
    print(f"throughput, {args.messages:,} direct messages, batches of {args.batch}")
    print(f"  raw redis-py  {best_raw:>10,.0f} msgs/s   (rounds: {_fmt(raw_tp)})")
    print(f"  AITO bus      {best_aito:>10,.0f} msgs/s   (rounds: {_fmt(aito_tp)})")
    tp_ratio = statistics.median(r / a for r, a in zip(raw_tp, aito_tp, strict=True))
    print(f"  raw / AITO    {tp_ratio:>10.2f}x       {_verdict(tp_ratio)}")
    raw_lat, aito_lat = _median_round(raw_rounds), _median_round(aito_rounds)
    print(
        f"latency sender -> handler -> ack, paced {args.rate:,.0f} msgs/s, {args.seconds} s "
        f"per round (median round of {args.rounds})"
    )
    for name, (p50, p99), rounds in (
        ("raw redis-py", raw_lat, raw_rounds),
        ("AITO bus", aito_lat, aito_rounds),
    ):
        print(f"  {name:13} p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   (rounds: {_ms(rounds)})")
    pairs = list(zip(aito_rounds, raw_rounds, strict=True))
    p50_ratio = statistics.median(a[0] / r[0] for a, r in pairs)
    p99_ratio = statistics.median(a[1] / r[1] for a, r in pairs)
    print(
        f"  AITO / raw    p50 {p50_ratio:6.2f}x {_verdict(p50_ratio)}   "
        f"p99 {p99_ratio:6.2f}x {_verdict(p99_ratio)}"
    )


TARGET = 1.5
"""AITO may cost at most this factor over raw redis-py (throughput, p50, p99)."""


def _verdict(ratio: float) -> str:
    return f"(target <= {TARGET}x: {'met' if ratio <= TARGET else 'NOT met'})"


def _ping(url: str) -> str:
    bus = RedisBus(url=url)
    try:
        return bus.ping()
    finally:
        bus.close()


def _median_round(rounds: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


def _ms(rounds: list[tuple[float, float]]) -> str:
    return ", ".join(f"{p50:.2f}/{p99:.2f}" for p50, p99 in rounds)


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


if __name__ == "__main__":
    main()
