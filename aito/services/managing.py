"""Bring the services up, report on them, take them down.

`POSTGRES_URL` / `REDIS_URL` select external servers, which AITO only checks;
without them AITO runs the embedded ones under the data directory and reuses a
running instance.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from aito.bus.redis import RedisBus
from aito.errors import AdapterError, ConfigError
from aito.memory.postgres import PostgresMemory
from aito.services import postgres_server, redis_server
from aito.services.base import ServiceStatus
from aito.settings import Settings


@dataclasses.dataclass(frozen=True)
class Endpoints:
    """Where the running services are."""

    postgres_url: str
    redis_url: str
    postgres_embedded: bool
    redis_embedded: bool
    started: tuple[str, ...] = ()  # the embedded services this call started (not reused)


def unwritable_reason(path: Path) -> str | None:
    """Create directory ``path`` if needed; why AITO cannot write there, or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            return "no write permission"
        with tempfile.TemporaryFile(dir=path):
            pass
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return None


def prepare_data_dir(path: Path) -> Path:
    """Create the data directory if needed and check AITO can write there.

    Raises :class:`ConfigError` (exit 3) naming the directory and the fix.
    """
    reason = unwritable_reason(path)
    if reason is not None:
        raise ConfigError(
            f"the data directory {str(path)[:200]!r} is not usable ({reason}); pass "
            "--data-dir DIR or set AITO_DATA_DIR to a directory AITO may create and write"
        )
    return path


def up(settings: Settings) -> Endpoints:
    """Start what is embedded and not running; check what is external. Idempotent."""
    started: list[str] = []
    if settings.postgres_url is None or settings.redis_url is None:
        prepare_data_dir(settings.data_dir)
    if settings.postgres_url is not None:
        postgres_url = settings.postgres_url.get_secret_value()
        PostgresMemory(url=postgres_url).server_version()
    else:
        server = postgres_server.EmbeddedPostgres(data_dir=settings.data_dir)
        if server.url() is None:
            started.append("postgres")
        PostgresMemory(url=server.start()).ensure_database(postgres_server.DATABASE)
        found = server.url()
        if found is None:
            raise ConfigError(f"the embedded Postgres in {server.pgdata} stopped right after start")
        postgres_url = found
    if settings.redis_url is not None:
        redis_url = settings.redis_url.get_secret_value()
        _ping_redis(redis_url)
    else:
        redis = redis_server.EmbeddedRedis(data_dir=settings.data_dir)
        if redis.url() is None:
            started.append("redis")
        redis_url = redis.start(ping=_ping_redis)
    return Endpoints(
        postgres_url=postgres_url,
        redis_url=redis_url,
        postgres_embedded=settings.postgres_url is None,
        redis_embedded=settings.redis_url is None,
        started=tuple(started),
    )


def status(settings: Settings) -> list[ServiceStatus]:
    """The state of both services, without starting anything."""
    found: list[ServiceStatus] = []
    if settings.postgres_url is not None:
        found.append(_external_postgres(settings.postgres_url.get_secret_value()))
    else:
        embedded = postgres_server.EmbeddedPostgres(data_dir=settings.data_dir).status()
        found.append(_with_version(embedded, _postgres_version))
    if settings.redis_url is not None:
        found.append(_external_redis(settings.redis_url.get_secret_value()))
    else:
        embedded = redis_server.EmbeddedRedis(data_dir=settings.data_dir).status()
        found.append(_with_version(embedded, _ping_redis))
    return found


def _with_version(found: ServiceStatus, probe: Callable[[str], str]) -> ServiceStatus:
    if not (found.running and found.url):
        return found
    try:
        return dataclasses.replace(found, version=probe(found.url))
    except AdapterError as exc:
        return dataclasses.replace(found, detail=str(exc))


def _postgres_version(url: str) -> str:
    return PostgresMemory(url=url, connect_timeout=5, retry_seconds=0).server_version()


def down(settings: Settings) -> list[str]:
    """Stop the embedded services (external ones are left alone); returns what was stopped."""
    stopped = []
    if settings.redis_url is None and redis_server.EmbeddedRedis(data_dir=settings.data_dir).stop():
        stopped.append("redis")
    if (
        settings.postgres_url is None
        and postgres_server.EmbeddedPostgres(data_dir=settings.data_dir).stop()
    ):
        stopped.append("postgres")
    return stopped


def mask(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for output and logs)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _ping_redis(url: str) -> str:
    bus = RedisBus(url=url)
    try:
        return bus.ping()
    finally:
        bus.close()


def _external_postgres(url: str) -> ServiceStatus:
    try:
        version = PostgresMemory(url=url, connect_timeout=5, retry_seconds=0).server_version()
        return ServiceStatus("postgres", False, True, mask(url), version=version)
    except AdapterError as exc:
        return ServiceStatus("postgres", False, False, mask(url), detail=str(exc))


def _external_redis(url: str) -> ServiceStatus:
    try:
        return ServiceStatus("redis", False, True, mask(url), version=_ping_redis(url))
    except AdapterError as exc:
        return ServiceStatus("redis", False, False, mask(url), detail=str(exc))
