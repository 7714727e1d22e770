"""Bus fixtures: message factories, and a private embedded Redis that tests may SIGKILL.

The session's Redis (`bus`, `redis_url`) serves the ordinary tests. Tests that kill
the server get their own `EmbeddedRedis` in a temporary directory (`chaos`); a
restart puts it on a new port, so their RedisBus is given a URL provider.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aito import retrying
from aito.bus.redis import RedisBus
from aito.org.messages import AgentMessage
from aito.services.redis_server import EmbeddedRedis

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def message(
    message_id: str,
    *,
    to: str = "cmo",
    sender: str = "ceo",
    type: str = "direct",
    **extra: Any,
) -> AgentMessage:
    return AgentMessage.model_validate(
        {
            "id": message_id,
            "type": type,
            "from": sender,
            "to": to,
            "payload": extra.pop("payload", {"n": message_id}),
            "timestamp": extra.pop("timestamp", NOW),
            **extra,
        }
    )


def _ping(url: str) -> str:
    probe = RedisBus(url=url)
    try:
        return probe.ping()
    finally:
        probe.close()


class Chaos:
    """A real embedded Redis (AOF, fsync always) that can be SIGKILLed and restarted."""

    def __init__(self, data_dir: Path) -> None:
        self.server = EmbeddedRedis(data_dir=data_dir)
        self.url = self.server.start(ping=_ping)
        self.kills = 0
        self._lock = threading.Lock()

    def current_url(self) -> str:
        return self.url

    def bus(self, *, budget: float = 30.0) -> RedisBus:
        """A bus that follows the server across restarts and retries through outages."""
        return RedisBus(url=self.current_url, retry=retrying.Policy(budget_seconds=budget))

    def kill(self) -> None:
        with self._lock:
            pid = self.server.status().pid
            assert pid is not None, "the embedded Redis is not running"
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.server.status().running:
                assert time.monotonic() < deadline, "redis-server survived SIGKILL"
                time.sleep(0.01)
            self.kills += 1

    def restart(self) -> None:
        with self._lock:
            self.url = self.server.start(ping=_ping)

    def bounce(self, down_seconds: float = 0.3) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.restart()

    def bounce_in_background(self, down_seconds: float = 0.3) -> threading.Thread:
        """Kill now, restart after ``down_seconds`` in a thread (the caller keeps going)."""
        self.kill()

        def later() -> None:
            time.sleep(down_seconds)
            self.restart()

        thread = threading.Thread(target=later, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def chaos(tmp_path: Path) -> Iterator[Chaos]:
    server = Chaos(tmp_path / "chaos")
    yield server
    server.stop()
