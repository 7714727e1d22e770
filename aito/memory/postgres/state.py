"""Per-agent state: JSONB key/value with a version column (optimistic concurrency).

Every operation is retried while Postgres is away (see :meth:`Connector._run`). A
write whose commit reply was lost is recognised on the retry: the row already holds
our value at the version we would have written, so the retry returns that version
instead of reporting a conflict with itself.
"""

from __future__ import annotations

from typing import Any

from aito.errors import ConflictError
from aito.memory.base import StateValue
from aito.memory.postgres.connection import Connection, Connector, jsonb


class StateStore(Connector):
    def get_state(self, agent_id: str, key: str) -> StateValue | None:
        def read(conn: Connection) -> tuple[Any, ...] | None:
            return conn.execute(
                "SELECT state_value, version FROM agent_state "
                "WHERE agent_id = %s AND state_key = %s",
                (agent_id, key),
            ).fetchone()

        row = self._run(read)
        return StateValue(row[0], int(row[1])) if row else None

    def all_state(self, agent_id: str) -> dict[str, StateValue]:
        def read(conn: Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                "SELECT state_key, state_value, version FROM agent_state WHERE agent_id = %s "
                "ORDER BY state_key",
                (agent_id,),
            ).fetchall()

        found = self._run(read)
        return {key: StateValue(value, int(version)) for key, value, version in found}

    def put_state(
        self, agent_id: str, key: str, value: Any, *, expected_version: int | None
    ) -> int:
        """Write ``value`` if the stored version is ``expected_version`` (None: must be new).

        Returns the new version; raises ConflictError when another run wrote first, so
        two runs of one agent can never silently overwrite each other. Retried while
        Postgres is away: the version check makes a repeat either a no-op that finds
        its own write (same value, the next version) or a conflict.
        """
        attempts = 0
        wanted_version = 1 if expected_version is None else expected_version + 1

        def write(conn: Connection) -> int:
            nonlocal attempts
            attempts += 1
            with conn.transaction():
                if expected_version is None:
                    row = conn.execute(
                        "INSERT INTO agent_state (agent_id, state_key, state_value) "
                        "VALUES (%s, %s, %s) ON CONFLICT (agent_id, state_key) DO NOTHING "
                        "RETURNING version",
                        (agent_id, key, jsonb(value)),
                    ).fetchone()
                else:
                    row = conn.execute(
                        "UPDATE agent_state SET state_value = %s, version = version + 1, "
                        "updated_at = now() WHERE agent_id = %s AND state_key = %s "
                        "AND version = %s RETURNING version",
                        (jsonb(value), agent_id, key, expected_version),
                    ).fetchone()
                if row is not None:
                    return int(row[0])
                current = conn.execute(
                    "SELECT version, state_value = %s FROM agent_state "
                    "WHERE agent_id = %s AND state_key = %s",
                    (jsonb(value), agent_id, key),
                ).fetchone()
            if attempts > 1 and current is not None and current == (wanted_version, True):
                return wanted_version  # our own write, committed before its reply was lost
            found = f"version {current[0]}" if current else "no value"
            wanted = "a new key" if expected_version is None else f"version {expected_version}"
            raise ConflictError(
                f"state {agent_id}/{key} changed: expected {wanted}, found {found}; "
                "read it again and retry"
            )

        return self._run(write)

    def delete_state(self, agent_id: str, key: str, *, expected_version: int) -> None:
        """Delete the value if it is still at ``expected_version``; retried while Postgres
        is away (a retry that finds the row gone after a lost reply counts as done)."""
        attempts = 0

        def delete(conn: Connection) -> None:
            nonlocal attempts
            attempts += 1
            with conn.transaction():
                gone = conn.execute(
                    "DELETE FROM agent_state WHERE agent_id = %s AND state_key = %s "
                    "AND version = %s RETURNING 1",
                    (agent_id, key, expected_version),
                ).fetchone()
                if gone is not None:
                    return
                still = conn.execute(
                    "SELECT 1 FROM agent_state WHERE agent_id = %s AND state_key = %s",
                    (agent_id, key),
                ).fetchone()
            if attempts > 1 and still is None:
                return  # deleted by the attempt whose reply was lost
            raise ConflictError(f"state {agent_id}/{key} changed before it could be deleted")

        self._run(delete)
