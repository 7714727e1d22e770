"""Checks of an agent's profile against its YAML: schedule, reporting line, repository.

A profile is prose, but three of its facts must agree with the agent's file: its
loop interval (workers run on demand), whom it reports to, and the repository it
names.
"""

from __future__ import annotations

import re

from aito.errors import Problem
from aito.org import checking, loading, profiles, schedules, yamlfiles
from aito.org.agents import AgentSpec, Layer


class ProfileChecks(checking.Checker):
    """The checks of an agent's profile against its file."""

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


def _schedule_or_none(spec: AgentSpec) -> schedules.Schedule | None:
    if spec.loop is None:
        return None
    try:
        return schedules.parse_schedule(spec.loop.schedule)
    except schedules.ScheduleError:
        return None


def _say(seconds: int | None) -> str:
    return "On demand" if seconds is None else f"every {schedules.format_duration(seconds)}"
