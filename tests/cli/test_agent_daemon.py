"""`aito agent daemon`: wakes on its schedule and on messages; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis

pytestmark = pytest.mark.services


def _runs(postgres_url: str, agent: str) -> list[tuple[str, str]]:
    with psycopg.connect(postgres_url) as conn:
        try:
            found = conn.execute(
                "SELECT trigger, status FROM agent_runs WHERE agent_id = %s ORDER BY started_at",
                (agent,),
            ).fetchall()
        except psycopg.errors.UndefinedTable:  # the daemon has not migrated yet
            return []
    return [(str(t), str(s)) for t, s in found]


def _wait_for(check, *, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_daemon_runs_its_slot_wakes_on_a_message_and_stops_on_sigterm(
    governance_repo: Path, postgres_url: str, redis_url: str
) -> None:
    env = {
        **os.environ,
        "POSTGRES_URL": postgres_url,
        "REDIS_URL": redis_url,
        "AITO_REPO": str(governance_repo),
        "AITO_MODEL": "offline",
    }
    env.pop("ANTHROPIC_API_KEY", None)
    aito = [str(Path(sys.executable).parent / "aito")]
    daemon = subprocess.Popen(
        [*aito, "agent", "daemon", "cfo", "--poll-seconds", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(
            lambda: ("schedule", "completed") in _runs(postgres_url, "cfo"), seconds=60
        )
        sent = subprocess.run(
            [
                *aito,
                "bus",
                "send",
                "--to",
                "cfo",
                "--from",
                "ceo",
                "--type",
                "status_request",
                "--payload",
                '{"subject": "Status, please"}',
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert sent.returncode == 0, sent.stderr
        assert _wait_for(
            lambda: any(t == "message" for t, _ in _runs(postgres_url, "cfo")), seconds=30
        ), _runs(postgres_url, "cfo")
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, err
    assert "daemon stopped after" in err
    assert ("message", "completed") in _runs(postgres_url, "cfo")
    # the request was answered: a status_response from cfo is in the ceo's stream
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entries = client.xrange("stream:agent:ceo")
    client.close()
    assert any(
        '"status_response"' in fields["message"] and '"from":"cfo"' in fields["message"]
        for _, fields in entries
    ), entries
