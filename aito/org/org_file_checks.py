"""Checks of org/org.yaml against the agents: bots, maintainers, governance, budget.

Every bot belongs to an agent and bot logins and ids are unique; the governance bot
is its own account; no maintainer or human member is a bot (humans keep the last
word) and each person's login and id are unique and no agent id; every
approver, vetoer, advisor and voter is an agent and no worker votes; the quorum fits
the voters; the agents' daily budgets fit the organization's.
"""

from __future__ import annotations

from collections import Counter

from aito.org import checking
from aito.org.agents import Layer


class OrgFileChecks(checking.Checker):
    """The checks of org/org.yaml."""

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
        self._people_are_distinct(bot_logins, bot_ids)
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

    def _people_are_distinct(self, bot_logins: set[str], bot_ids: set[int]) -> None:
        """Maintainers and human members: each login and numeric id once across both, no
        human member is a bot (bots never propose as people), and no person's login is an
        agent id (`proposed_by` names either an agent or a person, never both)."""
        org = self.org.org
        people = [("maintainers", i, m.login, m.id) for i, m in enumerate(org.maintainers)]
        people += [("humans", i, h.login, h.id) for i, h in enumerate(org.humans)]
        first_login: dict[str, str] = {}
        first_id: dict[int, str] = {}
        agent_ids = {a.lower() for a in self.org.agents} | {a.lower() for a in org.bots}
        for field, index, login, user_id in people:
            where = f"{field}[{index}] ({login})"
            if login.lower() in first_login:
                self.at_org(
                    [field, index, "login"],
                    f"duplicate login {login!r}, already {first_login[login.lower()]}; each "
                    "person is listed once, as a maintainer or as a human member",
                )
            elif user_id in first_id:
                self.at_org(
                    [field, index, "id"],
                    f"duplicate id {user_id}, already {first_id[user_id]}; logins and numeric "
                    "ids are unique across bots, maintainers and humans",
                )
            first_login.setdefault(login.lower(), where)
            first_id.setdefault(user_id, where)
            if field == "humans" and (login.lower() in bot_logins or user_id in bot_ids):
                self.at_org(
                    [field, index],
                    f"human member {login!r} is also a bot account; a bot never proposes "
                    "as a person",
                )
            if login.lower() in agent_ids:
                self.at_org(
                    [field, index, "login"],
                    f"{login!r} is also an agent id; `proposed_by` must name one of them "
                    "only: rename the agent or list the person's own login",
                )

    def _unique(
        self, locations: list[tuple[str | int, ...]], values: list[object], what: str
    ) -> None:
        counts = Counter(values)
        for location, value in zip(locations, values, strict=True):
            if counts[value] > 1:
                self.at_org(list(location), f"duplicate {what} {value!r}; each must be unique")
