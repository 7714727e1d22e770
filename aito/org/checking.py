"""What every cross-reference check shares: the organization, the ids known, and reporting.

A :class:`Checker` holds the organization under check, the agent ids it knows and
those whose files exist but could not be read (references to them are not reported
again as unknown), and the problems found so far. Each problem is reported at the
line of the field that is wrong (:meth:`Checker.at`), so a user can jump straight to
it. The checks themselves are mixed in from `org_file_checks`, `agent_checks`,
`profile_checks` and `record_checks` (see :mod:`aito.org.validating`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aito.errors import Problem
from aito.org import loading, yamlfiles


class Checker:
    """The state and reporting every check uses."""

    def __init__(
        self,
        org: loading.Organization,
        unreadable_agents: frozenset[str] = frozenset(),
        unreadable_decisions: frozenset[str] = frozenset(),
    ) -> None:
        self.org = org
        self.problems: list[Problem] = []
        self.known = sorted(org.agents)
        self.unreadable_agents = unreadable_agents
        self.unreadable_decisions = unreadable_decisions

    def missing(self, agent_id: str) -> bool:
        """True if ``agent_id`` is no agent, not even one whose file could not be read."""
        return agent_id not in self.org.agents and agent_id not in self.unreadable_agents

    def dangling(self, agent_id: str) -> bool:
        """True if ``agent_id`` reports to an agent that does not exist (reported in its file)."""
        boss = self.org.agents[agent_id].reports_to
        return boss is not None and boss not in self.org.agents

    def at(self, path: Path | LazyPath, location: Sequence[str | int], message: str) -> None:
        real = path.build() if isinstance(path, LazyPath) else path
        self.problems.append(Problem(real, yamlfiles.locate(real, location), message))

    def at_org(self, location: Sequence[str | int], message: str) -> None:
        self.at(self.org.root / loading.ORG_FILE, location, message)

    def at_agent(self, agent_id: str, location: Sequence[str | int], message: str) -> None:
        self.at(self.org.agent_file(agent_id), location, message)

    def unknown(self, what: str, name: str) -> str:
        listing = ", ".join(self.known) or "none"
        return (
            f"{what} {yamlfiles.shown(name)} is not an agent of this organization; "
            f"known agents: {listing}"
        )


class LazyPath:
    """A file path built only when a problem needs it (10,000 records, few problems)."""

    __slots__ = ("directory", "name")

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name

    def build(self) -> Path:
        return self.directory / self.name
