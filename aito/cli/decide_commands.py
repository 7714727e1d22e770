"""`aito decide …`: decisions as pull requests, votes as reviews, verdicts by tally."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import click

from aito import bootstrap
from aito.bus import keys
from aito.cli.context import emit_json, progress, state
from aito.decisions import applying, proposing, recording, sweeping
from aito.forge.base import Forge
from aito.org import loading
from aito.org.organization import Tier
from aito.settings import Settings

JSON_FIELDS = (
    "pr, decision_id, title, proposed_by, tier, status, stage, round, votes {agent: "
    "approve|veto|abstain|null}, missing [...], deadline, head_sha, reason, held, "
    "human_decision, decided_by, labels, check {state, description}, changes, problems"
)


@click.group()
def decide() -> None:
    """Decisions as pull requests: propose, review (vote), tally, hold.

    \b
    A proposal is a pull request adding org/decisions/<id>.yaml plus the files it
    authorises; merging it executes the decision. Votes are PR reviews by the
    voters' bot accounts (approve, request changes = veto, a comment review starting
    with "abstain"); `tally` recomputes the verdict from the whole history and
    applies it (labels, the aito/decision status, one tally comment, merge/close,
    escalation to the maintainers). The forge is the local git repo (default) or
    GitHub (AITO_FORGE=github).

    \b
    Exit codes: 0 done · 4 not a decision / illegal request · 5 not allowed
    (e.g. a tier below the proposer's authority) · 6 forge or service failure.
    """


@contextlib.contextmanager
def _session(ctx: click.Context) -> Iterator[tuple[Settings, loading.Organization, Forge]]:
    settings = state(ctx).settings()
    org = loading.load_valid(settings.repo)
    yield settings, org, bootstrap.forge(settings, org)


def _now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


NOW_OPTION = click.option(
    "--now",
    "now_text",
    metavar="ISO-TIME",
    default=None,
    help="Judge as of this time (default: now); for dry runs and what-ifs.",
)


@decide.command("propose")
@click.option("--as", "proposer", required=True, help="The proposing agent (its bot opens the PR).")
@click.option(
    "--tier",
    type=click.Choice([t.value for t in Tier]),
    required=True,
    help="operational, minor, major or critical; refused if below what the change needs.",
)
@click.option("--title", required=True)
@click.option("--body", default=None, help="The rationale (or --body-file).")
@click.option(
    "--body-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the rationale from this file.",
)
@click.option(
    "--file",
    "carried",
    multiple=True,
    metavar="REPO_PATH=LOCAL_FILE",
    help="A file the decision authorises, carried in its PR (repeatable).",
)
@click.option(
    "--amount",
    "amount_usd",
    type=float,
    default=0.0,
    show_default=True,
    help="USD the decision commits; with the proposer's limits it sets the minimum tier.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision and PR as JSON.")
@NOW_OPTION
@click.pass_context
def propose(
    ctx: click.Context,
    proposer: str,
    tier: str,
    title: str,
    body: str | None,
    body_file: Path | None,
    carried: tuple[str, ...],
    amount_usd: float,
    as_json: bool,
    now_text: str | None,
) -> None:
    """Open a decision PR; prints its number."""
    rationale = body_file.read_text(encoding="utf-8") if body_file else (body or "")
    files: dict[str, bytes] = {}
    for item in carried:
        target, sep, source = item.partition("=")
        if not sep or not target or not source:
            raise click.BadParameter(f"{item!r}: write REPO_PATH=LOCAL_FILE", param_hint="--file")
        files[target] = Path(source).read_bytes()
    now = _now(now_text)
    with _session(ctx) as (settings, org, forge):
        decision, pull = proposing.propose(
            forge,
            org=org,
            proposer=proposer,
            tier=Tier(tier),
            title=title,
            body=rationale,
            files=files,
            amount_usd=amount_usd,
            now=now,
        )
        result = _tally(settings, org, forge, pull.number, now=now)
    if as_json:
        emit_json(
            {
                "pr": pull.number,
                "decision_id": decision.id,
                "branch": pull.head_ref,
                "url": pull.url,
                "tally": result.as_json(),
            }
        )
        return
    click.echo(f"#{pull.number} {decision.id}: {result.verdict.reason}")


@decide.command("review")
@click.argument("pr", type=int)
@click.option(
    "--as", "who", required=True, help="An agent id (reviews as its bot) or a maintainer's login."
)
@click.option("--approve", "vote", flag_value="approve", help="Approve the current head.")
@click.option("--veto", "vote", flag_value="veto", help="Request changes: a veto.")
@click.option("--abstain", "vote", flag_value="abstain", help="Abstain (a comment review).")
@click.option("--comment", "vote", flag_value="comment", help="Analysis without a vote (round 2).")
@click.option("--body", default="", help="The review text.")
@click.pass_context
def review(ctx: click.Context, pr: int, who: str, vote: str | None, body: str) -> None:
    """Post a review on a decision PR as an agent's bot or a maintainer."""
    if vote is None:
        raise click.UsageError("choose one of --approve, --veto, --abstain, --comment")
    with _session(ctx) as (_, org, forge):
        author = proposing.identity_for(org, who)
        proposing.review(forge, pr, author=author, vote=vote, body=body)
    click.echo(f"#{pr}: {who} ({author.login}) reviewed: {vote}")


@decide.command("tally")
@click.argument("pr", type=int, required=False)
@click.option("--all", "every", is_flag=True, help="Tally every open decision PR.")
@click.option("--dry-run", is_flag=True, help="Compute and print the verdict; change nothing.")
@click.option("--json", "as_json", is_flag=True, help=f"Print JSON: {JSON_FIELDS}.")
@NOW_OPTION
@click.pass_context
def tally(
    ctx: click.Context,
    pr: int | None,
    every: bool,
    dry_run: bool,
    as_json: bool,
    now_text: str | None,
) -> None:
    """Recompute a decision's verdict from its whole PR history and apply it.

    Idempotent: a second run changes nothing. Labels (aito/round-N, aito/escalated,
    aito/approved, aito/rejected), the aito/decision status, one tally comment
    updated in place, maintainers requested on escalation, merge pinned to the
    evaluated head, close on rejection, the final record on the base branch, in
    Postgres, and a message to the proposer and voters.
    """
    if (pr is None) == (not every):
        raise click.UsageError("give a PR number or --all")
    now = _now(now_text)
    with _session(ctx) as (settings, org, forge):
        if dry_run:
            sweep = sweeping.tally_open(forge, now=now, apply=False, numbers=_only(pr))
        else:
            sweep = _sweep(settings, org, forge, _only(pr), now=now)
    results = _results(sweep, single=pr is not None)
    if as_json:
        emit_json(results[0].as_json() if pr is not None else [r.as_json() for r in results])
    else:
        for result in results:
            _print(result, show_changes=True)
    _fail_on(sweep)


@decide.command("status")
@click.option("--json", "as_json", is_flag=True, help=f"Print a JSON list: {JSON_FIELDS}.")
@NOW_OPTION
@click.pass_context
def status(ctx: click.Context, as_json: bool, now_text: str | None) -> None:
    """Every open decision: round, votes, what is missing, deadline (changes nothing)."""
    now = _now(now_text)
    with _session(ctx) as (_, _org, forge):
        sweep = sweeping.tally_open(forge, now=now, apply=False)
    results = sweep.tallies
    if as_json:
        emit_json([r.as_json() for r in results])
    else:
        if not results and not sweep.problems:
            click.echo("no open decisions")
        for result in results:
            _print(result, show_changes=False)
    _fail_on(sweep)


@decide.command("hold")
@click.argument("pr", type=int)
@click.pass_context
def hold(ctx: click.Context, pr: int) -> None:
    """Block the merge of a decision (label aito/hold); votes are untouched."""
    with _session(ctx) as (_, _org, forge):
        proposing.hold(forge, pr, on=True)
    click.echo(f"#{pr}: on hold")


@decide.command("unhold")
@click.argument("pr", type=int)
@click.pass_context
def unhold(ctx: click.Context, pr: int) -> None:
    """Lift a hold; the next tally may merge."""
    with _session(ctx) as (_, _org, forge):
        proposing.hold(forge, pr, on=False)
    click.echo(f"#{pr}: hold lifted")


def _only(pr: int | None) -> list[int] | None:
    return None if pr is None else [pr]


def _tally(
    settings: Settings, org: loading.Organization, forge: Forge, number: int, *, now: dt.datetime
) -> applying.Tally:
    return _results(_sweep(settings, org, forge, [number], now=now), single=True)[0]


def _sweep(
    settings: Settings,
    org: loading.Organization,
    forge: Forge,
    numbers: list[int] | None,
    *,
    now: dt.datetime,
) -> sweeping.Sweep:
    """Tally and apply ``numbers`` (None: every open decision); services started once."""
    if numbers is None:
        numbers = sweeping.open_decisions(forge)
    if not numbers:
        return sweeping.Sweep([], [])
    with bootstrap.build(settings, org=org) as runtime:
        return sweeping.tally_open(
            forge,
            now=now,
            numbers=numbers,
            recorder=recording.ServicesRecorder(memory=runtime.memory, bus=runtime.bus),
            lock=lambda decision_id: runtime.bus.lock(keys.decision_lock(decision_id)),
            progress=lambda number: progress(f"tallying #{number} …"),
        )


def _results(sweep: sweeping.Sweep, *, single: bool) -> list[applying.Tally]:
    """The tallies; one pull request asked for by number fails with its own error."""
    if single and sweep.problems:
        raise sweep.problems[0].error
    return sweep.tallies


def _fail_on(sweep: sweeping.Sweep) -> None:
    """Each decision that could not be tallied, on stderr; exit with the worst code."""
    for problem in sweep.problems:
        click.echo(f"⚠ {problem.message}", err=True)
    if sweep.problems:
        raise SystemExit(max(p.error.exit_code for p in sweep.problems))


def _print(result: applying.Tally, *, show_changes: bool) -> None:
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
    for problem in result.problems:
        click.echo(f"  ⚠ {problem}")
    if show_changes:
        click.echo(
            f"  applied: {', '.join(result.changes) if result.changes else 'nothing to change'}"
        )
