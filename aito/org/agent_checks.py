"""Checks of org/agents/*.yaml across files: one CEO and one DAO, reporting lines, references.

Exactly one CEO and one DAO; reports_to, manages, worker kinds and notify targets
name agents (or a group); head agents report to the maintainers and everyone else to
an agent, with no cycle; every non-worker has a bot account; schedules parse; the
repo and model are in org.yaml (`repos`, `pricing`) and path filters are usable; an
agent's daily budget fits its monthly one; its profile agrees with its file
(:mod:`aito.org.profile_checks`).
"""

from __future__ import annotations

from aito.org import loading, paths, profile_checks, schedules, yamlfiles
from aito.org.agents import AgentSpec, Layer

GROUP_TARGETS = ("all", "head", "clevel", "maintainers")


class AgentChecks(profile_checks.ProfileChecks):
    """The checks of the agents' files (and, through them, their profiles)."""

    def check_agents(self) -> None:
        for agent_type in ("ceo", "dao"):
            holders = [a.id for a in self.org.agents.values() if a.type == agent_type]
            if not holders and self.unreadable_agents:
                continue  # it may be in a file that could not be read (already reported)
            if len(holders) != 1:
                where = self.org.agent_file(holders[1]) if len(holders) > 1 else None
                message = (
                    f"an organization has exactly one {agent_type.upper()} "
                    f"(type: {agent_type}); found {len(holders)}"
                    + (
                        f": {', '.join(holders)}"
                        if holders
                        else f"; add org/agents/{agent_type}.yaml with `type: {agent_type}`"
                    )
                )
                if where is not None:
                    self.at(where, ["type"], message)
                else:
                    self.at(self.org.root / loading.AGENTS_DIR, [], message)
        for spec in self.org.agents.values():
            self.check_agent(spec)
        self.check_cycles()

    def check_agent(self, spec: AgentSpec) -> None:
        org = self.org
        if spec.reports_to is not None and self.missing(spec.reports_to):
            self.at_agent(spec.id, ["reports_to"], self.unknown("reports_to", spec.reports_to))
        if spec.layer is Layer.HEAD and spec.reports_to is not None:
            self.at_agent(
                spec.id,
                ["reports_to"],
                "head agents report to the human maintainers; remove reports_to",
            )
        if spec.layer is not Layer.HEAD and spec.reports_to is None:
            self.at_agent(spec.id, [], f"a {spec.layer.value} agent needs reports_to")
        for index, managed in enumerate(spec.manages):
            if self.missing(managed):
                self.at_agent(spec.id, ["manages", index], self.unknown("manages", managed))
            elif managed not in org.agents:
                continue
            elif org.agents[managed].reports_to != spec.id and not self.dangling(managed):
                self.at_agent(
                    spec.id,
                    ["manages", index],
                    f"manages {managed!r}, but {managed} reports to "
                    f"{org.agents[managed].reports_to!r}; make the two agree",
                )
        for index, kind in enumerate(spec.workers):
            if self.missing(kind):
                self.at_agent(spec.id, ["workers", index], self.unknown("worker kind", kind))
            elif kind in org.agents and org.agents[kind].layer is not Layer.WORKER:
                self.at_agent(spec.id, ["workers", index], f"{kind!r} is not a worker")
        for index, server in enumerate(spec.mcp_servers):
            if server not in org.org.mcp.servers:
                known = ", ".join(sorted(org.org.mcp.servers)) or "none"
                self.at_agent(
                    spec.id,
                    ["mcp_servers", index],
                    f"no MCP server {server!r} in org.yaml `mcp.servers` (known: {known})",
                )
        if spec.layer is not Layer.WORKER and spec.id not in org.org.bots:
            self.at_agent(
                spec.id,
                ["id"],
                f"no bot account for {spec.id!r}: add `bots: {{{spec.id}: {{login: …, id: …}}}}` "
                "to org/org.yaml (its votes and PRs are made as that account)",
            )
        if spec.loop is not None:
            try:
                schedules.parse_schedule(spec.loop.schedule)
            except schedules.ScheduleError as exc:
                self.at_agent(spec.id, ["loop", "schedule"], str(exc))
        if not loading.resolve_repos(org.org, spec.git.repo):
            self.at_agent(
                spec.id,
                ["git", "repo"],
                f"repo {yamlfiles.shown(spec.git.repo)} is not in org.yaml `repos`; use one of: "
                + ", ".join(sorted(org.org.repos))
                + " (or `*` for all)",
            )
        for index, pattern in enumerate(spec.git.paths):
            reason = paths.pattern_problem(pattern)
            if reason:
                shown = yamlfiles.shown(pattern)
                self.at_agent(spec.id, ["git", "paths", index], f"path filter {shown} {reason}")
        whole = paths.list_problem(spec.git.paths)
        if whole:
            self.at_agent(spec.id, ["git", "paths"], f"path filters: {whole}")
        model = org.model_of(spec.id)
        if model not in org.org.pricing:
            self.at_agent(
                spec.id,
                ["model"] if spec.model else ["id"],
                f"model {yamlfiles.shown(model)} has no price in org.yaml `pricing`; "
                "add it so cost is accounted",
            )
        if spec.budget.daily_usd > spec.budget.monthly_usd:
            self.at_agent(spec.id, ["budget", "daily_usd"], "daily_usd is more than monthly_usd")
        for index, rule in enumerate(spec.escalation):
            for target_index, target in enumerate(rule.notify):
                if self.missing(target) and target not in GROUP_TARGETS:
                    self.at_agent(
                        spec.id,
                        ["escalation", index, "notify", target_index],
                        self.unknown("notify target", target)
                        + "; or a group: "
                        + ", ".join(GROUP_TARGETS),
                    )
        profile = org.profiles.get(spec.id)
        if profile is not None:
            self.check_profile(spec, profile)

    def check_cycles(self) -> None:
        reported: set[str] = set()
        for start in sorted(self.org.agents):
            chain = [start]
            current = self.org.agents[start].reports_to
            while current is not None and current in self.org.agents:
                if current in chain:
                    cycle = [*chain[chain.index(current) :], current]
                    if not reported.intersection(cycle):
                        self.at_agent(
                            current,
                            ["reports_to"],
                            "reporting cycle: "
                            + " → ".join(cycle)
                            + "; someone in it must report to a head agent",
                        )
                        reported.update(cycle)
                    break
                chain.append(current)
                current = self.org.agents[current].reports_to
