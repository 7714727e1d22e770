"""A LocalForge over a private git copy of the example organization."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.local_repo import Clock

from aito.forge.base import Permission
from aito.forge.local import LocalForge
from aito.org import loading


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def local_forge(governance_repo: Path, clock: Clock) -> LocalForge:
    org = loading.load_valid(governance_repo)
    permissions = {m.id: Permission.ADMIN for m in org.org.maintainers}
    return LocalForge(
        repo=governance_repo,
        store=governance_repo / ".aito" / "forge",
        permissions=permissions,
        clock=clock,
    )
