"""The decisions and tasks tables mirror the governance repo (the repo wins)."""

from __future__ import annotations

from pathlib import Path

from aito.memory import base
from aito.memory.postgres import PostgresMemory
from aito.org import loading

DECISION = """id: d-1
title: Q1 campaign
proposed_by: cmo
tier: major
status: approved
round: 1
rounds:
  - round: 1
    votes: {ceo: approve, dao: approve}
pr: {number: 4}
"""
TASK = """id: t-1
title: Draft the announcement
assigned_to: cmo
created_by: ceo
priority: 2
decision: d-1
"""


def test_sync_upserts_records_and_the_repo_wins(store: PostgresMemory, example_repo: Path) -> None:
    (example_repo / "org/decisions/d-1.yaml").write_text(DECISION)
    (example_repo / "org/tasks/t-1.yaml").write_text(TASK)
    org = loading.load_valid(example_repo)
    first = store.sync_records(decisions=base.decision_rows(org), tasks=base.task_rows(org))
    assert first["decisions"] == ["d-1"] and first["tasks"] == ["t-1"]
    row = store.decision("d-1")
    assert row is not None and (row["status"], row["ceo_vote"], row["pr_number"]) == (
        "approved",
        "approve",
        4,
    )
    assert [t["id"] for t in store.tasks(assigned_to="cmo")] == ["t-1"]

    again = store.sync_records(decisions=base.decision_rows(org), tasks=base.task_rows(org))
    assert again["decisions"] == [] and again["tasks"] == []  # nothing changed, nothing written

    (example_repo / "org/tasks/t-1.yaml").write_text(TASK.replace("priority: 2", "priority: 1"))
    org = loading.load_valid(example_repo)
    changed = store.sync_records(decisions=base.decision_rows(org), tasks=base.task_rows(org))
    assert changed["tasks"] == ["t-1"]
    assert store.tasks()[0]["priority"] == 1


def test_rows_missing_from_the_repo_are_reported_not_deleted(
    store: PostgresMemory, example_repo: Path
) -> None:
    (example_repo / "org/tasks/t-1.yaml").write_text(TASK.replace("decision: d-1\n", ""))
    org = loading.load_valid(example_repo)
    store.sync_records(decisions=[], tasks=base.task_rows(org))
    (example_repo / "org/tasks/t-1.yaml").unlink()
    result = store.sync_records(decisions=[], tasks=[])
    assert result["tasks_not_in_repo"] == ["t-1"]
    assert [t["id"] for t in store.tasks()] == ["t-1"]
