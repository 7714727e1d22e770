"""Connections to Postgres and the translation of its errors (the adapter's boundary)."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from aito.errors import PermanentAdapterError, TemporaryAdapterError

SERVICE = "postgres"
Connection = psycopg.Connection[tuple[Any, ...]]


class Connector:
    """Connections for each operation; failures become our own errors.

    With ``pool_size`` (long-lived processes: agents, the orchestrator, benchmarks)
    connections are pooled and checked before use, so a restarted server is
    reconnected to transparently; without it (one-shot commands) each operation
    opens its own. Call :meth:`close` when done with a pooled one.
    """

    def __init__(
        self,
        *,
        url: str,
        connect_timeout: float = 10.0,
        pool_size: int = 0,
        retry_seconds: float = 10.0,
    ) -> None:
        self._url = url
        self._timeout = connect_timeout
        self._retry_seconds = retry_seconds
        self._pool: ConnectionPool[Connection] | None = None
        if pool_size:
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"connect_timeout": int(connect_timeout)},
                check=ConnectionPool.check_connection,
                timeout=connect_timeout,
                open=False,
                name="aito",
            )
            self._pool.open(wait=False)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    @contextlib.contextmanager
    def _open(self) -> Iterator[Connection]:
        if self._pool is None:
            with self._connect_with_retries() as conn:
                yield conn
        else:
            with self._pool.connection() as conn:
                yield conn

    def _connect_with_retries(self) -> Connection:
        """A new connection; an unreachable server is retried with backoff for a while.

        Only connecting is retried here: a statement that failed half-way is the
        caller's to retry (history writes are, idempotently).
        """
        deadline = time.monotonic() + self._retry_seconds
        delay = 0.1
        while True:
            try:
                return psycopg.connect(self._url, connect_timeout=int(self._timeout))
            except psycopg.OperationalError:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self._open() as conn:
                yield conn
        except PoolTimeout as exc:
            raise TemporaryAdapterError(
                SERVICE, "no Postgres connection available (is it running?)", retry_after=2.0
            ) from exc
        except psycopg.OperationalError as exc:
            raise TemporaryAdapterError(
                SERVICE,
                f"cannot reach Postgres ({first_line(exc)}); is it running? "
                "`aito services status` tells",
                retry_after=2.0,
            ) from exc
        except psycopg.errors.SerializationFailure as exc:
            raise TemporaryAdapterError(SERVICE, first_line(exc), retry_after=0.1) from exc
        except psycopg.Error as exc:
            raise PermanentAdapterError(SERVICE, first_line(exc)) from exc


def rows(cursor: psycopg.Cursor[tuple[Any, ...]]) -> list[dict[str, Any]]:
    names = [d.name for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def jsonb(value: Any) -> Jsonb:
    return Jsonb(value)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
