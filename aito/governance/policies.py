"""The rules that judge one decision, frozen when it is proposed.

A :class:`Policy` is built from the **base branch's** organization (never from the
pull request's own files) and stored by the tally, so neither a later change of
`org.yaml` nor the proposal itself can change who votes, the quorum or deadlines.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aito.org import loading, schedules
from aito.org.agents import Layer
from aito.org.organization import Tier


class Policy(BaseModel):
    """Who votes on one decision and how; identities are numeric forge user ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: Tier
    approvers: tuple[str, ...] = Field(description="round-1 voters (agent ids)")
    veto_by: tuple[str, ...] = ()
    lazy_consensus: bool = False
    maintainer_required: bool = False
    deadline_seconds: int
    max_rounds: int
    advisors: tuple[str, ...]
    voters: tuple[str, ...]
    quorum: int
    bots: dict[str, int] = Field(description="agent id → its bot's numeric user id")
    bot_logins: dict[str, str]
    maintainers: dict[int, str] = Field(description="numeric user id → login")
    governance_bot: int | None = Field(None, description="the account that applies verdicts")

    def agent_of(self, user_id: int) -> str | None:
        for agent_id, bot_id in self.bots.items():
            if bot_id == user_id:
                return agent_id
        return None


def policy_for(org: loading.Organization, tier: Tier) -> Policy:
    """The policy for a decision of ``tier`` under ``org`` (read from the base branch)."""
    rules = org.org.governance
    rule = rules.tiers[tier]
    c_level = sorted(a.id for a in org.agents.values() if a.layer is Layer.C_LEVEL)
    heads = sorted(a.id for a in org.agents.values() if a.layer is Layer.HEAD)
    voters = tuple(rules.voters if rules.voters is not None else [*heads, *c_level])
    quorum = rules.quorum if rules.quorum is not None else len(voters) // 2 + 1
    bot = org.org.governance_repo.bot
    return Policy(
        tier=tier,
        approvers=tuple(rule.approvers),
        veto_by=tuple(rule.veto_by),
        lazy_consensus=rule.lazy_consensus,
        maintainer_required=rule.maintainer_required,
        deadline_seconds=schedules.parse_duration(rule.deadline),
        max_rounds=rules.max_rounds,
        advisors=tuple(rules.advisors if rules.advisors is not None else c_level),
        voters=voters,
        quorum=quorum,
        bots={agent_id: identity.id for agent_id, identity in org.org.bots.items()},
        bot_logins={agent_id: identity.login for agent_id, identity in org.org.bots.items()},
        maintainers={m.id: m.login for m in org.org.maintainers},
        governance_bot=bot.id if bot else None,
    )
