"""`aito agent …`: one agent at a time."""

from __future__ import annotations

import datetime as dt
import functools
import signal
import sys
import threading

import click

from aito import bootstrap
from aito.agent import replaying, running, scheduling
from aito.cli import charting, context, types
from aito.cli.context import emit_json, fail, progress, state
from aito.org import loading
from aito.settings import Settings
from aito.views import runs as views_runs

SIMULATED_PROVIDERS = views_runs.SIMULATED_PROVIDERS


@click.group()
def agent() -> None:
    """Inspect and wake agents."""


@agent.command("show")
@click.argument("agent_id", type=types.Agent())
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def show(ctx: click.Context, agent_id: str, as_json: bool) -> None:
    """Show one agent's definition: schedule, budget, git access, authority, profile."""
    org = state(ctx).organization()
    spec = org.agents[agent_id]
    summary = charting.agent_summary(org, spec)
    summary["authority"] = spec.authority.model_dump(mode="json")
    summary["profile"] = spec.profile
    if as_json:
        emit_json(summary)
        return
    for line in charting.describe_agent(summary):
        click.echo(line)


RUN_EXIT_CODES = {
    "completed": 0,
    "skipped": 0,
    "failed": 1,
    "stopped": 8,
    "budget_exhausted": 9,
    "timed_out": 10,
    "oom_killed": 11,
}
"""`aito agent run` exit codes: 0 done or nothing to do; 1 the model's answer was
invalid twice or the model was unreachable; 8 stopped as a loop (escalated); 9 a
budget limit refused the model call (the CFO agent and the humans were told); 10 its
container ran past the agent's timeout, 11 out of its memory limit (both killed)."""


