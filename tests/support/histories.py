"""A small language for decision histories, shared by the governance tests."""

from __future__ import annotations

import datetime as dt
import itertools

from aito.governance import tallying
from aito.governance.history import (
    CommentEvent,
    DecisionFacts,
    DismissalEvent,
    PullFacts,
    PullStatus,
    Push,
    ReviewEvent,
    ReviewKind,
)
from aito.governance.policies import Policy
from aito.org.organization import Tier

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
BOTS = {"ceo": 1, "dao": 2, "cmo": 3, "cto": 4, "cfo": 5, "coo": 6, "cco": 7}
MAINTAINER = 100
GOVERNANCE_BOT = 50
OUTSIDER = 999
C_LEVEL = ("cmo", "cto", "cfo", "coo", "cco")
DEADLINES = {Tier.OPERATIONAL: 1, Tier.MINOR: 4, Tier.MAJOR: 24, Tier.CRITICAL: 48}


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def policy(tier: Tier = Tier.MAJOR, **changes: object) -> Policy:
    values: dict[str, object] = {
        "tier": tier,
        "approvers": ("ceo", "dao") if tier in (Tier.MAJOR, Tier.CRITICAL) else (),
        "veto_by": ("ceo",) if tier is Tier.MINOR else (),
        "lazy_consensus": tier is Tier.MINOR,
        "maintainer_required": tier is Tier.CRITICAL,
        "deadline_seconds": DEADLINES[tier] * 3600,
        "max_rounds": 3,
        "advisors": C_LEVEL,
        "voters": ("ceo", "dao", *C_LEVEL),
        "quorum": 4,
        "bots": BOTS,
        "bot_logins": {a: f"{a}-bot[bot]" for a in BOTS},
        "maintainers": {MAINTAINER: "alice"},
        "governance_bot": GOVERNANCE_BOT,
    }
    values.update(changes)
    return Policy.model_validate(values)


class History:
    """Build a pull request's history step by step; ``facts()`` freezes it."""

    def __init__(self, *, proposer: str = "cmo", opened: float = 0) -> None:
        self.author = BOTS.get(proposer, MAINTAINER)
        self.opened = at(opened)
        self.pushes = [Push(at(opened), "c1", "t1", self.author)]
        self.reviews: list[ReviewEvent] = []
        self.comments: list[CommentEvent] = []
        self.dismissals: list[DismissalEvent] = []
        self.labels: set[str] = set()
        self.status = PullStatus.OPEN
        self.merged_by: int | None = None
        self.closed_by: int | None = None
        self.maintainers: set[int] = set()
        self._ids = itertools.count(1)

    @property
    def head(self) -> str:
        return max(self.pushes).sha

    def push(self, hours: float, *, same_content: bool = False) -> History:
        number = len(self.pushes) + 1
        tree = max(self.pushes).tree if same_content else f"t{number}"
        self.pushes.append(Push(at(hours), f"c{number}", tree, self.author))
        return self

    def review(
        self, hours: float, who: str | int, kind: str, *, commit: str | None = None, body: str = ""
    ) -> History:
        user = who if isinstance(who, int) else BOTS[who]
        kinds = {
            "approve": ReviewKind.APPROVED,
            "veto": ReviewKind.CHANGES_REQUESTED,
            "comment": ReviewKind.COMMENTED,
            "dismissed": ReviewKind.DISMISSED,
            "abstain": ReviewKind.COMMENTED,
        }
        text = "Abstain: not my area" if kind == "abstain" else body
        self.reviews.append(
            ReviewEvent(at(hours), next(self._ids), user, kinds[kind], commit or self.head, text)
        )
        return self

    def votes(self, hours: float, **votes: str) -> History:
        for who, kind in votes.items():
            self.review(hours, who, kind)
        return self

    def dismiss(self, hours: float, who: str | int, *, by: str | int) -> History:
        """``by`` dismisses ``who``'s latest review (server-recorded, as GitHub's event)."""
        user = who if isinstance(who, int) else BOTS[who]
        actor = by if isinstance(by, int) else BOTS[by]
        review = [r for r in self.reviews if r.user == user][-1]
        self.dismissals.append(DismissalEvent(at(hours), next(self._ids), review.id, user, actor))
        return self

    def comment(self, hours: float, who: str | int) -> History:
        user = who if isinstance(who, int) else BOTS[who]
        self.comments.append(CommentEvent(at(hours), next(self._ids), user))
        return self

    def facts(self) -> PullFacts:
        return PullFacts(
            number=7,
            opened_at=self.opened,
            author=self.author,
            status=self.status,
            pushes=tuple(self.pushes),
            reviews=tuple(self.reviews),
            comments=tuple(self.comments),
            dismissals=tuple(self.dismissals),
            labels=frozenset(self.labels),
            merged_by=self.merged_by,
            closed_by=self.closed_by,
            maintainers=frozenset(self.maintainers),
            logins={MAINTAINER: "alice"},
        )


def verdict(
    history: History, *, now: float, tier: Tier = Tier.MAJOR, the_policy: Policy | None = None
) -> tallying.Verdict:
    decision = DecisionFacts(id="d-1", tier=tier, proposed_by="cmo")
    return tallying.evaluate(
        decision=decision, policy=the_policy or policy(tier), facts=history.facts(), now=at(now)
    )
