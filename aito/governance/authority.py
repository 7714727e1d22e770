"""Which tier a proposed change needs, from the proposer's authority (pure).

The tier a proposer files can be raised, never lowered: a change is judged by
what it touches and what it spends, so "a budget change above my limit, filed as
minor" is refused when proposed and judged as what it is when tallied.

Critical, whoever proposes:

* the organization's rules and records: everything under `org/` (`org.yaml`,
  agents, decisions, tasks) and `profiles/`, except the one new decision record the
  pull request adds (the caller leaves that one out). Changing or deleting an
  existing decision or task record is a rule change, never a free "record path";
* the protected automation paths of :data:`aito.org.paths.PROTECTED` (workflows,
  CODEOWNERS, CI definitions …), matched ignoring case;
* a symbolic link or submodule anywhere (it can point outside the paths it sits in);
* a path that is not a plain relative path (see :func:`aito.org.paths.unsafe_reason`).

Paths are matched with gitignore semantics (:mod:`aito.org.paths`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from aito.org import loading
from aito.org import paths as repo_paths
from aito.org.organization import Tier

TIER_ORDER = (Tier.OPERATIONAL, Tier.MINOR, Tier.MAJOR, Tier.CRITICAL)
# The organization's own rules and records (`org/`, `profiles/`): changing them is always
# critical, as no agent writes them with `open_pr`.
RULE_PATHS = tuple(pattern for pattern, _ in repo_paths.GOVERNANCE_PROTECTED)


@dataclasses.dataclass(frozen=True)
class Requirement:
    tier: Tier
    reasons: tuple[str, ...]


def higher(first: Tier, second: Tier) -> Tier:
    return max(first, second, key=TIER_ORDER.index)


def required_tier(
    org: loading.Organization,
    *,
    proposer: str,
    paths: Iterable[str],
    amount_usd: float,
    links: Iterable[str] = (),
) -> Requirement:
    """The lowest tier that may decide ``paths`` and ``amount_usd`` for ``proposer``.

    ``paths`` are every path the change adds, modifies or deletes (a rename counts as
    both names); ``links`` are those that are symbolic links or submodules.

    A ``proposer`` who is not an agent (a human member or a maintainer, by login) has no
    authority of their own: their proposal is at least minor (the CEO may veto it), any
    file outside the rules and automation and any amount make it major, and the rules
    and automation critical, as for everyone.
    """
    spec = org.agents.get(proposer)
    if spec is None:
        return _person_requirement(proposer, paths=paths, amount_usd=amount_usd, links=links)
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

    def outside(path: str) -> str | None:
        if repo_paths.matches(path, spec.git.paths):
            return None
        return f" is outside {proposer}'s paths ({', '.join(spec.git.paths)})"

    tier = _files_tier(tier, reasons, paths=paths, links=links, outside=outside)
    return Requirement(tier, tuple(reasons))


def _person_requirement(
    person: str, *, paths: Iterable[str], amount_usd: float, links: Iterable[str]
) -> Requirement:
    tier = Tier.MINOR
    shown = repo_paths.shown(person, 60)
    reasons = [f"{shown} is a person, with no authority of their own: at least minor"]
    if amount_usd > 0:
        tier = Tier.MAJOR
        reasons.append(f"${amount_usd:g} from a person's proposal: the CEO and DAO approve")
    tier = _files_tier(
        tier, reasons, paths=paths, links=links,
        outside=lambda _: ": a person has no paths of their own",
    )  # fmt: skip
    return Requirement(tier, tuple(reasons))


def _files_tier(
    tier: Tier,
    reasons: list[str],
    *,
    paths: Iterable[str],
    links: Iterable[str],
    outside: Callable[[str], str | None],
) -> Tier:
    """``tier`` raised for the files (their reasons added): a link, a submodule or a
    rule or automation path makes it critical; a path ``outside`` the proposer's own
    (``outside`` says why, else None) at least major."""
    for link in sorted(set(links)):
        tier = Tier.CRITICAL
        reasons.append(f"{repo_paths.shown(link)} is a symbolic link or submodule")
    for path in sorted(set(paths)):
        critical = _critical_reason(path)
        if critical is not None:
            tier = Tier.CRITICAL
            reasons.append(f"{repo_paths.shown(path)} {critical}")
        elif (why := outside(path)) is not None:
            tier = higher(tier, Tier.MAJOR)
            reasons.append(f"{repo_paths.shown(path)}{why}")
    return tier


def _critical_reason(path: str) -> str | None:
    unsafe = repo_paths.unsafe_reason(path)
    if unsafe is not None:
        return f"is not a plain path inside the repo ({unsafe})"
    if repo_paths.matches_folded(path, RULE_PATHS):
        return "changes the organization's rules or records"
    protected = repo_paths.protected_reason(path)
    if protected is not None:
        return f"changes automation: {protected}"
    return None
