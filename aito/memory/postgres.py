"""The Postgres adapter: migrations, agent registration, events, heartbeats.

The only module that imports psycopg. Connection failures become
:class:`TemporaryAdapterError` (retry), SQL and constraint errors
:class:`PermanentAdapterError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from aito.errors import AitoError, PermanentAdapterError, TemporaryAdapterError
from aito.memory import migrations
from aito.memory.base import AgentRow, DecisionRow, Registration

SERVICE = "postgres"
_MIGRATION_LOCK = 0x41_49_54_4F  # "AITO": one migrator at a time


@dataclasses.dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: dt.datetime


class MigrationDrift(AitoError):
    """An applied migration's file changed after it ran: the schema is not what the code expects."""


class PostgresMemory:
    """State, history and audit log in Postgres (pgvector for embeddings)."""

    def __init__(self, *, url: str, connect_timeout: float = 10.0) -> None:
        self._url = url
        self._timeout = connect_timeout

    @contextlib.contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        try:
            with psycopg.connect(self._url, connect_timeout=int(self._timeout)) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise TemporaryAdapterError(
                SERVICE,
                f"cannot reach Postgres ({_first_line(exc)}); is it running? "
                "`aito services status` tells",
                retry_after=2.0,
            ) from exc
        except psycopg.Error as exc:
            raise PermanentAdapterError(SERVICE, _first_line(exc)) from exc

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
            raise TemporaryAdapterError(SERVICE, _first_line(exc)) from exc

    # -- migrations ----------------------------------------------------------------
    def applied_migrations(self) -> list[AppliedMigration]:
        with self._connect() as conn:
            self._ensure_migration_table(conn)
            rows = conn.execute(
                "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
            ).fetchall()
        return [AppliedMigration(*row) for row in rows]

    def migrate(self) -> list[migrations.Migration]:
        """Apply every shipped migration not yet applied; returns those applied now.

        Each migration runs in its own transaction under an advisory lock, so two
        `aito up` at once apply each migration once.
        """
        applied_now: list[migrations.Migration] = []
        with self._connect() as conn:
            self._ensure_migration_table(conn)
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

    @staticmethod
    def _ensure_migration_table(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    INTEGER PRIMARY KEY,
                       name       TEXT NOT NULL,
                       checksum   TEXT NOT NULL,
                       applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
            )

    # -- agents --------------------------------------------------------------------
    def register_agents(self, rows: list[AgentRow]) -> Registration:
        """Upsert the agents; agents gone from org/ are marked retired. Idempotent."""
        inserted: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        with self._connect() as conn, conn.transaction():
            existing = dict(conn.execute("SELECT id, definition_hash FROM agents").fetchall())
            retired_rows = conn.execute("SELECT id FROM agents WHERE status = 'retired'").fetchall()
            already_retired = {r[0] for r in retired_rows}
            for row in rows:
                if existing.get(row.id) == row.definition_hash and row.id not in already_retired:
                    unchanged.append(row.id)
                    continue
                (inserted if row.id not in existing else updated).append(row.id)
                conn.execute(_UPSERT_AGENT, _agent_params(row))
            wanted = {row.id for row in rows}
            retired = sorted(set(existing) - wanted - already_retired)
            if retired:
                conn.execute(
                    "UPDATE agents SET status = 'retired', updated_at = now() WHERE id = ANY(%s)",
                    (retired,),
                )
            result = Registration(inserted, updated, retired, unchanged)
            if result.changed:
                self._event(
                    conn,
                    event_type="org.agents_registered",
                    payload={"inserted": inserted, "updated": updated, "retired": retired},
                )
        return result

    def agents(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            cursor = conn.execute(
                "SELECT id, type, layer, status, last_heartbeat, definition_hash FROM agents "
                "ORDER BY id"
            )
            names = [d.name for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def record_wake(self, *, agent_id: str, run_id: str, trigger: str, at: dt.datetime) -> bool:
        """Record one wake-up (event + heartbeat); False if this run id was already recorded."""
        with self._connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"wake:{run_id}",))
            seen = conn.execute(
                "SELECT 1 FROM events WHERE event_type = 'agent.woke' AND run_id = %s", (run_id,)
            ).fetchone()
            if seen:
                return False
            conn.execute("UPDATE agents SET last_heartbeat = %s WHERE id = %s", (at, agent_id))
            self._event(
                conn,
                event_type="agent.woke",
                source_agent=agent_id,
                run_id=run_id,
                payload={"trigger": trigger},
                at=at,
            )
            return True

    def events(self, *, event_type: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self._connect() as conn:
            cursor = conn.execute(
                "SELECT event_type, source_agent, target_agent, run_id, decision_id, payload, "
                "created_at FROM events WHERE (%(t)s::text IS NULL OR event_type = %(t)s) "
                "ORDER BY created_at DESC LIMIT %(n)s",
                {"t": event_type, "n": limit},
            )
            names = [d.name for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def upsert_decision(self, row: DecisionRow) -> str | None:
        """Mirror a decision (the repo wins); returns the status it had before, if any."""
        with self._connect() as conn, conn.transaction():
            before = conn.execute(
                "SELECT status FROM decisions WHERE id = %s FOR UPDATE", (row.id,)
            ).fetchone()
            conn.execute(_UPSERT_DECISION, _decision_params(row))
            if before is None or before[0] != row.status:
                self._event(
                    conn,
                    event_type="decision.status",
                    source_agent=row.proposed_by,
                    decision_id=row.id,
                    payload={"status": row.status, "round": row.veto_round, "pr": row.pr_number},
                )
            return str(before[0]) if before else None

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            cursor = conn.execute("SELECT * FROM decisions WHERE id = %s", (decision_id,))
            row = cursor.fetchone()
            names = [d.name for d in cursor.description or []]
            return dict(zip(names, row, strict=True)) if row else None

    def add_history(
        self,
        *,
        agent_id: str,
        action_type: str,
        summary: str,
        details: dict[str, Any],
        run_id: str | None = None,
    ) -> None:
        """One entry of an agent's history (its embedding is filled in later)."""
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO agent_history (agent_id, run_id, action_type, summary, details) "
                "VALUES (%s, %s, %s, %s, %s)",
                (agent_id, run_id, action_type, summary, Jsonb(details)),
            )

    def history(self, agent_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        with self._connect() as conn:
            cursor = conn.execute(
                "SELECT action_type, summary, details, run_id, created_at FROM agent_history "
                "WHERE agent_id = %s ORDER BY created_at DESC LIMIT %s",
                (agent_id, limit),
            )
            names = [d.name for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @staticmethod
    def _event(
        conn: psycopg.Connection[tuple[Any, ...]],
        *,
        event_type: str,
        payload: dict[str, Any],
        source_agent: str | None = None,
        run_id: str | None = None,
        decision_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO events (event_type, source_agent, run_id, decision_id, payload, "
            "created_at) VALUES (%s, %s, %s, %s, %s, COALESCE(%s, now()))",
            (event_type, source_agent, run_id, decision_id, Jsonb(payload), at),
        )


_UPSERT_AGENT = """
INSERT INTO agents (id, type, layer, name, department, profile_path, reports_to, loop_schedule,
                    loop_interval, model, git_repo, git_branch, git_paths, git_permissions,
                    budget_daily_usd, budget_monthly_usd, definition, definition_hash, status)
VALUES (%(id)s, %(type)s, %(layer)s, %(name)s, %(department)s, %(profile_path)s, %(reports_to)s,
        %(loop_schedule)s, %(loop_interval)s, %(model)s, %(git_repo)s, %(git_branch)s,
        %(git_paths)s, %(git_permissions)s, %(budget_daily_usd)s, %(budget_monthly_usd)s,
        %(definition)s, %(definition_hash)s, 'inactive')
ON CONFLICT (id) DO UPDATE SET
    type = EXCLUDED.type, layer = EXCLUDED.layer, name = EXCLUDED.name,
    department = EXCLUDED.department, profile_path = EXCLUDED.profile_path,
    reports_to = EXCLUDED.reports_to, loop_schedule = EXCLUDED.loop_schedule,
    loop_interval = EXCLUDED.loop_interval, model = EXCLUDED.model, git_repo = EXCLUDED.git_repo,
    git_branch = EXCLUDED.git_branch, git_paths = EXCLUDED.git_paths,
    git_permissions = EXCLUDED.git_permissions, budget_daily_usd = EXCLUDED.budget_daily_usd,
    budget_monthly_usd = EXCLUDED.budget_monthly_usd, definition = EXCLUDED.definition,
    definition_hash = EXCLUDED.definition_hash,
    status = CASE WHEN agents.status = 'retired' THEN 'inactive' ELSE agents.status END,
    updated_at = now()
"""


_UPSERT_DECISION = """
INSERT INTO decisions (id, title, description, proposed_by, tier, status, veto_round, ceo_vote,
                       dao_vote, c_level_votes, rounds, human_decision, decided_by, pr_number,
                       pr_url, due, resolved_at, record)
VALUES (%(id)s, %(title)s, %(description)s, %(proposed_by)s, %(tier)s, %(status)s,
        %(veto_round)s, %(ceo_vote)s, %(dao_vote)s, %(c_level_votes)s, %(rounds)s,
        %(human_decision)s, %(decided_by)s, %(pr_number)s, %(pr_url)s, %(due)s, %(resolved_at)s,
        %(record)s)
ON CONFLICT (id) DO UPDATE SET
    title = EXCLUDED.title, description = EXCLUDED.description, tier = EXCLUDED.tier,
    status = EXCLUDED.status, veto_round = EXCLUDED.veto_round, ceo_vote = EXCLUDED.ceo_vote,
    dao_vote = EXCLUDED.dao_vote, c_level_votes = EXCLUDED.c_level_votes,
    rounds = EXCLUDED.rounds, human_decision = EXCLUDED.human_decision,
    decided_by = EXCLUDED.decided_by, pr_number = EXCLUDED.pr_number, pr_url = EXCLUDED.pr_url,
    due = EXCLUDED.due, resolved_at = COALESCE(decisions.resolved_at, EXCLUDED.resolved_at),
    record = EXCLUDED.record, updated_at = now()
"""


def _decision_params(row: DecisionRow) -> dict[str, Any]:
    params = dataclasses.asdict(row)
    for key in ("c_level_votes", "rounds", "record"):
        params[key] = Jsonb(params[key])
    return params


def _agent_params(row: AgentRow) -> dict[str, Any]:
    params = dataclasses.asdict(row)
    params["definition"] = Jsonb(row.definition)
    params["definition_hash"] = row.definition_hash
    return params


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def drop_database(*, admin_url: str, name: str) -> None:
    """Drop database ``name`` (used by tests and `aito services` clean-up), if it exists."""
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    except psycopg.OperationalError as exc:
        raise TemporaryAdapterError(SERVICE, _first_line(exc)) from exc
