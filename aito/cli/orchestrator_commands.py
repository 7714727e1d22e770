"""`aito orchestrator`: keep the organization healthy (observe → plan → apply)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import signal
import threading
from typing import Any

import click

from aito import bootstrap
from aito.agent import delegating
from aito.cli import context
from aito.cli.context import emit_json, progress, state
from aito.forge import github_apps_manifest as manifest
from aito.notify import base as notify_base
from aito.notify import fanout
from aito.org import loading
from aito.org.channels import Severity
from aito.reconcile import (
    applying,
    looping,
    metrics,
    observed,
    observing,
    planning,
    steps,
    working,
)
from aito.runtime import launching
from aito.settings import Settings

log = logging.getLogger(__name__)


@click.group(invoke_without_command=True)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (/metrics): runs by outcome, model tokens "
    "and cost, bus length and pending, heartbeat age, decisions, containers, steps, "
    "notifications, restarts.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="The address the metrics endpoint listens on.",
)
@click.pass_context
def orchestrator(ctx: click.Context, metrics_port: int | None, metrics_host: str) -> None:
    """Keep the organization healthy until stopped (SIGTERM or Ctrl-C).

    Every `orchestrator.interval_seconds` (org.yaml) one pass observes (heartbeats,
    containers, open decisions and their deadlines, what needs a human), plans (a pure
    function of what it saw) and applies each step once: restarts an agent that missed
    its schedule (within `orchestrator.restart_budget`, then marks it error and tells
    the humans once), gives the DAO the temporary lead while the CEO is in error and
    back when it recovers, tallies decisions whose round deadline passed, removes
    containers a dead launcher left, and notifies each cause needing a human once.
    `aito orchestrator status` shows what it sees and would do next.
    """
    if ctx.invoked_subcommand is not None:
        return
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with context.runtime(settings, org=org, pool_size=2) as wired:
        served = _orchestrator(settings, wired, org)
        if metrics_port is not None:
            served.metrics = metrics.Metrics()
            served.metrics.serve(metrics_port, host=metrics_host)
            progress(f"metrics on http://{metrics_host}:{metrics_port}/metrics")
        progress(f"orchestrator started for {org.org.name!r} (SIGTERM or Ctrl-C stops it)")
        count = served.serve(stop, on_pass=_print_pass)
    progress(f"orchestrator stopped after {count} pass(es)")


@orchestrator.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print what it sees and plans as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """What the orchestrator sees now, and the steps its next pass would apply."""
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    with context.runtime(settings, org=org) as wired:
        now, seen, planned = _orchestrator(settings, wired, org).look()
    report = _report(org, now, seen, planned)
    if as_json:
        emit_json(report)
        return
    click.echo(f"at {now:%Y-%m-%d %H:%M} UTC; lead: {seen.lead}")
    for agent in report["agents"]:
        flag = "error" if agent["error_since"] else ("ok" if agent["healthy"] else "down")
        click.echo(
            f"  {agent['id']:<14} {flag:<6} last heartbeat {agent['last_heartbeat'] or '-'}"
            f" · restarts {agent['restarts']}"
        )
    click.echo(
        f"open decisions: {len(seen.decisions)}; containers: {len(seen.containers)}; "
        f"worker requests waiting: {len(seen.worker_requests)}, "
        f"running: {sum(seen.workers_running.values())}"
    )
    if not planned:
        click.echo("next pass: nothing to do")
    for step in report["next"]:
        click.echo(f"next: {step['step']} {step['key']}")


def _orchestrator(
    settings: Settings, wired: bootstrap.Runtime, org: loading.Organization
) -> looping.Orchestrator:
    ports = bootstrap.loop_ports(settings, wired, org)
    sources = observing.Sources(
        bus=wired.bus,
        memory=wired.memory,
        forge=ports.governance,
        runtime=bootstrap.containers(settings) if settings.runtime == "docker" else None,
        web_url=manifest.web_url(settings.github_api_url) if settings.forge == "github" else None,
    )
    waking = bootstrap.wake_runner(settings, wired, org, ports, tokens={})

    def wake(agent_id: str, run_id: str) -> None:
        if settings.forge == "github":  # GitHub runs it: a repository_dispatch
            wired.bus.waker.wake([agent_id], reason="restart", source="orchestrator", sender=None)
            return
        outcome = waking.run(agent_id, trigger="restart", run_id=run_id)
        log.info("orchestrator: restarted %s: %s", agent_id, outcome.status)

    channels = fanout.notifiers(settings, org)  # a channel without its secret: exit 3

    def send(notice: steps.Notify) -> None:
        log.warning("notice [%s] %s: %s", notice.severity, notice.subject, notice.link or "")
        sent = fanout.send_all(
            channels,
            notify_base.Notification(
                subject=notice.subject[: notify_base.SUBJECT_MAX],
                cause=notice.cause[:500],
                body=notice.body,
                link=notice.link,
                severity=Severity(notice.severity),
            ),
        )
        failed = [error for _, error in sent if error is not None]
        if sent and len(failed) == len(sent):  # nobody told: the next pass tries again
            raise failed[0]
        for name, error in sent:
            if error is not None:  # told elsewhere: not sent twice to the others
                log.warning("notice %s: channel %s failed: %s", notice.cause, name, error)

    launcher = waking if isinstance(waking, launching.Launcher) else None
    daemons = launcher is not None and org.org.orchestrator.wake == "daemon"

    def worker_done(requester: str) -> None:  # on GitHub its result wakes it
        waker = wired.bus.waker
        waker.wake([requester], reason="worker_result", source="orchestrator", sender=None)

    workers = working.QueuedWorkers(
        delegating.Delegation(wired.bus.worker_queue(), wired.memory, ports.clock),
        spawn=launcher.workers() if launcher else bootstrap.worker_spawn(settings, ports),
        done=worker_done,
    )
    applier = applying.Applier(
        sources=sources,
        wake=wake,
        send=send,
        start_daemon=launcher.start_daemon if launcher is not None and daemons else None,
        workers=workers,
    )
    return looping.Orchestrator(org, sources, applier, clock=ports.clock, launcher=launcher)


def _report(
    org: loading.Organization, now: dt.datetime, seen: observed.Observed, planned: list[steps.Step]
) -> dict[str, Any]:
    return {
        "at": now.isoformat(),
        "lead": seen.lead,
        "agents": [
            {
                "id": a.id,
                "healthy": not planning.down(org, a, now),
                "last_heartbeat": a.last_heartbeat.isoformat() if a.last_heartbeat else None,
                "restarts": len(a.restarts),
                "error_since": a.error_since.isoformat() if a.error_since else None,
            }
            for a in seen.agents.values()
        ],
        "decisions": len(seen.decisions),
        "containers": len(seen.containers),
        "workers": {
            "waiting": [
                {"request": w.id, "requester": w.parent, "kind": w.kind, "task": w.task}
                for w in seen.worker_requests
            ],
            "running": dict(sorted(seen.workers_running.items())),
        },
        "next": [{"step": type(s).__name__, "key": s.key, **_fields(s)} for s in planned],
    }


def _fields(step: steps.Step) -> dict[str, Any]:
    return {
        k: v.isoformat() if hasattr(v, "isoformat") else v
        for k, v in dataclasses.asdict(step).items()
    }


def _print_pass(done: looping.Pass) -> None:
    for item in done.applied:
        mark = "✓" if item.error is None else f"✗ {item.error}"
        click.echo(f"{done.at:%H:%M:%S} {type(item.step).__name__} {item.step.key} {mark}")
