"""Connections to Postgres and the translation of its errors (the adapter's boundary)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from aito.errors import PermanentAdapterError, TemporaryAdapterError

SERVICE = "postgres"
Connection = psycopg.Connection[tuple[Any, ...]]


class Connector:
    """Opens a connection per operation; failures become our own errors."""

    def __init__(self, *, url: str, connect_timeout: float = 10.0) -> None:
        self._url = url
        self._timeout = connect_timeout

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with psycopg.connect(self._url, connect_timeout=int(self._timeout)) as conn:
                yield conn
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
