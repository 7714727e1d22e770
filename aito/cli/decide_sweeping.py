"""The sweep behind `aito decide tally` and `status`: which pull request is a decision,
tallying and applying through `aito.decisions.sweeping.tally_open` with the services
up once, settling task record pull requests (`aito.agent.task_settling`), and how a
verdict is printed."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Collection

import click

from aito import bootstrap
from aito.agent import task_settling
from aito.bus import keys
from aito.cli import context
from aito.cli.context import progress
from aito.decisions import applying, reading, recording, sweeping
from aito.errors import AitoError, GovernanceError, PermanentAdapterError
from aito.forge.base import Forge, PullRequest
from aito.org import loading
from aito.settings import Settings


def decision_pull(forge: Forge, number: int) -> PullRequest:
    """Pull request ``number`` if it is a decision; GovernanceError (exit 4) if there is
    no such pull request or it is not a decision."""
    try:
        pull = forge.pull(number)
    except PermanentAdapterError as exc:
        # A missing pull request is the user's mistake, not a forge failure; anything
        # else (a rejected token, …) fails the listing below the same way and stays exit 6.
        if all(p.number != number for p in forge.pulls(state=None)):
            raise GovernanceError(
                f"no pull request #{number}; `aito decide status --all` lists the decisions"
            ) from exc
        raise
    reading.decision_of(forge, pull)
    return pull


def is_task(forge: Forge, number: int) -> bool:
    """False for a decision pull request, True for a task record's; GovernanceError (the
    decision's own, exit 4) for anything else."""
    try:
        decision_pull(forge, number)
    except GovernanceError as exc:
        try:
            pull = forge.pull(number)
            task = task_settling.is_task_pull(forge, pull, forge.file_changes(number))
        except AitoError:
            raise exc from None
        if not task:
            raise
        return True
    return False


def settle_tasks(
    settings: Settings,
    org: loading.Organization,
    forge: Forge,
    numbers: list[int] | None,
    *,
    apply: bool,
    decisions: Collection[int] = (),
) -> tuple[list[task_settling.Settled], list[sweeping.Problem]]:
    """Settle the open task record pull requests (or ``numbers``); the assignee of a merged
    new task is woken through the bus's waker (services started only then)."""
    with contextlib.ExitStack() as stack:
        wired: list[bootstrap.Runtime] = []

        def wake(agent_id: str, reason: str) -> None:
            try:
                if not wired:
                    runtime = stack.enter_context(context.runtime(settings, org=org))
                    runtime.bus.waker = bootstrap.waker(settings, runtime, org, forge)
                    wired.append(runtime)
                wired[0].bus.waker.wake([agent_id], reason=reason, source="task", sender=None)
            except AitoError as exc:  # the creator's message already woke it (or will)
                click.echo(f"⚠ {agent_id} not woken: {exc}", err=True)

        return task_settling.settle_open(
            forge, apply=apply, numbers=numbers, wake=wake if apply else None, decisions=decisions
        )


def tally_and_settle(
    settings: Settings,
    org: loading.Organization,
    forge: Forge,
    pr: int | None,
    *,
    now: dt.datetime,
    apply: bool,
) -> tuple[sweeping.Sweep, list[task_settling.Settled]]:
    """`aito decide tally`: pull request ``pr`` (a decision or a task record) or, with
    None, every open decision and task record; the problems of both in the sweep."""
    task = pr is not None and is_task(forge, pr)
    decisions = [] if task else only(pr)
    if apply:
        swept = sweep(settings, org, forge, decisions, now=now)
    else:
        swept = sweeping.tally_open(forge, now=now, apply=False, numbers=decisions)
    tasks, unsettled = settle_tasks(
        settings,
        org,
        forge,
        None if pr is None else [pr] if task else [],
        apply=apply,
        decisions=[t.verdict.pr for t in swept.tallies],
    )
    return sweeping.Sweep(swept.tallies, swept.problems + unsettled), tasks


def report(
    swept: sweeping.Sweep, tasks: list[task_settling.Settled], *, single: bool, as_json: bool
) -> None:
    """What `aito decide tally` did, decisions then task records; exits non-zero (the worst
    code) if a pull request could not be read or tallied. A refused task is no failure."""
    results = results_of(swept, single=single)
    entries = [{"kind": "decision"} | r.as_json() for r in results] + [t.as_json() for t in tasks]
    if as_json:
        context.emit_json(entries[0] if single else entries)
    else:
        for result in results:
            show(result, show_changes=True)
        for settled in tasks:
            show_task(settled)
    fail_on(swept)


