"""The Postgres adapter (the only package that imports psycopg and pgvector).

`PostgresMemory` is one object over one database; each concern lives in its own
module: the schema and migrations, the organization (agents, events, decisions,
tasks), agent state, history and recall, and model usage.
"""

from __future__ import annotations

from aito.memory.postgres.history import HistoryStore
from aito.memory.postgres.inbox_reading import InboxStore
from aito.memory.postgres.organization import OrganizationStore
from aito.memory.postgres.reading import ReadStore
from aito.memory.postgres.runs import RunStore
from aito.memory.postgres.schema import (
    AppliedMigration,
    MigrationDrift,
    SchemaStore,
    drop_database,
)
from aito.memory.postgres.state import StateStore
from aito.memory.postgres.usage import UsageStore
from aito.memory.postgres.verdicts import VerdictStore

__all__ = ["AppliedMigration", "MigrationDrift", "PostgresMemory", "drop_database"]


class PostgresMemory(
    SchemaStore,
    OrganizationStore,
    StateStore,
    HistoryStore,
    UsageStore,
    RunStore,
    VerdictStore,
    ReadStore,
    InboxStore,
):
    """State, history (with pgvector recall), the audit log, decisions (and their last
    verdicts), tasks, usage and the agent loop's runs, actions, outcomes, inbox and open
    items; and pages of them for people (the views)."""
