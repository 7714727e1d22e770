"""The server, its databases, and the numbered migrations."""

from __future__ import annotations

import dataclasses
import datetime as dt

import psycopg
from psycopg import sql

from aito.errors import AitoError, TemporaryAdapterError
from aito.memory import migrations
from aito.memory.postgres.connection import SERVICE, Connection, Connector, first_line

_MIGRATION_LOCK = 0x41_49_54_4F  # "AITO": one migrator at a time


@dataclasses.dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: dt.datetime


class MigrationDrift(AitoError):
    """An applied migration's file changed after it ran: the schema is not what the code expects."""


class SchemaStore(Connector):
    def server_version(self) -> str:
        with self._connect() as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "unknown"

    def vector_version(self) -> str | None:
        """The installed pgvector version, or None when the extension is absent."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
            return str(row[0]) if row else None

    def ensure_database(self, name: str) -> bool:
        """Create database ``name`` on this server unless it exists; True if created."""
        try:
            with psycopg.connect(self._url, autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if exists:
                    return False
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                return True
        except psycopg.errors.DuplicateDatabase:
            return False
        except psycopg.OperationalError as exc:
            raise TemporaryAdapterError(SERVICE, first_line(exc)) from exc

    def applied_migrations(self) -> list[AppliedMigration]:
        with self._connect() as conn:
            _ensure_migration_table(conn)
            found = conn.execute(
                "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
            ).fetchall()
        return [AppliedMigration(*row) for row in found]

    def migrate(self) -> list[migrations.Migration]:
        """Apply every shipped migration not yet applied; returns those applied now.

        Each migration runs in its own transaction under an advisory lock, so two
        `aito up` at once apply each migration once.
        """
        applied_now: list[migrations.Migration] = []
        with self._connect() as conn:
            _ensure_migration_table(conn)
            for migration in migrations.shipped():
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                    row = conn.execute(
                        "SELECT checksum FROM schema_migrations WHERE version = %s",
                        (migration.version,),
                    ).fetchone()
                    if row is not None:
                        if row[0] != migration.checksum:
                            raise MigrationDrift(
                                f"migration {migration.version:04d}_{migration.name} changed after "
                                "it was applied; add a new numbered migration instead of editing it"
                            )
                        continue
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                    applied_now.append(migration)
        return applied_now


def _ensure_migration_table(conn: Connection) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    INTEGER PRIMARY KEY,
                   name       TEXT NOT NULL,
                   checksum   TEXT NOT NULL,
                   applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )


def drop_database(*, admin_url: str, name: str) -> None:
    """Drop database ``name`` (used by tests), if it exists."""
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    except psycopg.OperationalError as exc:
        raise TemporaryAdapterError(SERVICE, first_line(exc)) from exc
