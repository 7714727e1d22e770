"""The sweep behind `aito decide tally` and `status`: which pull request is a decision,
tallying and applying through `aito.decisions.sweeping.tally_open` with the services
up once, and how a verdict is printed."""

from __future__ import annotations

import contextlib
import datetime as dt

import click

from aito import bootstrap
from aito.bus import keys
from aito.cli import context
from aito.cli.context import progress
from aito.decisions import applying, reading, recording, sweeping
from aito.errors import GovernanceError, PermanentAdapterError
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
