"""Which tier a proposed change needs, from the proposer's authority (pure).

The tier a proposer files can be raised, never lowered: a change is judged by
what it touches and what it spends, so "a budget change above my limit, filed as
minor" is refused when proposed and judged as what it is when tallied.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable

from aito.org import loading
from aito.org.organization import Tier

TIER_ORDER = (Tier.OPERATIONAL, Tier.MINOR, Tier.MAJOR, Tier.CRITICAL)
# The organization's own rules: changing them is always critical.
RULE_PATHS = ("org/org.yaml", "org/agents/*", "profiles/*", ".github/*", "CODEOWNERS")
RECORD_PATHS = ("org/decisions/*", "org/tasks/*")


@dataclasses.dataclass(frozen=True)
class Requirement:
    tier: Tier
    reasons: tuple[str, ...]


def higher(first: Tier, second: Tier) -> Tier:
    return max(first, second, key=TIER_ORDER.index)


def required_tier(
    org: loading.Organization, *, proposer: str, paths: Iterable[str], amount_usd: float
) -> Requirement:
    """The lowest tier that may decide ``paths`` and ``amount_usd`` for ``proposer``."""
    spec = org.agents[proposer]
    limits = spec.authority.spend_limits_usd
    tier = Tier.OPERATIONAL
    reasons: list[str] = []
    if amount_usd > 0:
        if amount_usd > limits.with_ceo:
            tier = Tier.CRITICAL
            reasons.append(
                f"${amount_usd:g} is above {proposer}'s limit with the CEO "
                f"(${limits.with_ceo:g}): the DAO must approve"
            )
        elif amount_usd > limits.alone:
            tier = Tier.MAJOR
            reasons.append(
                f"${amount_usd:g} is above what {proposer} may spend alone "
                f"(${limits.alone:g}): the CEO must approve"
            )
        else:
            tier = Tier.MINOR
            reasons.append(f"${amount_usd:g} is within {proposer}'s own limit")
    for path in sorted(set(paths)):
        if _matches(path, RULE_PATHS):
            tier = higher(tier, Tier.CRITICAL)
            reasons.append(f"{path} changes the organization's rules")
        elif _matches(path, RECORD_PATHS):
            continue
        elif not _matches(path, spec.git.paths):
            tier = higher(tier, Tier.MAJOR)
            reasons.append(f"{path} is outside {proposer}'s paths ({', '.join(spec.git.paths)})")
    return Requirement(tier, tuple(reasons))


def _matches(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)
