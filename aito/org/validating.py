"""Cross-reference rules: what no single file can check on its own.

Each rule reports a :class:`Problem` at the line of the field that is wrong, so a
user can jump straight to it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from aito.errors import Problem
from aito.org import loading, paths, profiles, schedules, yamlfiles
from aito.org.agents import AgentSpec, Layer

GROUP_TARGETS = ("all", "head", "clevel", "maintainers")


class _Checker:
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

    # -- reporting -----------------------------------------------------------------
    def at(self, path: Path | _LazyPath, location: Sequence[str | int], message: str) -> None:
        real = path.build() if isinstance(path, _LazyPath) else path
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

    # -- org.yaml ------------------------------------------------------------------
    def check_org_file(self) -> None:
        org = self.org.org
        for agent_id in org.bots:
            if self.missing(agent_id):
                self.at_org(["bots", agent_id], self.unknown("bot for", agent_id))
        self._unique(
            [("bots", k, "login") for k in org.bots],
            [b.login.lower() for b in org.bots.values()],
            "bot login",
        )
        self._unique(
            [("bots", k, "id") for k in org.bots], [b.id for b in org.bots.values()], "bot id"
        )
        self._unique(
            [("maintainers", i, "login") for i in range(len(org.maintainers))],
            [m.login.lower() for m in org.maintainers],
            "maintainer login",
        )
        bot_logins = {b.login.lower() for b in org.bots.values()}
        bot_ids = {b.id for b in org.bots.values()}
        governance_bot = org.governance_repo.bot
        if governance_bot is not None and (
            governance_bot.id in bot_ids or governance_bot.login.lower() in bot_logins
        ):
            self.at_org(
                ["governance_repo", "bot"],
                "the governance bot must be its own account, not an agent's bot "
                "(it applies verdicts; agents vote)",
            )
        if governance_bot is not None:
            bot_logins = bot_logins | {governance_bot.login.lower()}
            bot_ids = bot_ids | {governance_bot.id}
        for index, person in enumerate(org.maintainers):
            if person.login.lower() in bot_logins or person.id in bot_ids:
                self.at_org(
                    ["maintainers", index],
                    f"maintainer {person.login!r} is also an agent's bot; a bot can never "
                    "be a maintainer (humans keep the last word)",
                )
        rules = org.governance
        for tier, rule in rules.tiers.items():
            for field in ("approvers", "veto_by"):
                for index, agent_id in enumerate(getattr(rule, field)):
                    if self.missing(agent_id):
                        self.at_org(
                            ["governance", "tiers", tier.value, field, index],
                            self.unknown(f"{tier.value} {field}", agent_id),
                        )
        for field in ("advisors", "voters"):
            for index, agent_id in enumerate(getattr(rules, field) or []):
                if self.missing(agent_id):
                    self.at_org(["governance", field, index], self.unknown(field, agent_id))
                elif agent_id in self.known and self.org.agents[agent_id].layer is Layer.WORKER:
                    self.at_org(
                        ["governance", field, index],
                        f"{agent_id!r} is a worker; workers never vote",
                    )
        voters = (
            rules.voters
            if rules.voters is not None
            else [a.id for a in self.org.agents.values() if a.layer is not Layer.WORKER]
        )
        counted = rules.voters is not None or not self.unreadable_agents
        if rules.quorum is not None and counted and rules.quorum > len(voters):
            self.at_org(
                ["governance", "quorum"],
                f"quorum {rules.quorum} is more than the {len(voters)} round-3 voters",
            )
        total_daily = sum(a.budget.daily_usd for a in self.org.agents.values())
        if total_daily > org.budget.daily_usd:
            self.at_org(
                ["budget", "daily_usd"],
                f"agents' daily budgets add up to ${total_daily:g}, more than the "
                f"organization's daily_usd ${org.budget.daily_usd:g}; raise it or cut agents'",
            )

    def _unique(
        self, locations: list[tuple[str | int, ...]], values: list[object], what: str
    ) -> None:
        counts = Counter(values)
        for location, value in zip(locations, values, strict=True):
            if counts[value] > 1:
                self.at_org(list(location), f"duplicate {what} {value!r}; each must be unique")

    # -- agents --------------------------------------------------------------------
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

    def dangling(self, agent_id: str) -> bool:
        """True if ``agent_id`` reports to an agent that does not exist (reported in its file)."""
        boss = self.org.agents[agent_id].reports_to
        return boss is not None and boss not in self.org.agents

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

    def check_profile(self, spec: AgentSpec, profile: profiles.Profile) -> None:
        interval = profile.interval_seconds
        try:
            found = interval()
        except ValueError as exc:
            fact = profile.fact("Loop Schedule", "Interval")
            self.problems.append(Problem(profile.path, fact[1] if fact else 1, str(exc)))
            found = None
        if found is not None:
            seconds, line = found
            schedule = _schedule_or_none(spec)
            expected = schedule.interval_seconds if schedule else None
            if schedule is not None and schedule.cron is None and seconds != expected:
                self.problems.append(
                    Problem(
                        profile.path,
                        line,
                        f"the profile says {_say(seconds)} but org/agents/{spec.id}.yaml "
                        "says loop.schedule "
                        f"{yamlfiles.shown(spec.loop.schedule if spec.loop else None)}; "
                        "make them agree",
                    )
                )
            if spec.layer is Layer.WORKER and seconds is not None:
                self.problems.append(
                    Problem(profile.path, line, "workers run on demand; write 'On demand'")
                )
            if spec.layer is not Layer.WORKER and seconds is None:
                self.problems.append(
                    Problem(
                        profile.path,
                        line,
                        f"{spec.id} has a loop schedule; write its interval, e.g. 'Every 4 hours'",
                    )
                )
        reports = profile.fact("Identity", "Reports To")
        if reports is not None and spec.reports_to in self.org.agents:
            boss = self.org.agents[spec.reports_to]
            words = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]*", reports[0])}
            if boss.id.lower() not in words and boss.name.lower() not in reports[0].lower():
                self.problems.append(
                    Problem(
                        profile.path,
                        reports[1],
                        f"the profile says Reports To {yamlfiles.shown(reports[0])} "
                        "but the YAML says "
                        f"reports_to {boss.id!r} ({boss.name}); make them agree",
                    )
                )
        repository = profile.fact("Git Integration", "Repository")
        repos = loading.resolve_repos(self.org.org, spec.git.repo)
        if repository is not None and spec.git.repo != "*" and repos:
            named = repository[0].split()[0] if repository[0] else ""
            if named not in repos:
                self.problems.append(
                    Problem(
                        profile.path,
                        repository[1],
                        f"the profile names repository {yamlfiles.shown(named)} but the YAML gives "
                        f"git.repo {repos[0]!r}; make them agree",
                    )
                )

    # -- records -------------------------------------------------------------------
    def check_records(self) -> None:
        org = self.org
        max_rounds = org.org.governance.max_rounds
        decisions_dir = org.root / loading.DECISIONS_DIR
        tasks_dir = org.root / loading.TASKS_DIR
        for decision in org.decisions.values():
            path = _LazyPath(decisions_dir, f"{decision.id}.yaml")
            if self.missing(decision.proposed_by):
                self.at(path, ["proposed_by"], self.unknown("proposed_by", decision.proposed_by))
            if decision.round > max_rounds:
                self.at(path, ["round"], f"round {decision.round} is past max_rounds {max_rounds}")
            for index, record in enumerate(decision.rounds):
                for voter in record.votes:
                    if self.missing(voter):
                        self.at(
                            path, ["rounds", index, "votes", voter], self.unknown("voter", voter)
                        )
        for task in org.tasks.values():
            path = _LazyPath(tasks_dir, f"{task.id}.yaml")
            for field in ("assigned_to", "created_by"):
                value = getattr(task, field)
                if self.missing(value):
                    self.at(path, [field], self.unknown(field, value))
            decision_id = task.decision
            if (
                decision_id is not None
                and decision_id not in org.decisions
                and decision_id not in self.unreadable_decisions
            ):
                self.at(
                    path,
                    ["decision"],
                    f"decision {decision_id!r} does not exist in org/decisions",
                )


class _LazyPath:
    """A file path built only when a problem needs it (10,000 records, few problems)."""

    __slots__ = ("directory", "name")

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name

    def build(self) -> Path:
        return self.directory / self.name


def _schedule_or_none(spec: AgentSpec) -> schedules.Schedule | None:
    if spec.loop is None:
        return None
    try:
        return schedules.parse_schedule(spec.loop.schedule)
    except schedules.ScheduleError:
        return None


def _say(seconds: int | None) -> str:
    return "On demand" if seconds is None else f"every {schedules.format_duration(seconds)}"


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
