"""What a tally says about one decision: the verdict, its stages, rounds and actions.

Plain frozen data built by :func:`aito.governance.tallying.evaluate`, with the names
of the labels and the status check the verdict shows on the pull request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from aito.org.organization import Tier
from aito.org.records import DecisionStatus, HumanAction, HumanDecision, Vote

LABEL_PREFIX = "aito/"
HOLD_LABEL = "aito/hold"
ESCALATED_LABEL = "aito/escalated"
APPROVED_LABEL = "aito/approved"
REJECTED_LABEL = "aito/rejected"
CHECK_CONTEXT = "aito/decision"
MAINTAINERS = "maintainers"


class Stage(enum.StrEnum):
    CHECKS = "checks"  # operational: waits only for the forge's checks
    LAZY = "lazy"  # minor: lazy consensus window
    VOTE = "vote"  # round 1: approvers vote
    ANALYSIS = "analysis"  # round 2: advisors analyse
    FINAL = "final"  # round 3+: majority vote
    MAINTAINER = "maintainer"  # critical: agents approved, a maintainer must too
    ESCALATED = "escalated"  # humans decide
    DONE = "done"


class ActionKind(enum.StrEnum):
    MERGE = "merge"
    CLOSE = "close"
    REQUEST_MAINTAINERS = "request_maintainers"


@dataclasses.dataclass(frozen=True)
class Action:
    kind: ActionKind
    sha: str | None = None  # merge: only this head
    logins: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RoundOutcome:
    """One finished or current round, for the decision record."""

    round: int
    stage: Stage
    votes: dict[str, Vote]
    analysis: tuple[str, ...] = ()
    ballots: dict[str, Ballot] = dataclasses.field(default_factory=dict)
    """When each vote of ``votes`` was cast and on which commit."""
    started_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    """When the round closes by itself (its start plus the tier's deadline)."""

    def as_record(self, *, open_round: bool = False) -> dict[str, object]:
        """The round as JSON for the stored decision record (``open``: still voting)."""
        return {
            "round": self.round,
            "stage": self.stage.value,
            "votes": {agent: vote.value for agent, vote in self.votes.items()},
            "analysis": list(self.analysis),
            "ballots": {
                agent: {"at": b.at.isoformat(), "sha": b.sha} for agent, b in self.ballots.items()
            },
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "open": open_round,
        }


@dataclasses.dataclass(frozen=True)
class Ballot:
    """A vote's review: when it was submitted (server time) and the head it judged."""

    at: dt.datetime
    sha: str


@dataclasses.dataclass(frozen=True)
class Verdict:
    decision_id: str
    pr: int
    tier: Tier
    status: DecisionStatus
    stage: Stage
    round: int
    votes: dict[str, Vote | None]
    missing: tuple[str, ...]
    deadline: dt.datetime | None
    reason: str
    head_sha: str
    approved_sha: str | None
    human_decision: HumanDecision | None
    decided_by: str | None
    held: bool
    rounds: tuple[RoundOutcome, ...]
    labels: frozenset[str]
    check_state: str  # pending | success | failure
    check_description: str
    actions: tuple[Action, ...]
    notes: tuple[str, ...] = ()  # things a person should know (e.g. an ignored dismissal)
    decided_via: HumanAction | None = None  # how the maintainer decided (review, merge, close)
    decided_at: dt.datetime | None = None  # when (server time), for a human decision
    violation: str | None = None  # merged or closed by someone who may not decide
    current: RoundOutcome | None = None  # the open round (its votes so far), if one is open

    @property
    def terminal(self) -> bool:
        return self.stage is Stage.DONE
