"""A simulated day of the example organization, on the embedded defaults and the offline model.

`run` builds (or rebuilds) a governance repo from the Shiba Classic example in a
demo directory, starts the embedded services there, and advances a simulated
clock through one day in steps. At each step, as the generated workflows and
daemons would in production:

1. every agent whose schedule fires wakes (`schedule` trigger, one run per slot);
2. agents wake on messages in their stream (`message` trigger), as daemons do;
3. the governance workflow tallies every open decision and applies the verdict;
4. requests past their deadline turn into timeouts for their senders;
5. an escalated decision is reviewed by the (simulated) human maintainer;
6. the orchestrator makes one pass (:mod:`aito.demo.orchestrating`): health,
   restarts, the DAO's temporary lead, deadlines, notifications.

Everything agents do goes through the real loop: context, checks, the forge (local
git), Redis, Postgres. Two things are set up for the show and said so in the repo's
first commit: the content writer may use 6,200 tokens a day (a call reserves its
worst case, about 5,200), so it is refused when spawned a second time that day; and
the CEO's process is down from 17:00 to 22:00, so the orchestrator restarts it, gives
the DAO the temporary lead, and gives it back when the CEO returns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from aito import bootstrap, scaffolding
from aito.agent import running, scheduling
from aito.bus import keys, streams
from aito.decisions import applying, proposing, reading, recording, sweeping
from aito.demo import feeding, orchestrating
from aito.errors import ConfigError, GovernanceError
from aito.forge.base import PullState
from aito.governance.verdicts import Stage
from aito.llm import offline
from aito.org import loading
from aito.org.agents import Layer
from aito.services import managing
from aito.settings import Settings

START = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
"""A Monday morning; fixed, so a demo with the same seed is the same demo."""
MARKER = ".aito-demo"
TIGHT_BUDGET = ("content-writer", 6200)
"""One worker kind gets a daily token budget so the day hits a hard limit (said in the commit)."""


@dataclasses.dataclass
class DecisionLine:
    decision_id: str
    pr: int
    tier: str
    title: str
    status: str
    rounds: int
    stage: str
    reason: str
    decided_by: str | None


@dataclasses.dataclass
class Report:
    """What the simulated day produced (also `aito demo --json`)."""

    repo: Path
    seed: int
    started: dt.datetime
    finished: dt.datetime
    runs: dict[str, int] = dataclasses.field(default_factory=dict)
    pull_requests: dict[str, int] = dataclasses.field(default_factory=dict)
    decisions: list[DecisionLine] = dataclasses.field(default_factory=list)
    messages: int = 0
    tasks: dict[str, int] = dataclasses.field(default_factory=dict)
    tokens: int = 0
    cost_usd: float = 0.0
    budget_exhausted: list[str] = dataclasses.field(default_factory=list)
    human_issues: list[str] = dataclasses.field(default_factory=list)
    timeouts: int = 0
    orchestrator: list[str] = dataclasses.field(default_factory=list)
    notices: list[str] = dataclasses.field(default_factory=list)
    initiatives: list[str] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["repo"] = str(self.repo)
        data["started"] = self.started.isoformat()
        data["finished"] = self.finished.isoformat()
        data["cost_usd"] = round(self.cost_usd, 6)
        return data


class SimulatedClock:
    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at


def run(
    *,
    target: Path,
    env: dict[str, str],
    seed: int = 0,
    hours: int = 24,
    step_minutes: int = 15,
    echo: Callable[[str], None] = print,
    containers: str = "inprocess",
) -> Report:
    """Simulate ``hours`` of the organization in ``target`` (replaced if it was a demo).

    ``containers="docker"`` runs every wake-up in a container of ``AITO_IMAGE`` (as the
    generated workflows do on runners), its workers in sandboxes; the simulated clock is
    handed to each run (`AITO_NOW`). Same seed, same day, just slower."""
    with feeding.serving() as feed:
        return _run(target, env, seed, hours, step_minutes, echo, containers, feed)


def _run(
    target: Path,
    env: dict[str, str],
    seed: int,
    hours: int,
    step_minutes: int,
    echo: Callable[[str], None],
    containers: str,
    feed: str,
) -> Report:
    prepare(target, feed=feed)
    chosen = ("POSTGRES_URL", "REDIS_URL", "AITO_IMAGE", "AITO_AGENT_NETWORK")
    settings = Settings.from_env(
        {**{k: v for k, v in env.items() if k in chosen}, "AITO_RUNTIME": containers},
        repo=target,
    )
    org = loading.load_valid(target)
    echo(f"demo organization {org.org.name!r} in {target} (seed {seed}); starting services …")
    runtime = bootstrap.build(settings, org=org, pool_size=4)
    clock = SimulatedClock(START)
    ports = bootstrap.loop_ports(
        settings, runtime, org, llm=offline.OfflineModel(seed=seed), clock=clock
    )
    spawn = bootstrap.worker_spawn(settings, ports)
    runner: scheduling.Waking = running.Runner(ports, spawn=spawn)
    if settings.runtime == "docker":
        launcher = bootstrap.launcher(settings, runtime, org, ports, tokens={})
        runner = dataclasses.replace(launcher, frozen_clock=True)
        spawn = launcher.workers()
        echo(f"each wake-up runs in a container of {settings.image}")
    watch = orchestrating.watch(
        runtime,
        org,
        ports,
        runner,
        spawn=spawn,
        on_run=lambda outcome: _show(outcome, clock.at, echo, report),  # type: ignore[arg-type]
    )
    orchestrating.seed_heartbeats(runtime, org, START)
    recorder = recording.ServicesRecorder(memory=runtime.memory, bus=runtime.bus)
    messenger = streams.Messenger(runtime.bus, groups=org.groups(), sink=runtime.events)
    report = Report(repo=target, seed=seed, started=START, finished=START)
    agents = [a for a in org.agents.values() if a.layer is not Layer.WORKER]
    agents.sort(key=lambda a: (a.layer is not Layer.HEAD, a.id))
    last_slot: dict[str, str] = {}  # agent → the run id of its latest schedule slot
    verdicts: dict[int, tuple[str, int, str]] = {}
    maintainer = org.org.maintainers[0]
    echo(
        f"simulating {hours} h from {START:%a %Y-%m-%d %H:%M} UTC in {step_minutes}-minute steps\n"
    )
    with runtime:
        steps = hours * 60 // step_minutes
        for step in range(steps + 1):
            clock.at = START + dt.timedelta(minutes=step * step_minutes)
            for spec in agents:
                run_id = scheduling.slot_run_id(org, spec.id, clock.at)
                if run_id is None or run_id == last_slot.get(spec.id):
                    continue  # no schedule, or this slot already ran
                if orchestrating.crashed(org, spec.id, clock.at):
                    continue  # its process is down (the day's crash): the slot is missed
                last_slot[spec.id] = run_id
                _show(
                    runner.run(spec.id, trigger="schedule", run_id=run_id), clock.at, echo, report
                )
            for wave in range(3):  # answers may prompt answers; settle within the step
                woke = False
                for spec in agents:
                    if orchestrating.crashed(org, spec.id, clock.at):
                        continue
                    if not runtime.bus.has_unread(spec.id):
                        continue
                    woke = True
                    key = f"{clock.at:%Y%m%dT%H%M}-{wave}"
                    run_id = running.run_id_for(spec.id, "message", key=key)
                    _show(
                        runner.run(spec.id, trigger="message", run_id=run_id),
                        clock.at,
                        echo,
                        report,
                    )
                if not woke:
                    break
            _tally(ports.governance, runtime, recorder, clock.at, verdicts, echo)
            for timeout in messenger.expire_requests(clock.at):
                report.timeouts += 1
                echo(
                    f"{clock.at:%H:%M} bus       {timeout.recipient} did not answer "
                    f"{timeout.sender}'s request by {timeout.deadline:%H:%M}: timeout raised"
                )
            _maintainer(ports.governance, org, verdicts, maintainer.login, clock.at, echo)
            watch.step(clock.at, echo)
        report.finished = clock.at
        report.orchestrator = list(watch.lines)
        report.notices = [n.subject for n in watch.notices]
        _summarise(report, ports, runtime, org)
    return report


def prepare(target: Path, *, feed: str | None = None) -> None:
    """A fresh governance repo from the example; a previous demo there is replaced. With
    ``feed``, the CMO follows it through an MCP server (`news`: AITO's rss connector)."""
    if target.exists() and any(target.iterdir()):
        if not (target / MARKER).exists():
            raise ConfigError(
                f"{target} exists and is not a demo directory; choose another --dir "
                "(the demo replaces its directory on every run)"
            )
        managing.down(Settings.from_env({}, repo=target))
        shutil.rmtree(target)
    scaffolding.init(target, example="shiba-classic", git=False)  # committed below
    agent_file = target / "org" / "agents" / f"{TIGHT_BUDGET[0]}.yaml"
    data = yaml.safe_load(agent_file.read_text("utf-8"))
    data["budget"]["daily_tokens"] = TIGHT_BUDGET[1]
    agent_file.write_text(
        f"# demo: a daily budget of {TIGHT_BUDGET[1]} tokens, to show a hard limit\n"
        + yaml.safe_dump(data, sort_keys=False),
        encoding="utf-8",
    )
    if feed is not None:
        follow(target, feed)
    (target / MARKER).write_text("made by `aito demo`; replaced by the next one\n", "utf-8")
    stamp = START - dt.timedelta(hours=1)
    git_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "aito demo",
        "GIT_AUTHOR_EMAIL": "demo@aito.local",
        "GIT_COMMITTER_NAME": "aito demo",
        "GIT_COMMITTER_EMAIL": "demo@aito.local",
        "GIT_AUTHOR_DATE": stamp.isoformat(),
        "GIT_COMMITTER_DATE": stamp.isoformat(),
    }
    if not (target / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=target, check=True, env=git_env)
    for args in (
        ["add", "-A"],
        [
            "commit",
            "-q",
            "-m",
            f"Demo organization (the {TIGHT_BUDGET[0]}'s budget is tight; the CEO's process "
            f"is down {orchestrating.CEO_DOWN[0]:%H:%M}-{orchestrating.CEO_DOWN[1]:%H:%M})",
        ],
    ):
        subprocess.run(["git", *args], cwd=target, check=True, env=git_env, capture_output=True)


