"""Per-agent state: JSONB key/value with a version column (optimistic concurrency)."""

from __future__ import annotations

from typing import Any

from aito.errors import ConflictError
from aito.memory.base import StateValue
from aito.memory.postgres.connection import Connector, jsonb


class StateStore(Connector):
    def get_state(self, agent_id: str, key: str) -> StateValue | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT state_value, version FROM agent_state "
                "WHERE agent_id = %s AND state_key = %s",
                (agent_id, key),
            ).fetchone()
        return StateValue(row[0], int(row[1])) if row else None

    def all_state(self, agent_id: str) -> dict[str, StateValue]:
        with self._connect() as conn:
            found = conn.execute(
                "SELECT state_key, state_value, version FROM agent_state WHERE agent_id = %s "
                "ORDER BY state_key",
                (agent_id,),
            ).fetchall()
        return {key: StateValue(value, int(version)) for key, value, version in found}

    def put_state(
        self, agent_id: str, key: str, value: Any, *, expected_version: int | None
    ) -> int:
        """Write ``value`` if the stored version is ``expected_version`` (None: must be new).

        Returns the new version; raises ConflictError when another run wrote first, so
        two runs of one agent can never silently overwrite each other.
        """
        with self._connect() as conn, conn.transaction():
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
                    "updated_at = now() WHERE agent_id = %s AND state_key = %s AND version = %s "
                    "RETURNING version",
                    (jsonb(value), agent_id, key, expected_version),
                ).fetchone()
            if row is None:
                current = conn.execute(
                    "SELECT version FROM agent_state WHERE agent_id = %s AND state_key = %s",
                    (agent_id, key),
                ).fetchone()
                found = f"version {current[0]}" if current else "no value"
                wanted = "a new key" if expected_version is None else f"version {expected_version}"
                raise ConflictError(
                    f"state {agent_id}/{key} changed: expected {wanted}, found {found}; "
                    "read it again and retry"
                )
            return int(row[0])

    def delete_state(self, agent_id: str, key: str, *, expected_version: int) -> None:
        with self._connect() as conn, conn.transaction():
            gone = conn.execute(
                "DELETE FROM agent_state WHERE agent_id = %s AND state_key = %s AND version = %s "
                "RETURNING 1",
                (agent_id, key, expected_version),
            ).fetchone()
            if gone is None:
                raise ConflictError(f"state {agent_id}/{key} changed before it could be deleted")
