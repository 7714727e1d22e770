"""A migrated database with the example organization's agents registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from aito.memory import base
from aito.memory.postgres import PostgresMemory
from aito.org import loading


@pytest.fixture
def store(memory: PostgresMemory, example_repo: Path) -> PostgresMemory:
    memory.migrate()
    memory.register_agents(base.agent_rows(loading.load_valid(example_repo)))
    return memory
