"""Connections to Postgres and the translation of its errors (the adapter's boundary).

Postgres away (not running, restarting, a connection cut mid-statement) surfaces as
:class:`TemporaryAdapterError`. :meth:`Connector._run` retries an operation through
it with jittered exponential backoff (:data:`RETRY`, through :mod:`aito.retrying`) for
at most ``retry_seconds`` in all, on a new connection each time; only operations that
are safe to repeat after a lost reply go through it (reads; writes that are idempotent
or checked, see each store).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from aito import retrying
from aito.errors import ConfigError, PermanentAdapterError, TemporaryAdapterError

SERVICE = "postgres"
Connection = psycopg.Connection[tuple[Any, ...]]
T = TypeVar("T")

FIRST_DELAY = 0.1
MAX_DELAY = 2.0

# Every session starts with these (startup options: no round trip of their own). They
# are recall's (history.py): pgvector 0.8 keeps scanning the HNSW index until enough
# rows pass the filters, with a bounded effort.
SESSION_SETTINGS = {
    "hnsw.iterative_scan": "relaxed_order",
    "hnsw.ef_search": "40",
    "hnsw.max_scan_tuples": "20000",
}
# A pooled connection handed out this recently is handed out again without a ping: a
# server that went away since is met by the operation itself, as TemporaryAdapterError.
FRESH_SECONDS = 1.0


RETRY = retrying.Policy(
    budget_seconds=30.0,
    base_delay=FIRST_DELAY,
    max_delay=MAX_DELAY,
    jitter="spread",
    honour="ignore",
)
"""Jittered exponential backoff (0.1 s doubling up to 2 s, each wait 0.5-1.5 times that)
within ``retry_seconds`` in all (a Connector's own budget replaces the 30 s here)."""


class Connector:
    """Connections for each operation; failures become our own errors.

    With ``pool_size`` (long-lived processes: agents, the orchestrator, benchmarks)
    connections are pooled and checked before use (unless used within
    ``FRESH_SECONDS``), so a restarted server is reconnected to transparently;
    without it (one-shot commands) each operation opens its own. Call :meth:`close`
    when done with a pooled one.

    ``retry_seconds`` bounds how long one operation keeps trying while Postgres is
    away (0: fail at once).
    """

    def __init__(
        self,
        *,
        url: str,
        connect_timeout: float = 10.0,
        pool_size: int = 0,
        retry_seconds: float = 30.0,
    ) -> None:
        self._url = with_session_settings(url)
        self._timeout = connect_timeout
        self._retry_seconds = retry_seconds
        self._retry = dataclasses.replace(RETRY, budget_seconds=retry_seconds)
        self._pool: ConnectionPool[Connection] | None = None
        if pool_size:
            # When each connection was last handed out. (Not noted on return: a `reset`
            # callback makes the pool return every connection through a worker thread,
            # a thread switch per operation.)
            handed: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()

            def check_unless_fresh(conn: Connection) -> None:
                now = time.monotonic()
                last, handed[conn] = handed.get(conn, 0.0), now
                if now - last > FRESH_SECONDS:
                    ConnectionPool.check_connection(conn)

            self._pool = ConnectionPool(
                self._url,
                min_size=1,
                max_size=pool_size,
                kwargs={"connect_timeout": int(connect_timeout)},
                check=check_unless_fresh,
                timeout=connect_timeout,
                open=False,
                name="aito",
            )
            self._pool.open(wait=False)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def _run(self, fn: Callable[[Connection], T], *, patience: float | None = None) -> T:
        """``fn(conn)`` on a connection of its own, retried through TemporaryAdapterError
        (Postgres away, a serialization failure) within ``retry_seconds`` in all (or
        ``patience`` seconds, for the few writes worth a longer wait).

        ``fn`` must be safe to run again after an attempt whose reply was lost: its
        transaction may have committed. A statement's own errors are not retried.
        Retries connect directly rather than wait for the pool, whose own reconnection
        backs off for longer and longer while the server is away.
        """
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            with self._connect(retry=False, pooled=attempts == 1) as conn:
                return fn(conn)

        policy = self._retry
        if patience is not None and patience > self._retry_seconds:
            policy = dataclasses.replace(policy, budget_seconds=patience)
        return retrying.call(attempt, policy=policy, what="postgres")

    @contextlib.contextmanager
    def _open(self, *, retry: bool, pooled: bool) -> Iterator[Connection]:
        if self._pool is None or not pooled:
            with self._connect_with_retries(self._retry_seconds if retry else 0.0) as conn:
                yield conn
        else:
            with self._pool.connection() as conn:
                yield conn

    def _connect_with_retries(self, seconds: float) -> Connection:
        """A new connection; an unreachable server is retried with backoff for ``seconds``.

        Only connecting is retried here; whole operations are, by :meth:`_run`.
        """
        return retrying.call(
            lambda: psycopg.connect(self._url, connect_timeout=int(self._timeout)),
            policy=dataclasses.replace(self._retry, budget_seconds=seconds),
            retry_if=lambda exc: isinstance(exc, psycopg.OperationalError),
            what="connect to postgres",
        )

    @contextlib.contextmanager
    def _connect(self, *, retry: bool = True, pooled: bool = True) -> Iterator[Connection]:
        """A connection, from the pool if there is one and ``pooled``; ``retry``: a new
        connection is retried within ``retry_seconds``."""
        try:
            with self._open(retry=retry, pooled=pooled) as conn:
                yield conn
        except PoolTimeout as exc:
            raise TemporaryAdapterError(
                SERVICE, "no Postgres connection available (is it running?)", retry_after=2.0
            ) from exc
        except psycopg.errors.TransactionRollback as exc:  # serialization, deadlock
            raise TemporaryAdapterError(SERVICE, first_line(exc), retry_after=0.1) from exc
        except psycopg.OperationalError as exc:
            raise TemporaryAdapterError(
                SERVICE,
                f"cannot reach Postgres ({first_line(exc)}); is it running? "
                "`aito services status` tells",
                retry_after=2.0,
            ) from exc
        except psycopg.Error as exc:
            raise PermanentAdapterError(SERVICE, first_line(exc)) from exc


def with_session_settings(url: str) -> str:
    """``url`` as a connection string whose ``options`` also set :data:`SESSION_SETTINGS`
    (the URL's own options are kept and come first)."""
    try:
        own = conninfo_to_dict(url).get("options")
        ours = " ".join(f"-c {name}={value}" for name, value in SESSION_SETTINGS.items())
        return make_conninfo(url, options=f"{own} {ours}" if own else ours)
    except psycopg.ProgrammingError as exc:  # the URL itself (never echoed: a password)
        raise ConfigError(f"the Postgres URL is not usable: {first_line(exc)[:100]}") from exc


def rows(cursor: psycopg.Cursor[tuple[Any, ...]]) -> list[dict[str, Any]]:
    names = [d.name for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def jsonb(value: Any) -> Jsonb:
    """``value`` as a JSONB parameter, its strings made storable (see :func:`storable`)."""
    return Jsonb(storable(value))


def storable(value: Any) -> Any:
    """``value`` with what Postgres refuses in text and JSONB replaced by U+FFFD: NUL
    characters and lone surrogates (e.g. from a malformed model reply being recorded).
    Anything else is returned as is."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