@agent.command("run")
@click.argument("agent_id", type=types.Agent(workers=False), required=False)
@click.option(
    "--all",
    "run_all",
    is_flag=True,
    help="Every agent whose schedule slot is due, each named after its slot "
    "(not with --run-id, --force or --trigger).",
)
@click.option(
    "--trigger",
    type=click.Choice(
        ["schedule", "workflow_dispatch", "repository_dispatch", "message", "manual"]
    ),
    default="manual",
    show_default=True,
    help="What woke the agent. `schedule` names the run after the schedule slot, so a "
    "slot runs once however often it is started.",
)
@click.option(
    "--run-id",
    type=types.Name(),
    default=None,
    help="Names this wake-up; a run id that already ran is reported, not run again. "
    "Default: the schedule slot; else $GITHUB_RUN_ID; else the trigger and minute.",
)
@click.option("--force", is_flag=True, help="Think even if nothing changed since the last run.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write nothing to the world: each write through an MCP server is recorded as a "
    "`world.would_write` event instead (as AITO_DRY_RUN=1; org.yaml `mcp.dry_run` for all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def run(
    ctx: click.Context,
    agent_id: str | None,
    run_all: bool,
    trigger: str,
    run_id: str | None,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Wake an agent once: what each generated workflow runs.

    One wake-up: read its world (inbox, tasks, decisions awaiting it, results of
    its earlier actions, verified facts, budget), skip if nothing changed, ask
    the model (Anthropic with ANTHROPIC_API_KEY, else the offline model), check
    every action against the agent's definition in code, execute what passes
    exactly once, remember. Exit codes: 0 completed or skipped, 1 failed,
    2 an unknown agent or a worker kind, 3 configuration (a missing secret, a
    token or permission the agent's App lacks), 8 stopped as a loop, 9 budget
    exhausted, 10 timed out, 11 out of memory (its container was killed).

    \b
    With AITO_RUNTIME=docker (what the generated workflows use on runners) this
    command is a launcher: it starts the wake-up in a container of AITO_IMAGE
    (limits, labels and timeout from the org files; read-only root, no
    capabilities, non-root), serves it model calls through a gateway socket (the
    model key and the budget stay here) and records the container's logs with the
    run. Containers a killed launcher left are removed first; the run resumes.

    \b
    Checked first, before any model call: under GitHub Actions (GITHUB_ACTIONS=true)
    no offline model, local forge or embedded Postgres/Redis unless
    AITO_ALLOW_OFFLINE=1; on GitHub the agent's own App token (AITO_APP_ID_<AGENT>,
    AITO_APP_KEY_<AGENT>) with contents, pull_requests and issues: write.
    """
    if run_all == bool(agent_id):
        raise click.UsageError("name one AGENT_ID, or use --all")
    if run_all and (run_id is not None or force or trigger != "manual"):
        # --all wakes each agent's current schedule slot, named after it: nothing to name,
        # force or re-trigger (silently ignoring them would let a user think they applied)
        raise click.UsageError(
            "--run-id, --force and --trigger wake one agent; --all runs each agent's due "
            "schedule slot as it is"
        )
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    if dry_run:
        settings = settings.model_copy(update={"dry_run": True})
    context.refuse_source_checkout(settings)
    org = cli_state.organization()
    acting = [agent_id] if agent_id else scheduling.looping_agents(org)
    # Before any service starts or model is called: secrets, tokens and their permissions.
    tokens = bootstrap.preflight_agents(settings, org, acting)
    with context.runtime(settings, org=org) as runtime:
        fixed = settings.fixed_now
        clock = (lambda: fixed) if fixed is not None else None
        ports = bootstrap.loop_ports(settings, runtime, org, tokens=tokens, clock=clock)
        runner = bootstrap.wake_runner(settings, runtime, org, ports, tokens=tokens)
        now = ports.clock()
        if run_all:
            outcomes = scheduling.run_due(runner, org, now=now)
        else:
            assert agent_id is not None
            chosen = run_id or _default_run_id(settings, org, agent_id, trigger, now)
            outcomes = [runner.run(agent_id, trigger=trigger, run_id=chosen, force=force)]
    simulated = settings.model_provider in SIMULATED_PROVIDERS
    if as_json:
        found = [{**o.as_json(), "simulated": simulated} for o in outcomes]
        emit_json(found if run_all else found[0])
    else:
        for outcome in outcomes:
            _print_outcome(outcome, simulated=simulated)
    worst = max((RUN_EXIT_CODES.get(o.status, 1) for o in outcomes), default=0)
    if worst:
        sys.exit(worst)


@agent.command("daemon")
@click.argument("agent_id", type=types.Agent(workers=False))
@click.option(
    "--poll-seconds",
    type=types.Seconds(0.1, 60),
    default=2.0,
    show_default=True,
    help="Re-check the schedule at least this often while waiting for messages.",
)
@click.pass_context
def daemon(ctx: click.Context, agent_id: str, poll_seconds: float) -> None:
    """Run one agent forever: on its schedule, and whenever a message arrives.

    Waits on the agent's Redis stream (pub/sub nudges wake it at once), drains its
    inbox run by run, and stops cleanly on SIGTERM or Ctrl-C after the run in
    progress.
    """
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    context.refuse_source_checkout(settings)
    org = cli_state.organization()
    tokens = bootstrap.preflight_agents(settings, org, [agent_id])
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with context.runtime(settings, org=org, pool_size=2) as runtime:
        ports = bootstrap.loop_ports(settings, runtime, org, tokens=tokens)
        served = scheduling.Daemon(
            runner=bootstrap.wake_runner(settings, runtime, org, ports, tokens=tokens),
            org=org,
            agent_id=agent_id,
            stop=stop,
            poll_seconds=poll_seconds,
            on_run=functools.partial(
                _print_outcome, simulated=settings.model_provider in SIMULATED_PROVIDERS
            ),
        )
        progress(f"{agent_id}: daemon started (SIGTERM or Ctrl-C stops it)")
        count = served.serve()
    progress(f"{agent_id}: daemon stopped after {count} run(s)")


@agent.command("runs")
@click.option(
    "--agent", "agent_id", type=types.Agent(), default=None, help="Only this agent's runs."
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="At most this many runs (1-1000).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@click.pass_context
def runs(ctx: click.Context, agent_id: str | None, limit: int, as_json: bool) -> None:
    """Recent wake-ups, newest first: status, summary, tokens and cost.

    A run thought by the offline model (or replayed) spent nothing: its cost is
    simulated (priced as the agent's model, so budgets work offline) and marked so
    (`simulated: true` in --json).
    """
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    with context.runtime(settings, org=org) as runtime:
        found = [
            run.model_dump()
            for run in views_runs.recent(runtime.memory, agent_id=agent_id, limit=limit).items
        ]
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo("no runs recorded")
    for row in found:
        cost = f"${float(row['cost_usd'] or 0):.4f}"
        if row["simulated"]:
            cost += " simulated"
        click.echo(
            f"{row['started_at']:%Y-%m-%d %H:%M} {row['agent_id']:<14} {row['status']:<16} "
            f"{cost:<18} {row['run_id']}\n    {row['summary'] or ''}"
        )
    if any(row["simulated"] for row in found):
        click.echo("simulated: thought by the offline model; no money was spent", err=True)


@agent.command("logs")
@click.argument("run_id", type=types.Name())
@click.option("--json", "as_json", is_flag=True, help="Print the container's record as JSON.")
@click.pass_context
def logs(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """How a run's container ended, and the end of what it printed.

    Every wake-up run in a container (AITO_RUNTIME=docker) and every sandboxed worker
    keeps its container's record with the run: name, image, limits, network, exit
    status (exited, timed_out, oom_killed, killed) and code, seconds, and the last
    64,000 characters of its output. Exit 2 if there is no such run, 1 if it ran
    without a container.
    """
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    with context.runtime(settings, org=org) as runtime:
        record = runtime.memory.run_record(run_id)
    if record is None:
        fail(f"no run {run_id!r}; `aito agent runs` lists them", code=2)
        return
    container = record.get("container")
    if container is None:
        fail(f"run {run_id} ran in-process: it has no container", code=1)
        return
    if as_json:
        emit_json({"run_id": run_id, "status": record["status"], "container": container})
        return
    click.echo(
        f"run {run_id} ({record['agent_id']}, {record['status']}) in {container['name']} "
        f"({container['image']}): {container['status']}, exit code {container['exit_code']}, "
        f"{container['seconds']} s"
    )
    click.echo(
        f"limits: memory {container['memory']}, cpus {container['cpus']}, pids "
        f"{container['pids']}, network {container['network']}, timeout "
        f"{container['timeout_seconds']:.0f} s"
    )
    click.echo(container.get("logs") or "(no output)")


@agent.command("tools")
@click.argument("run_id", type=types.Name())
@click.option("--json", "as_json", is_flag=True, help="Print the calls as JSON.")
@click.pass_context
def tools(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """The MCP tool calls a run made while it read, in order.

    Each call is recorded as it is made: the server and tool, a digest of its arguments
    (not the arguments), how long it took, how much it returned, and its error. Exit 2
    if there is no such run.
    """
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    with context.runtime(settings, org=org) as runtime:
        record = runtime.memory.run_record(run_id)
        found = runtime.memory.events(event_type="tool.called", run_id=run_id, limit=1000)
    if record is None:
        fail(f"no run {run_id!r}; `aito agent runs` lists them", code=2)
        return
    made = [
        {**event["payload"], "at": event["created_at"].isoformat()} for event in reversed(found)
    ]
    if as_json:
        emit_json({"run_id": run_id, "calls": made})
        return
    if not made:
        click.echo(f"run {run_id} called no tool")
    for call in made:
        result = f"error: {call['error']}" if call["error"] else f"{call['result_chars']} chars"
        click.echo(
            f"{call['at']} {call['server']}.{call['tool']} "
            f"args {call['arguments_sha256']} {call['duration_ms']:.0f} ms → {result}"
        )


@agent.command("replay")
@click.argument("run_id", type=types.Name())
@click.option("--json", "as_json", is_flag=True, help="Print the replay as JSON.")
@click.pass_context
def replay_run(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """Reproduce a run from its recording: the same requests get the same answers.

    Every model exchange of the run was saved before any action ran; replaying feeds
    each recorded request to the replay model, checks the answer is identical,
    validates it against the action schema again, and shows what each action did.
    Exit 1 if the recording does not reproduce.
    """
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    with context.runtime(settings, org=org) as runtime:
        record = runtime.memory.run_record(run_id)
        done = runtime.memory.actions_of(run_id) if record else {}
    if record is None:
        fail(f"no run {run_id!r}; `aito agent runs` lists them", code=2)
        return
    result = replaying.reproduce(record, done)
    if as_json:
        emit_json(result)
    else:
        click.echo(f"run {run_id} ({record['agent_id']}, {record['status']}): {result['verdict']}")
        for call in result["calls"]:
            click.echo(f"  call {call['index']}: {call['outcome']}")
        for action in result["actions"]:
            click.echo(
                f"  {action['position']}. {action['type']} → {action['status']}"
                + (f" ({action['reason']})" if action.get("reason") else "")
                + (f" [{action['ref']}]" if action.get("ref") else "")
            )
    if not result["reproduced"]:
        sys.exit(1)


def _default_run_id(
    settings: Settings, org: loading.Organization, agent_id: str, trigger: str, now: dt.datetime
) -> str:
    if trigger == "schedule":
        slot = scheduling.slot_run_id(org, agent_id, now)
        if slot is not None:
            return slot
    if settings.github_run_id:
        return running.run_id_for(agent_id, trigger, key=f"gh-{settings.github_run_id}")
    return running.run_id_for(agent_id, trigger, key=f"{now:%Y%m%dT%H%M}")


def _print_outcome(outcome: running.RunOutcome, *, simulated: bool = False) -> None:
    for earlier in outcome.resumed:
        click.echo(f"{earlier.agent_id}: finishing {earlier.run_id}, which died unfinished")
        _print_outcome(earlier, simulated=simulated)
    if outcome.repeated:
        click.echo(
            f"{outcome.agent_id}: run {outcome.run_id} already ran ({outcome.status}); "
            "nothing done twice"
        )
        return
    click.echo(f"{outcome.agent_id} [{outcome.run_id}] {outcome.status}: {outcome.summary}")
    for action in outcome.actions:
        if action.type == "summary":
            continue
        mark = "✓" if action.status == "executed" else "✗"
        detail = action.ref if action.status == "executed" else f"{action.status}: {action.reason}"
        click.echo(f"  {mark} {action.type} {detail or ''}".rstrip())
    if outcome.usage.total:
        label = " simulated (offline model: no money spent)" if simulated else ""
        click.echo(f"  tokens {outcome.usage.total:,}, cost ${outcome.cost_usd:.4f}{label}")
    for worker in outcome.workers:
        _print_outcome(worker, simulated=simulated)
