"""`aito services up|status|down` with the embedded servers in a private data directory."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from aito.services import managing
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
