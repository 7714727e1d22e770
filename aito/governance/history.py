"""What the engine reads: one pull request's history, as plain facts (no forge objects).

Identities are numeric user ids. The adapter fills these from the forge; the engine
never sees titles, bodies or comment texts except a voter's own review body (for an
explicit abstention), so text in a pull request cannot cast or forge a vote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from aito.org.organization import Tier


class ReviewKind(enum.StrEnum):
    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    COMMENTED = "COMMENTED"
    DISMISSED = "DISMISSED"


class PullStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


@dataclasses.dataclass(frozen=True, order=True)
class Push:
    """The head of the pull request became ``sha`` (with content ``tree``) at ``at``.

    ``seq`` is the push's place in the forge's sequence of heads: it orders two pushes
    recorded at the same instant (see :func:`push_order`)."""

    at: dt.datetime
    sha: str
    tree: str
    by: int | None = None
    seq: int = 0


def push_order(push: Push) -> tuple[dt.datetime, int, str]:
    """Pushes in the order they happened: by time, then by their place in the sequence."""
    return (push.at, push.seq, push.sha)


@dataclasses.dataclass(frozen=True, order=True)
class ReviewEvent:
    at: dt.datetime
    id: int
    user: int
    kind: ReviewKind
    commit: str
    body: str = ""


@dataclasses.dataclass(frozen=True, order=True)
class DismissalEvent:
    """Review ``review`` by ``user`` was dismissed by ``by`` at ``at`` (server time).

    Only the voter's own dismissal or a maintainer's withdraws the vote; anyone else's
    leaves it standing (and is reported)."""

    at: dt.datetime
    id: int
    review: int
    user: int
    by: int


@dataclasses.dataclass(frozen=True, order=True)
class CommentEvent:
    at: dt.datetime
    id: int
    user: int


@dataclasses.dataclass(frozen=True)
class PullFacts:
    """Everything about the pull request that the verdict depends on.

    Every time is the forge server's (or, for a push the forge cannot date, the time
    the governance bot first saw it): never a commit's own date. A dismissed review
    appears as what it was (approve, request changes) at its time, plus a
    :class:`DismissalEvent`."""

    number: int
    opened_at: dt.datetime
    author: int
    status: PullStatus
    pushes: tuple[Push, ...]
    reviews: tuple[ReviewEvent, ...] = ()
    comments: tuple[CommentEvent, ...] = ()
    dismissals: tuple[DismissalEvent, ...] = ()
    labels: frozenset[str] = frozenset()
    merged_by: int | None = None
    closed_by: int | None = None
    closed_at: dt.datetime | None = None  # when it was merged or closed (server time)
    maintainers: frozenset[int] = frozenset()  # ids with admin/maintain permission (forge data)
    logins: dict[int, str] = dataclasses.field(default_factory=dict)

    @property
    def head(self) -> Push:
        return max(self.pushes, key=push_order)


@dataclasses.dataclass(frozen=True)
class DecisionFacts:
    """The decision record's fields the verdict needs (from the PR's decision YAML)."""

    id: str
    tier: Tier
    proposed_by: str