def show_task(settled: task_settling.Settled) -> None:
    what = settled.outcome + (" and closed" if settled.closed else "")
    click.echo(f"#{settled.pr} task {settled.task or '?'} [{settled.author}] {what}")
    click.echo(f"  {settled.reason}")


def only(pr: int | None) -> list[int] | None:
    return None if pr is None else [pr]


def tally_one(
    settings: Settings,
    org: loading.Organization,
    forge: Forge,
    number: int,
    *,
    now: dt.datetime,
    runtime: bootstrap.Runtime | None = None,
) -> applying.Tally:
    swept = sweep(settings, org, forge, [number], now=now, runtime=runtime)
    return results_of(swept, single=True)[0]


def sweep(
    settings: Settings,
    org: loading.Organization,
    forge: Forge,
    numbers: list[int] | None,
    *,
    now: dt.datetime,
    runtime: bootstrap.Runtime | None = None,
) -> sweeping.Sweep:
    """Tally and apply ``numbers`` (None: every open decision); services started once
    (or ``runtime``'s used)."""
    if numbers is None:
        numbers = sweeping.open_decisions(forge)
    if not numbers:
        return sweeping.Sweep([], [])
    with contextlib.ExitStack() as stack:
        wired = runtime or stack.enter_context(context.runtime(settings, org=org))
        wired.bus.waker = bootstrap.waker(settings, wired, org, forge)  # results wake agents
        return sweeping.tally_open(
            forge,
            now=now,
            numbers=numbers,
            recorder=recording.ServicesRecorder(memory=wired.memory, bus=wired.bus),
            lock=lambda decision_id: wired.bus.lock(keys.decision_lock(decision_id)),
            progress=lambda number: progress(f"tallying #{number} …"),
        )


def results_of(sweep: sweeping.Sweep, *, single: bool) -> list[applying.Tally]:
    """The tallies; one pull request asked for by number fails with its own error."""
    if single and sweep.problems:
        raise sweep.problems[0].error
    return sweep.tallies


def fail_on(sweep: sweeping.Sweep) -> None:
    """Each decision that could not be tallied, on stderr; exit with the worst code."""
    for problem in sweep.problems:
        click.echo(f"⚠ {problem.message}", err=True)
    if sweep.problems:
        raise SystemExit(max(p.error.exit_code for p in sweep.problems))


def show(result: applying.Tally, *, show_changes: bool, show_rounds: bool = False) -> None:
    data = result.as_json()
    votes = ", ".join(f"{a}: {v or '—'}" for a, v in data["votes"].items())  # type: ignore[attr-defined]
    click.echo(
        f"#{data['pr']} {data['decision_id']} [{data['tier']}] {data['status']} · "
        f"round {data['round']} ({data['stage']})"
    )
    click.echo(f"  {data['reason']}")
    if votes:
        click.echo(f"  votes: {votes}")
    if data["missing"]:
        click.echo(f"  missing: {', '.join(data['missing'])}")  # type: ignore[arg-type]
    if data["deadline"]:
        click.echo(f"  deadline: {data['deadline']}")
    if show_rounds:
        for outcome in result.verdict.rounds:
            cast = ", ".join(f"{a}: {v.value}" for a, v in outcome.votes.items()) or "no votes"
            answered = f"; analysis from {', '.join(outcome.analysis)}" if outcome.analysis else ""
            click.echo(f"  round {outcome.round} ({outcome.stage.value}): {cast}{answered}")
    verdict = result.verdict
    if verdict.human_decision is not None:
        via = f" by {verdict.decided_via.value}" if verdict.decided_via else ""
        when = f" at {verdict.decided_at.isoformat()}" if verdict.decided_at else ""
        click.echo(
            f"  human decision: {verdict.human_decision.value}, {verdict.decided_by}{via}{when}"
        )
    if verdict.violation is not None:
        click.echo(f"  ⚠ violation: {verdict.violation}")
    for problem in result.problems:
        click.echo(f"  ⚠ {problem}")
    if show_changes:
        click.echo(
            f"  applied: {', '.join(result.changes) if result.changes else 'nothing to change'}"
        )
