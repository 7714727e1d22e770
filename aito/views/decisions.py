"""Decisions: the mirrored records by status (Postgres), one with its rounds, and the
live status of the decision pull requests (the forge, tallied without applying)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from aito.decisions import sweeping
from aito.forge.base import Forge, PullState
from aito.org.records import DecisionStatus
from aito.views import paging, ports

STATUSES = tuple(s.value for s in DecisionStatus)


class DecisionSummary(BaseModel):
    id: str
    title: str
    proposed_by: str
    tier: str
    status: str
    round: int
    votes: dict[str, str]
    human_decision: str | None
    decided_by: str | None
    pr_number: int | None
    pr_url: str | None
    due: dt.datetime | None
    resolved_at: dt.datetime | None
    created_at: dt.datetime

    @property
    def pr_link(self) -> str | None:
        """The pull request's web address, when it has one (a local forge has none)."""
        url = self.pr_url or ""
        return url if url.startswith(("https://", "http://")) else None


class VoteView(BaseModel):
    """One vote: who, what, when (the review's server time) and on which commit."""

    voter: str
    vote: str
    at: dt.datetime | None
    sha: str | None


class RoundView(BaseModel):
    """One round's votes, and who gave input (with their analysis, when the record has it)."""

    round: int
    stage: str | None
    votes: dict[str, str]
    analysis: dict[str, str]
    ballots: list[VoteView] = []
    started_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    open: bool = False


class DecisionDetail(DecisionSummary):
    description: str
    rounds: list[RoundView]
    now: dt.datetime | None = None

    @property
    def seconds_left(self) -> int | None:
        """Until the open round's deadline (negative once past; None when none is open)."""
        if self.now is None or self.status != "pending":
            return None
        due = next((r.deadline for r in self.rounds if r.open and r.deadline), self.due)
        return None if due is None else int((due - self.now).total_seconds())


def listing(
    memory: ports.Memory, *, status: str | None = None, limit: int = 25, cursor: str | None = None
) -> paging.Page[DecisionSummary]:
    """Decisions newest first (of one status when given)."""
    after: ports.DecisionKey | None = None
    if cursor:
        at, decision_id = paging.decode(cursor, dt.datetime, str)
        assert isinstance(at, dt.datetime) and isinstance(decision_id, str)
        after = (at, decision_id)
    limit = paging.clamp(limit)
    found = memory.decisions_page(status=status, after=after, limit=limit + 1)
    return paging.page_of(found, limit=limit, item=_summary, key=lambda d: (d.created_at, d.id))


def counts(memory: ports.Memory) -> dict[str, int]:
    """How many decisions have each status (every status named, 0 when none)."""
    found = memory.status_counts("decisions")
    return {status: found.get(status, 0) for status in STATUSES}


def detail(
    memory: ports.Memory, decision_id: str, *, now: dt.datetime | None = None
) -> DecisionDetail | None:
    """A decision with its rounds as a timeline: each vote with when and on which commit
    (as the tally stored them; records mirrored from the repo before that keep votes only)."""
    row = memory.decision(decision_id)
    if row is None:
        return None
    return DecisionDetail(
        **_summary(row).model_dump(),
        description=row.get("description") or "",
        rounds=[_round(r) for r in row.get("rounds") or []],
        now=now,
    )


def _round(r: dict[str, Any]) -> RoundView:
    votes = {str(k): str(v) for k, v in (r.get("votes") or {}).items() if v}
    ballots: dict[str, Any] = r.get("ballots") or {}
    return RoundView(
        round=int(r["round"]),
        stage=r.get("stage"),
        votes=votes,
        analysis=_analysis(r.get("analysis")),
        ballots=sorted(
            (
                VoteView(
                    voter=voter,
                    vote=vote,
                    at=_moment((ballots.get(voter) or {}).get("at")),
                    sha=(ballots.get(voter) or {}).get("sha"),
                )
                for voter, vote in votes.items()
            ),
            key=lambda v: (v.at is None, v.at or dt.datetime.min.replace(tzinfo=dt.UTC), v.voter),
        ),
        started_at=_moment(r.get("started_at")),
        deadline=_moment(r.get("deadline")),
        open=bool(r.get("open")),
    )


def _moment(text: object) -> dt.datetime | None:
    if isinstance(text, dt.datetime):
        return text
    if isinstance(text, str) and text:
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    return None


def live(forge: Forge, *, now: dt.datetime, every: bool = False) -> sweeping.Sweep:
    """Every open decision pull request (every one with ``every``) tallied as of ``now``
    without applying anything: `aito decide status`."""
    numbers = sweeping.open_decisions(forge, state=None if every else PullState.OPEN)
    return sweeping.tally_open(forge, now=now, apply=False, numbers=numbers)


def _analysis(found: object) -> dict[str, str]:
    """Input given in a round: the record keeps each advisor's text, the tally only who."""
    if isinstance(found, dict):
        return {str(k): str(v) for k, v in found.items()}
    if isinstance(found, list):
        return {str(agent): "gave input" for agent in found}
    return {}


def _summary(row: dict[str, Any]) -> DecisionSummary:
    votes: dict[str, str] = {}
    if row.get("ceo_vote"):
        votes["ceo"] = row["ceo_vote"]
    if row.get("dao_vote"):
        votes["dao"] = row["dao_vote"]
    votes.update({str(k): str(v) for k, v in (row.get("c_level_votes") or {}).items()})
    return DecisionSummary(
        id=row["id"],
        title=row["title"],
        proposed_by=row["proposed_by"],
        tier=row["tier"],
        status=row["status"],
        round=int(row.get("veto_round") or 0),
        votes=votes,
        human_decision=row.get("human_decision"),
        decided_by=row.get("decided_by"),
        pr_number=row.get("pr_number"),
        pr_url=row.get("pr_url"),
        due=row.get("due"),
        resolved_at=row.get("resolved_at"),
        created_at=row["created_at"],
    )
