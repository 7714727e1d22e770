"""`aito agent …`: one agent at a time."""

from __future__ import annotations

import datetime as dt

import click

from aito import bootstrap
from aito.cli import charting
from aito.cli.context import emit_json, fail, state
from aito.org import loading
from aito.org.agents import Layer

HEARTBEAT_TTL_FACTOR = 3  # a status older than three intervals has expired


@click.group()
def agent() -> None:
    """Inspect and wake agents."""


@agent.command("show")
@click.argument("agent_id")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def show(ctx: click.Context, agent_id: str, as_json: bool) -> None:
    """Show one agent's definition: schedule, budget, git access, authority, profile."""
    org = loading.load_valid(state(ctx).settings().repo)
    if agent_id not in org.agents:
        fail(f"no agent {agent_id!r}; agents: {', '.join(sorted(org.agents))}", code=2)
    spec = org.agents[agent_id]
    summary = charting.agent_summary(org, spec)
    summary["authority"] = spec.authority.model_dump(mode="json")
    summary["profile"] = spec.profile
    if as_json:
        emit_json(summary)
        return
    for key, value in summary.items():
        click.echo(f"{key:12} {value}")


@agent.command("run")
@click.argument("agent_id")
@click.option(
    "--trigger",
    default="manual",
    show_default=True,
    help="What woke the agent: schedule, workflow_dispatch, repository_dispatch, message, manual.",
)
@click.option(
    "--run-id",
    default=None,
    help="Names this wake-up; the same id is recorded once. Default: from $GITHUB_RUN_ID, "
    "else the agent, trigger and current minute.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def run(ctx: click.Context, agent_id: str, trigger: str, run_id: str | None, as_json: bool) -> None:
    """Wake an agent once (what each generated workflow runs).

    This release records the wake-up (an `agent.woke` event in Postgres, the
    heartbeat in Redis at agent:status:<id>); the agent loop that thinks and
    acts is built on top of it.
    """
    settings = state(ctx).settings()
    org = loading.load_valid(settings.repo)
    if agent_id not in org.agents:
        fail(f"no agent {agent_id!r}; agents: {', '.join(sorted(org.agents))}", code=2)
    if org.agents[agent_id].layer is Layer.WORKER:
        fail(
            f"{agent_id} is a worker kind: workers are spawned by their C-level, not woken", code=2
        )
    now = dt.datetime.now(dt.UTC)
    if run_id is None:
        run_id = (
            f"{agent_id}:gh-{settings.github_run_id}"
            if settings.github_run_id
            else f"{agent_id}:{trigger}:{now:%Y%m%dT%H%M}"
        )
    runtime = bootstrap.build(settings, org=org)  # schema and agents in place
    try:
        first = runtime.memory.record_wake(
            agent_id=agent_id, run_id=run_id, trigger=trigger, at=now
        )
        schedule = org.schedule(agent_id)
        interval = schedule.interval_seconds if schedule and schedule.interval_seconds else 3600
        runtime.bus.heartbeat(
            agent_id=agent_id,
            status="idle",
            run_id=run_id,
            at=now,
            ttl_seconds=interval * HEARTBEAT_TTL_FACTOR,
        )
    finally:
        runtime.close()
    result = {"agent": agent_id, "run_id": run_id, "trigger": trigger, "recorded": first}
    if as_json:
        emit_json(result)
        return
    if first:
        click.echo(
            f"{agent_id} woke (trigger {trigger}, run {run_id}): wake-up and heartbeat recorded"
        )
    else:
        click.echo(f"{agent_id}: run {run_id} was already recorded; nothing done twice")
