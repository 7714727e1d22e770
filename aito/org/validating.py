"""Cross-reference rules: what no single file can check on its own.

Each rule reports a :class:`Problem` at the line of the field that is wrong, so a
user can jump straight to it. The rules are grouped by what they check, each group a
mixin over :class:`aito.org.checking.Checker`: org.yaml (:mod:`aito.org.org_file_checks`),
the agents (:mod:`aito.org.agent_checks`) and their profiles
(:mod:`aito.org.profile_checks`), the decision and task records
(:mod:`aito.org.record_checks`).
"""

from __future__ import annotations

from collections.abc import Iterator

from aito.errors import Problem
from aito.org import agent_checks, loading, org_file_checks, paths, record_checks


class _Checker(org_file_checks.OrgFileChecks, agent_checks.AgentChecks, record_checks.RecordChecks):
    """Every cross-reference rule, over one organization."""


def path_filter_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable path filter (see :mod:`aito.org.paths`)."""
    return paths.pattern_problem(pattern)


def cross_check(
    org: loading.Organization,
    *,
    unreadable_agents: frozenset[str] = frozenset(),
    unreadable_decisions: frozenset[str] = frozenset(),
) -> Iterator[Problem]:
    """Every cross-reference problem in ``org``.

    Ids in ``unreadable_agents`` and ``unreadable_decisions`` belong to files that exist
    but could not be loaded (their problem is already reported): references to them are
    not reported again as unknown.
    """
    checker = _Checker(org, unreadable_agents, unreadable_decisions)
    checker.check_org_file()
    checker.check_agents()
    checker.check_records()
    return iter(checker.problems)
