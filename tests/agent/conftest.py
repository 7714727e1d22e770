"""The agent-loop world: a committed example governance repo, the session's services, a clock."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import agent_world
from support.bus_helpers import chaos  # noqa: F401 - a fixture (a Redis tests may SIGKILL)


@pytest.fixture
def make_world(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> Iterator[Callable[..., agent_world.World]]:
    """Build a world with a given model (and options); closed at teardown.

    Only one world per test: they share the test's database and Redis.
    """
    with contextlib.ExitStack() as stack:

        def make(model: Any, **options: Any) -> agent_world.World:
            return stack.enter_context(
                agent_world.open_world(
                    tmp_path / "governance",
                    postgres_url=postgres_url,
                    redis_url=redis_url,
                    model=model,
                    **options,
                )
            )

        yield make
