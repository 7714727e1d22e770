"""Checks of org/decisions and org/tasks records against the organization.

A decision's proposer is an agent, a maintainer or a human member; its voters are
agents and its round is within max_rounds; a task's assignee and creator are agents and
the decision it names exists (or is in a file that could not be read, already
reported). Paths are built only for problems (10,000 records, few problems).
"""

from __future__ import annotations

from aito.org import checking, loading


class RecordChecks(checking.Checker):
    """The checks of the decision and task records."""

    def check_records(self) -> None:
        org = self.org
        max_rounds = org.org.governance.max_rounds
        decisions_dir = org.root / loading.DECISIONS_DIR
        tasks_dir = org.root / loading.TASKS_DIR
        people = {m.login.lower() for m in org.org.maintainers}
        people |= {h.login.lower() for h in org.org.humans}
        for decision in org.decisions.values():
            path = checking.LazyPath(decisions_dir, f"{decision.id}.yaml")
            proposer = decision.proposed_by
            if self.missing(proposer) and proposer.lower() not in people:
                self.at(
                    path,
                    ["proposed_by"],
                    self.unknown("proposed_by", proposer)
                    + "; nor a maintainer or human member in org.yaml",
                )
            if decision.round > max_rounds:
                self.at(path, ["round"], f"round {decision.round} is past max_rounds {max_rounds}")
            for index, record in enumerate(decision.rounds):
                for voter in record.votes:
                    if self.missing(voter):
                        self.at(
                            path, ["rounds", index, "votes", voter], self.unknown("voter", voter)
                        )
        for task in org.tasks.values():
            path = checking.LazyPath(tasks_dir, f"{task.id}.yaml")
            for field in ("assigned_to", "created_by"):
                value = getattr(task, field)
                if self.missing(value):
                    self.at(path, [field], self.unknown(field, value))
            decision_id = task.decision
            if (
                decision_id is not None
                and decision_id not in org.decisions
                and decision_id not in self.unreadable_decisions
            ):
                self.at(
                    path,
                    ["decision"],
                    f"decision {decision_id!r} does not exist in org/decisions",
                )
