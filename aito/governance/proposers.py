"""Who may propose a decision: an agent, a human member or a maintainer (pure).

The proposer of a decision pull request is **its author on the forge, by numeric id**,
looked up in the base branch's `org/org.yaml`; never a name written in the record, the
title or the body. The record's ``proposed_by`` must then name that same account:

* an agent's bot proposes for that agent only (``proposed_by: <agent id>``);
* a human member (`humans:` in org.yaml) proposes in their own name
  (``proposed_by: <their login>``), up to their ``may_propose`` tier;
* a maintainer proposes in their own name, at any tier, or opens a proposal on an
  agent's behalf (``proposed_by: <agent id>``; a repository admin the forge reports but
  org.yaml does not list may do only that);
* anyone else is refused: only members of the organization propose.

A proposer is a party: they never vote, advise, or decide their own decision (see
:mod:`aito.governance.tallying`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection

from aito.org import loading
from aito.org import paths as repo_paths
from aito.org.organization import Tier

TIER_ORDER = (Tier.OPERATIONAL, Tier.MINOR, Tier.MAJOR, Tier.CRITICAL)


class Kind(enum.StrEnum):
    AGENT = "agent"
    HUMAN = "human"
    MAINTAINER = "maintainer"


@dataclasses.dataclass(frozen=True)
class Proposer:
    """An account that may propose: ``name`` is the agent id or the person's login as
    org.yaml spells it; ``ceiling`` the highest tier they may file."""

    name: str
    kind: Kind
    user_id: int
    ceiling: Tier


def by_id(org: loading.Organization, user_id: int) -> Proposer | None:
    """The member whose forge account has numeric id ``user_id``, if any."""
    for agent_id, bot in org.org.bots.items():
        if bot.id == user_id:
            return Proposer(agent_id, Kind.AGENT, bot.id, Tier.CRITICAL)
    for maintainer in org.org.maintainers:
        if maintainer.id == user_id:
            return Proposer(maintainer.login, Kind.MAINTAINER, maintainer.id, Tier.CRITICAL)
    for human in org.org.humans:
        if human.id == user_id:
            return Proposer(human.login, Kind.HUMAN, human.id, human.may_propose)
    return None


def by_name(org: loading.Organization, name: str) -> Proposer | None:
    """The member ``proposed_by`` names: an agent id with a bot, or a person's login
    (matched ignoring case, as GitHub does)."""
    bot = org.org.bots.get(name)
    if bot is not None and name in org.agents:
        return Proposer(name, Kind.AGENT, bot.id, Tier.CRITICAL)
    for maintainer in org.org.maintainers:
        if maintainer.login.lower() == name.lower():
            return Proposer(maintainer.login, Kind.MAINTAINER, maintainer.id, Tier.CRITICAL)
    for human in org.org.humans:
        if human.login.lower() == name.lower():
            return Proposer(human.login, Kind.HUMAN, human.id, human.may_propose)
    return None


def refusal(
    org: loading.Organization,
    *,
    author_id: int,
    author_login: str,
    proposed_by: str,
    forge_maintainers: Collection[int] = (),
) -> str | None:
    """Why the pull request's author (``author_id``, from the forge) may not propose a
    record saying ``proposed_by``; None when they may. ``forge_maintainers`` are the ids
    the forge reports as repository admins or maintainers."""
    author = by_id(org, author_id)
    named = by_name(org, proposed_by)
    shown = _cut(author_login)
    if author is None:
        if author_id in forge_maintainers and named is not None and named.kind is Kind.AGENT:
            return None  # a repository admin opening a proposal on an agent's behalf
        return (
            f"opened by {shown}, who is neither an agent's bot, a human member nor a "
            "maintainer in org/org.yaml: only members of the organization propose"
        )
    if named is not None and named.user_id == author.user_id:
        return None
    if author.kind is Kind.MAINTAINER and named is not None and named.kind is Kind.AGENT:
        return None  # a maintainer opening a proposal on an agent's behalf
    if author.kind is Kind.AGENT:
        return (
            f"opened by {author.name}'s bot, but the record says proposed_by "
            f"{_cut(proposed_by)}: proposed_by cannot be claimed"
        )
    return (
        f"opened by {author.kind.value} {author.name}, but the record says proposed_by "
        f"{_cut(proposed_by)}: a person proposes in their own name (proposed_by: "
        f"{author.name}); proposed_by cannot be claimed"
    )


def above_ceiling(proposer: Proposer, tier: Tier) -> str | None:
    """Why ``proposer`` may not propose at ``tier`` (None: they may)."""
    if TIER_ORDER.index(tier) <= TIER_ORDER.index(proposer.ceiling):
        return None
    return (
        f"{proposer.name} may propose up to {proposer.ceiling.value} (may_propose in "
        f"org/org.yaml); this decision is {tier.value}: a maintainer may propose it"
    )


def _cut(text: str) -> str:
    # Names come from the forge or the record: never repeat an unbounded one.
    return repo_paths.shown(text, 60)
