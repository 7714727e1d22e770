"""Agent state: atomic JSONB key/value with optimistic concurrency."""

from __future__ import annotations

import pytest

from aito.errors import ConflictError
from aito.memory.postgres import PostgresMemory


def test_a_value_is_created_then_updated_by_version(store: PostgresMemory) -> None:
    assert store.get_state("cmo", "campaigns") is None
    first = store.put_state("cmo", "campaigns", {"q1": "draft"}, expected_version=None)
    second = store.put_state("cmo", "campaigns", {"q1": "live"}, expected_version=first)
    assert (first, second) == (1, 2)
    current = store.get_state("cmo", "campaigns")
    assert current is not None and current.value == {"q1": "live"} and current.version == 2
    assert set(store.all_state("cmo")) == {"campaigns"}


def test_two_runs_cannot_silently_overwrite_each_other(store: PostgresMemory) -> None:
    version = store.put_state("cto", "deploys", 1, expected_version=None)
    store.put_state("cto", "deploys", 2, expected_version=version)  # run A wins
    with pytest.raises(ConflictError, match="expected version 1, found version 2"):
        store.put_state("cto", "deploys", 3, expected_version=version)  # run B read too early
    with pytest.raises(ConflictError, match="expected a new key"):
        store.put_state("cto", "deploys", 4, expected_version=None)
    current = store.get_state("cto", "deploys")
    assert current is not None and current.value == 2


def test_delete_needs_the_current_version(store: PostgresMemory) -> None:
    version = store.put_state("cfo", "k", [1], expected_version=None)
    with pytest.raises(ConflictError):
        store.delete_state("cfo", "k", expected_version=version + 1)
    store.delete_state("cfo", "k", expected_version=version)
    assert store.get_state("cfo", "k") is None


def test_state_is_per_agent(store: PostgresMemory) -> None:
    store.put_state("cmo", "k", "mine", expected_version=None)
    store.put_state("cto", "k", "yours", expected_version=None)
    assert store.get_state("cmo", "k").value == "mine"  # type: ignore[union-attr]
