"""`org/decisions/<id>.yaml` and `org/tasks/<id>.yaml`: the seed's decision and task tables."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from pydantic import AnyUrl, Field, PositiveInt, StringConstraints

from aito.org.common import OrgModel, Slug
from aito.org.organization import Tier


class DecisionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    WITHDRAWN = "withdrawn"


class Vote(enum.StrEnum):
    APPROVE = "approve"
    VETO = "veto"
    ABSTAIN = "abstain"


class HumanDecision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class HumanAction(enum.StrEnum):
    """How a maintainer's decision was given on the pull request."""

    REVIEW = "review"  # an approving or request-changes review
    MERGE = "merge"  # merged by hand
    CLOSE = "close"  # closed by hand


Proposer = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$"),
    Field(
        description="the proposing agent's id, or the GitHub login of the human member or "
        "maintainer who opened the pull request"
    ),
]


class PullRequestLink(OrgModel):
    number: PositiveInt
    url: AnyUrl | None = None


class RoundRecord(OrgModel):
    """The votes and analysis of one round."""

    round: Annotated[int, Field(ge=1, le=9)]
    votes: dict[Slug, Vote] = Field(default_factory=dict)
    analysis: dict[Slug, str] = Field(
        default_factory=dict, description="round 2: each advisor's input"
    )


class Decision(OrgModel):
    """`org/decisions/<id>.yaml`: one decision; its pull request is where the vote happens."""

    id: Slug
    title: str = Field(min_length=1, max_length=255)
    description: str = ""
    proposed_by: Proposer
    tier: Tier
    status: DecisionStatus = DecisionStatus.PENDING
    round: Annotated[int, Field(ge=0, le=9)] = 0
    rounds: list[RoundRecord] = Field(default_factory=list)
    human_decision: HumanDecision | None = None
    decided_by: str | None = Field(None, description="login of the maintainer who decided")
    decided_via: HumanAction | None = Field(
        None, description="how the maintainer decided: review, merge or close (by hand)"
    )
    violation: str | None = Field(
        None,
        description="set when someone who may not decide merged or closed the pull request "
        "by hand; the maintainers were alerted",
    )
    changes: list[str] = Field(
        default_factory=list, description="paths this decision authorises (they ride in its PR)"
    )
    amount_usd: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        0,
        description="money the decision commits (a finite number); with the proposer's "
        "limits it sets the tier",
    )
    created_at: dt.datetime | None = None
    due: dt.datetime | None = Field(None, description="deadline of the current round")
    resolved_at: dt.datetime | None = None
    result: str | None = None
    pr: PullRequestLink | None = None


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DONE = "done"
    CANCELLED = "cancelled"


class Task(OrgModel):
    """`org/tasks/<id>.yaml`: one work item."""

    id: Slug
    title: str = Field(min_length=1, max_length=255)
    description: str = ""
    assigned_to: Slug
    created_by: Slug
    status: TaskStatus = TaskStatus.PENDING
    priority: Annotated[int, Field(ge=1, le=10)] = Field(5, description="1 is most urgent")
    due_date: dt.datetime | None = None
    created_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    decision: Slug | None = Field(None, description="the decision this task carries out")
    result: dict[str, Any] | None = None
    pr: PullRequestLink | None = None
