"""What the views read: the small slices of the memory and the bus they need."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

RunKey = tuple[dt.datetime, str]
EventKey = tuple[dt.datetime, str]
DecisionKey = tuple[dt.datetime, str]
TaskKey = tuple[int, str]


class Memory(Protocol):
    """The Postgres memory as the views read it (pages by keyset, single records)."""

    def live_agents(self) -> list[dict[str, Any]]: ...

    def running_runs(self) -> list[dict[str, Any]]: ...

    def runs_page(
        self, *, agent_id: str | None = None, after: RunKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]: ...

    def run_record(self, run_id: str) -> dict[str, Any] | None: ...

    def actions_of(self, run_id: str) -> dict[int, dict[str, Any]]: ...

    def events_page(
        self,
        *,
        event_type: str | None = None,
        agent_id: str | None = None,
        after: EventKey | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]: ...

    def decisions_page(
        self,
        *,
        status: str | None = None,
        after: DecisionKey | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]: ...

    def decision(self, decision_id: str) -> dict[str, Any] | None: ...

    def tasks_page(
        self, *, status: str, after: TaskKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]: ...

    def status_counts(self, table: str) -> dict[str, int]: ...

    def inbox_alerts_page(
        self, *, after: EventKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]: ...

    def waiting_decisions_page(
        self, *, after: DecisionKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]: ...

    def usage_summary(
        self,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        agent_id: str | None = None,
    ) -> list[dict[str, Any]]: ...


class Reservations(Protocol):
    """The budget ledger as the views read it: spend and what calls in flight hold."""

    def spent(self, scope: str, period_key: str) -> tuple[float, int, float, int]: ...
