"""What the forge already did to a decision's pull request (merged, closed) settles the
fold of :mod:`aito.governance.deciding`: a fact that overrides the rounds.

Who merged or closed is the forge's own record (a numeric id, never text). A maintainer
who is not the proposer decides by hand: a merge approves, a close rejects, and the
verdict says who, how and when. The proposer closing withdraws the decision; the
governance bot only ever applies verdicts. Anyone else merging content that was not
approved, or closing an undecided or approved decision, is a **violation**: the decision
is escalated (the maintainers decide, and are alerted), never recorded as decided.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aito.governance.history import PullStatus
from aito.governance.verdicts import Stage
from aito.org.records import DecisionStatus, HumanAction, HumanDecision

if TYPE_CHECKING:
    from aito.governance.deciding import Fold


def settle(fold: Fold) -> None:
    """Apply the forge's merge or close of the pull request to ``fold``'s state."""
    facts, state = fold.facts, fold.state
    if facts.status is PullStatus.MERGED:
        by = facts.merged_by
        if state.status is not DecisionStatus.APPROVED or state.approved_sha != state.head.sha:
            if by not in fold.maintainers:
                # Merged by someone who may not decide (a proposer where the branch is
                # unprotected): a fact, never an approval to record and announce.
                fold.violate(by, "merged it without an approval")
                state.approved_sha = None
                return
            fold.human_decides(HumanDecision.APPROVE, by, HumanAction.MERGE, facts.closed_at)
            state.reason = "a maintainer merged it (final)"
        state.status, state.stage = DecisionStatus.APPROVED, Stage.DONE
        state.approved_sha = state.head.sha
        return
    if facts.status is not PullStatus.CLOSED:
        return
    if state.stage is Stage.DONE and state.status is not DecisionStatus.APPROVED:
        return  # rejected or withdrawn before it was closed: already final
    by = facts.closed_by
    approved = state.status is DecisionStatus.APPROVED
    if by in fold.maintainers:
        state.status, state.reason = DecisionStatus.REJECTED, "a maintainer closed it (final)"
        fold.human_decides(HumanDecision.REJECT, by, HumanAction.CLOSE, facts.closed_at)
    elif by is not None and by in proposer_ids(fold):
        state.status = DecisionStatus.WITHDRAWN
        state.reason = "withdrawn: its proposer closed it" + (
            " before it was merged" if approved else ""
        )
    elif by is not None and by == fold.policy.governance_bot:
        state.status, state.reason = DecisionStatus.WITHDRAWN, "closed before it was merged"
    else:
        fold.violate(by, "closed it without a decision")
        state.approved_sha = None
        return
    state.stage, state.approved_sha = Stage.DONE, None


def proposer_ids(fold: Fold) -> set[int]:
    """The proposer's accounts: the pull request's author, and the proposing agent's bot
    (a maintainer may open a proposal on an agent's behalf)."""
    bot = fold.policy.bots.get(fold.decision.proposed_by)
    return {fold.facts.author} | ({bot} if bot is not None else set())


def who(fold: Fold, user_id: int | None) -> str:
    """How a verdict names an account: an agent's bot by agent id, else its login."""
    if user_id is None:
        return "an account the forge does not name"
    agent = fold.policy.agent_of(user_id)
    if agent is not None:
        return f"{agent}'s bot"
    return fold.facts.logins.get(user_id, f"account {user_id}")