def _show(
    outcome: running.RunOutcome, at: dt.datetime, echo: Callable[[str], None], report: Report
) -> None:
    if outcome.repeated:
        return
    report.runs[outcome.status] = report.runs.get(outcome.status, 0) + 1
    if outcome.status == "budget_exhausted":
        report.budget_exhausted.append(f"{at:%H:%M} {outcome.agent_id}")
    if outcome.status == "skipped" or outcome.repeated:
        return
    echo(
        f"{at:%H:%M} {outcome.agent_id:<9} [{outcome.trigger}] {outcome.status}: {outcome.summary}"
    )
    for action in outcome.actions:
        if action.type == "summary":
            continue
        if action.status == "executed":
            echo(f"            ✓ {action.type} {action.ref or ''}".rstrip())
        else:
            echo(f"            ✗ {action.type} {action.status}: {action.reason}")
    for worker in outcome.workers:
        _show(worker, at, echo, report)


def _tally(
    forge: Any,
    runtime: bootstrap.Runtime,
    recorder: recording.ServicesRecorder,
    now: dt.datetime,
    verdicts: dict[int, tuple[str, int, str]],
    echo: Callable[[str], None],
) -> None:
    sweep = sweeping.tally_open(
        forge,
        now=now,
        recorder=recorder,
        lock=lambda decision_id: runtime.bus.lock(keys.decision_lock(decision_id)),
    )
    for problem in sweep.problems:
        echo(f"{now:%H:%M} governance {problem.message}")
    for result in sweep.tallies:
        verdict = result.verdict
        key = (verdict.status.value, verdict.round, verdict.stage.value)
        if verdicts.get(verdict.pr) != key:
            verdicts[verdict.pr] = key
            echo(
                f"{now:%H:%M} governance #{verdict.pr} {verdict.decision_id} "
                f"[{verdict.tier.value}] round {verdict.round} {verdict.stage.value} → "
                f"{verdict.status.value}: {verdict.reason}"
            )


