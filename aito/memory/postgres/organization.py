"""The organization in Postgres: agents, wake-ups, the events log, decisions and tasks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from aito.memory.base import AgentRow, DecisionRow, Registration, TaskRow
from aito.memory.postgres.connection import Connection, Connector, jsonb, rows


class OrganizationStore(Connector):
    def register_agents(self, agent_rows: list[AgentRow]) -> Registration:
        """Upsert the agents; agents gone from org/ are marked retired. Idempotent, so
        retried while Postgres is away (a repeat after a lost reply finds nothing to do
        and reports the agents unchanged)."""
        return self._run(lambda conn: self._register(conn, agent_rows))

    def _register(self, conn: Connection, agent_rows: list[AgentRow]) -> Registration:
        inserted: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        with conn.transaction():
            existing: dict[str, Any] = dict(
                conn.execute("SELECT id, definition_hash FROM agents").fetchall()
            )
            retired_rows = conn.execute("SELECT id FROM agents WHERE status = 'retired'").fetchall()
            already_retired = {r[0] for r in retired_rows}
            for row in agent_rows:
                if existing.get(row.id) == row.definition_hash and row.id not in already_retired:
                    unchanged.append(row.id)
                    continue
                (inserted if row.id not in existing else updated).append(row.id)
                conn.execute(_UPSERT_AGENT, _agent_params(row))
            wanted = {row.id for row in agent_rows}
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
        return self._run(
            lambda conn: rows(
                conn.execute(
                    "SELECT id, type, layer, status, last_heartbeat, definition_hash FROM agents "
                    "ORDER BY id"
                )
            )
        )

    def record_wake(self, *, agent_id: str, run_id: str, trigger: str, at: dt.datetime) -> bool:
        """Record one wake-up (event + heartbeat); False if this run id was already recorded.

        Retried while Postgres is away; a repeat after a lost reply finds its own event
        (same run id, same event id) and still answers True.
        """
        event_id = uuid.uuid4()

        def record(conn: Connection) -> bool:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"wake:{run_id}",))
                seen = conn.execute(
                    "SELECT id FROM events WHERE event_type = 'agent.woke' AND run_id = %s",
                    (run_id,),
                ).fetchone()
                if seen:
                    return bool(seen[0] == event_id)
                conn.execute("UPDATE agents SET last_heartbeat = %s WHERE id = %s", (at, agent_id))
                self._event(
                    conn,
                    event_type="agent.woke",
                    source_agent=agent_id,
                    run_id=run_id,
                    payload={"trigger": trigger},
                    at=at,
                    event_id=event_id,
                )
                return True

        return self._run(record)

    def events(
        self, *, event_type: str | None = None, run_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The newest events first (of one type, of one run, when given)."""
        return self._run(
            lambda conn: rows(
                conn.execute(
                    "SELECT event_type, source_agent, target_agent, run_id, decision_id, "
                    "payload, created_at FROM events "
                    "WHERE (%(t)s::text IS NULL OR event_type = %(t)s) "
                    "AND (%(r)s::text IS NULL OR run_id = %(r)s) "
                    "ORDER BY created_at DESC LIMIT %(n)s",
                    {"t": event_type, "r": run_id, "n": limit},
                )
            )
        )

    def upsert_decision(self, row: DecisionRow) -> str | None:
        """Mirror a decision (the repo wins); returns the status it had before, if any.

        Retried while Postgres is away: the upsert is idempotent and the status event
        is written only on a change, so a repeat after a lost reply adds nothing (and
        returns the status it finds, the new one).
        """

        def upsert(conn: Connection) -> str | None:
            with conn.transaction():
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
                        payload={
                            "status": row.status,
                            "round": row.veto_round,
                            "pr": row.pr_number,
                        },
                    )
                return str(before[0]) if before else None

        return self._run(upsert)

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        found = self._run(
            lambda conn: rows(conn.execute("SELECT * FROM decisions WHERE id = %s", (decision_id,)))
        )
        return found[0] if found else None

    def append_event(
        self,
        *,
        event_type: str,
        payload: dict[str, Any],
        source_agent: str | None = None,
        target_agent: str | None = None,
        run_id: str | None = None,
        decision_id: str | None = None,
    ) -> None:
        """Append to the audit log (nothing ever updates or deletes it).

        Retried while Postgres is away without ever appending twice: the event's id is
        chosen here, once, and a repeat after a lost reply finds it written already.
        """
        event_id = uuid.uuid4()

        def append(conn: Connection) -> None:
            with conn.transaction():
                self._event(
                    conn,
                    event_type=event_type,
                    payload=payload,
                    source_agent=source_agent,
                    target_agent=target_agent,
                    run_id=run_id,
                    decision_id=decision_id,
                    event_id=event_id,
                )

        self._run(append)

    def sync_records(
        self, *, decisions: list[DecisionRow], tasks: list[TaskRow]
    ) -> dict[str, list[str]]:
        """Make the tables match the governance repo's records (the repo wins).

        Rows the repo no longer has are reported, not deleted: an open decision lives
        on its pull request's branch until it is merged, and history keeps the rest.
        Retried while Postgres is away (idempotent: a repeat finds nothing changed).
        """
        return self._run(lambda conn: self._sync(conn, decisions=decisions, tasks=tasks))

    def _sync(
        self, conn: Connection, *, decisions: list[DecisionRow], tasks: list[TaskRow]
    ) -> dict[str, list[str]]:
        with conn.transaction():
            before: dict[str, Any] = dict(
                conn.execute("SELECT id, record FROM decisions").fetchall()
            )
            task_before: dict[str, Any] = dict(
                conn.execute("SELECT id, record FROM tasks").fetchall()
            )
            changed_decisions = []
            for row in decisions:
                if before.get(row.id) != row.record:
                    conn.execute(_UPSERT_DECISION, _decision_params(row))
                    changed_decisions.append(row.id)
            changed_tasks = []
            for task in tasks:
                if task_before.get(task.id) != task.record:
                    conn.execute(_UPSERT_TASK, _task_params(task))
                    changed_tasks.append(task.id)
            if changed_decisions or changed_tasks:
                self._event(
                    conn,
                    event_type="org.records_synced",
                    payload={"decisions": changed_decisions, "tasks": changed_tasks},
                )
        return {
            "decisions": changed_decisions,
            "tasks": changed_tasks,
            "decisions_not_in_repo": sorted(set(before) - {r.id for r in decisions}),
            "tasks_not_in_repo": sorted(set(task_before) - {t.id for t in tasks}),
        }

    def tasks(self, *, assigned_to: str | None = None) -> list[dict[str, Any]]:
        return self._run(
            lambda conn: rows(
                conn.execute(
                    "SELECT id, title, assigned_to, created_by, status, priority, due_date, "
                    "decision_id FROM tasks WHERE (%(a)s::text IS NULL OR assigned_to = %(a)s) "
                    "ORDER BY priority, due_date NULLS LAST, id",
                    {"a": assigned_to},
                )
            )
        )

    @staticmethod
    def _event(
        conn: Connection,
        *,
        event_type: str,
        payload: dict[str, Any],
        source_agent: str | None = None,
        target_agent: str | None = None,
        run_id: str | None = None,
        decision_id: str | None = None,
        at: dt.datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> None:
        """One event; with ``event_id`` given, an event already written under it is kept
        (a retried append writes nothing twice)."""
        conn.execute(
            "INSERT INTO events (id, event_type, source_agent, target_agent, run_id, "
            "decision_id, payload, created_at) "
            "VALUES (COALESCE(%s, gen_random_uuid()), %s, %s, %s, %s, %s, %s, "
            "COALESCE(%s, now())) ON CONFLICT (id) DO NOTHING",
            (
                event_id,
                event_type,
                source_agent,
                target_agent,
                run_id,
                decision_id,
                jsonb(payload),
                at,
            ),
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
        params[key] = jsonb(params[key])
    return params


def _agent_params(row: AgentRow) -> dict[str, Any]:
    params = dataclasses.asdict(row)
    params["definition"] = jsonb(row.definition)
    params["definition_hash"] = row.definition_hash
    return params


_UPSERT_TASK = """
INSERT INTO tasks (id, title, description, assigned_to, created_by, status, priority, due_date,
                   completed_at, result, decision_id, pr_number, record)
VALUES (%(id)s, %(title)s, %(description)s, %(assigned_to)s, %(created_by)s, %(status)s,
        %(priority)s, %(due_date)s, %(completed_at)s, %(result)s, %(decision_id)s,
        %(pr_number)s, %(record)s)
ON CONFLICT (id) DO UPDATE SET
    title = EXCLUDED.title, description = EXCLUDED.description,
    assigned_to = EXCLUDED.assigned_to, created_by = EXCLUDED.created_by,
    status = EXCLUDED.status, priority = EXCLUDED.priority, due_date = EXCLUDED.due_date,
    completed_at = EXCLUDED.completed_at, result = EXCLUDED.result,
    decision_id = EXCLUDED.decision_id, pr_number = EXCLUDED.pr_number,
    record = EXCLUDED.record, updated_at = now()
"""


def _task_params(row: TaskRow) -> dict[str, Any]:
    params = dataclasses.asdict(row)
    params["result"] = jsonb(params["result"]) if params["result"] is not None else None
    params["record"] = jsonb(params["record"])
    return params