def _maintainer(
    forge: Any,
    org: loading.Organization,
    verdicts: dict[int, tuple[str, int, str]],
    login: str,
    now: dt.datetime,
    echo: Callable[[str], None],
) -> None:
    """The simulated human reviews escalated decisions (approving: the campaign is small)."""
    for number, (status, _round, stage) in sorted(verdicts.items()):
        if stage not in (Stage.ESCALATED.value, Stage.MAINTAINER.value) or status in (
            "approved",
            "rejected",
        ):
            continue
        pull = forge.pull(number)
        if pull.state is not PullState.OPEN:
            continue
        identity = proposing.identity_for(org, login)
        if any(r.user.id == identity.id for r in forge.reviews(number)):
            continue
        proposing.review(
            forge,
            number,
            author=identity,
            vote="approve",
            body="Approved by the maintainer (simulated human): a small, reversible spend.",
        )
        echo(f"{now:%H:%M} human     maintainer {login} (simulated) approves #{number}")


def _summarise(
    report: Report, ports: Any, runtime: bootstrap.Runtime, org: loading.Organization
) -> None:
    forge = ports.governance
    pulls = forge.pulls(state=None)
    report.pull_requests["governance"] = len(pulls)
    report.pull_requests["decisions"] = sum(
        p.head_ref.startswith("aito/decision") or p.title.startswith("Decision") for p in pulls
    )
    report.pull_requests["task records"] = sum(p.head_ref.startswith("aito/tasks/") for p in pulls)
    department = 0
    for key in org.org.repos:
        store = runtime.settings.data_dir / "repos" / f"{key}.forge"
        if store.exists():
            department += len(ports.repo_forge(key).pulls(state=None))
    report.pull_requests["department repos"] = department
    for pull in pulls:
        if not pull.title.startswith("Decision"):
            continue
        try:
            result = applying.tally(forge, pull.number, now=report.finished, apply=False)
        except GovernanceError:
            continue
        v = result.verdict
        report.decisions.append(
            DecisionLine(
                decision_id=v.decision_id,
                pr=v.pr,
                tier=v.tier.value,
                title=result.decision.title,
                status=v.status.value,
                rounds=v.round,
                stage=v.stage.value,
                reason=v.reason,
                decided_by=v.decided_by,
            )
        )
    base = reading.base_organization(forge, forge.default_branch)
    for task in base.tasks.values():
        report.tasks[task.status.value] = report.tasks.get(task.status.value, 0) + 1
    report.messages = len(runtime.memory.events(event_type="bus.sent", limit=100_000))
    for item in runtime.memory.items(kind="initiative", state=None):
        signal = (item.get("details") or {}).get("signal")
        born = f", born from the news ({signal})" if signal else ""
        report.initiatives.append(f"{item['agent_id']}: {item['title']}{born}")
    usd, tokens = runtime.memory.spent(agent_id=None, since=START - dt.timedelta(days=1))
    report.cost_usd, report.tokens = usd, tokens
    report.human_issues = [f"#{i.number} {i.title}" for i in forge.issues(state=None)]


def follow(target: Path, feed: str) -> None:
    """The CMO follows ``feed``: org.yaml's `mcp.servers.news` and the CMO's `mcp_servers`."""
    org_file = target / "org" / "org.yaml"
    news = {"command": ["aito", "mcp", "serve", "rss", "--feed", feed], "domains": ["127.0.0.1"]}
    text = org_file.read_text("utf-8").rstrip("\n")
    org_file.write_text(
        text
        + "\n\n# demo: the CMO follows a local news feed (aito/demo/feeding.py)\n"
        + yaml.safe_dump({"mcp": {"servers": {"news": news}}}, sort_keys=False),
        encoding="utf-8",
    )
    cmo_file = target / "org" / "agents" / "cmo.yaml"
    data = yaml.safe_load(cmo_file.read_text("utf-8"))
    data["mcp_servers"] = ["news"]
    cmo_file.write_text(
        "# demo: follows the news through the `news` MCP server\n"
        + yaml.safe_dump(data, sort_keys=False),
        encoding="utf-8",
    )
