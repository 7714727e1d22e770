"""`aito decide …`: decisions as pull requests, votes as reviews, verdicts by tally."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import click

from aito import bootstrap
from aito.cli import context, decide_sweeping, types
from aito.cli.context import emit_json, progress, state
from aito.decisions import proposing
from aito.errors import AitoError, GovernanceError
from aito.forge.base import Forge
from aito.org import loading
from aito.org.organization import Tier
from aito.settings import Settings
from aito.views import decisions as views_decisions

JSON_FIELDS = (
    "pr, decision_id, title, proposed_by, tier, status, stage, round, votes {agent: "
    "approve|veto|abstain|null}, missing [...], deadline, head_sha, reason, held, "
    "human_decision, decided_by, decided_via (review|merge|close), decided_at, violation, "
    "rounds [{round, stage, votes, analysis, ballots {agent: {at, sha}}, started_at, "
    "deadline, open}], current (the open round, same shape, or null), labels, "
    "check {state, description}, changes, problems"
)


@click.group()
def decide() -> None:
    """Decisions as pull requests: propose, review (vote), tally, hold; by hand: new, merge, close.

    \b
    A proposal is a pull request adding org/decisions/<id>.yaml plus the files it
    authorises; merging it executes the decision. Votes are PR reviews by the
    voters' bot accounts (approve, request changes = veto, a comment review starting
    with "abstain"); `tally` recomputes the verdict from the whole history and
    applies it (labels, the aito/decision status, one tally comment, merge/close,
    escalation to the maintainers). The forge is the local git repo (default) or
    GitHub (AITO_FORGE=github).

    \b
    People: human members (org.yaml `humans`) and maintainers propose in their own
    name (`propose --as-human`, or a PR by hand with a record from `new`); a
    maintainer's merge or close by hand is the human decision, anyone else's is a
    violation that alerts the maintainers (`merge`/`close` on the local forge).

    \b
    Exit codes: 0 done · 2 a bad option (unknown agent, bad time or amount)
    · 3 configuration (data directory; AITO's own source checkout is not acted in)
    · 4 no such pull request, not a decision, or an illegal request · 5 not allowed
    (e.g. a tier below the proposer's authority) · 6 forge or service failure.
    """


@contextlib.contextmanager
def session(
    ctx: click.Context, *, writes: bool = True, tally: bool = False
) -> Iterator[tuple[Settings, loading.Organization, Forge]]:
    """Settings, the organization and its forge; ``writes``: the command commits there;
    ``tally``: it acts as the governance App (checked first: its token and permissions)."""
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    if writes:
        context.refuse_source_checkout(settings)
    org = cli_state.organization()
    tokens = bootstrap.preflight_tally(settings, org) if tally else None
    yield settings, org, bootstrap.forge(settings, org, tokens=tokens)


def now_or(value: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if value is None else value


NOW_OPTION = click.option(
    "--now",
    "now_text",
    type=types.Moment(),
    metavar="ISO-TIME",
    default=None,
    help="Judge as of this time (ISO 8601, UTC unless a zone is given; default: now); "
    "for dry runs and what-ifs.",
)
PR_ARGUMENT = click.argument("pr", type=click.IntRange(1, 2**31 - 1))


@decide.command("propose")
@click.option(
    "--as",
    "proposer",
    type=types.Agent(),
    default=None,
    help="The proposing agent (its bot opens the PR).",
)
@click.option(
    "--as-human",
    "human",
    type=types.Reviewer(),
    default=None,
    metavar="LOGIN",
    help="Or a human member's or maintainer's login: the PR is opened as that person "
    "(local forge; on GitHub, open it by hand with a record from `decide new`).",
)
@click.option(
    "--tier",
    type=click.Choice([t.value for t in Tier]),
    required=True,
    help="operational, minor, major or critical; refused if below what the change needs.",
)
@types.TITLE_OPTION
@click.option(
    "--body",
    type=types.Text(max_length=60_000, multiline=True),
    default=None,
    help="The rationale (or --body-file).",
)
@click.option(
    "--body-file",
    type=types.readable_file(),
    default=None,
    help="Read the rationale from this UTF-8 file.",
)
@click.option(
    "--file",
    "carried",
    type=types.CarriedFile(),
    multiple=True,
    metavar="REPO_PATH=LOCAL_FILE",
    help="A file the decision authorises, carried in its PR (repeatable); REPO_PATH is "
    "relative to the repo, LOCAL_FILE must exist.",
)
@click.option(
    "--amount",
    "amount_usd",
    type=types.Amount(),
    default=0.0,
    show_default=True,
    help="USD the decision commits (0 or more); with the proposer's limits it sets the "
    "minimum tier.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision and PR as JSON.")
@NOW_OPTION
@click.pass_context
def propose(
    ctx: click.Context,
    proposer: str | None,
    human: str | None,
    tier: str,
    title: str,
    body: str | None,
    body_file: Path | None,
    carried: tuple[tuple[str, bytes], ...],
    amount_usd: float,
    as_json: bool,
    now_text: dt.datetime | None,
) -> None:
    """Open a decision PR; prints its number.

    Exactly one of --as (an agent) or --as-human (a person in org.yaml `humans` or
    `maintainers`; a human member up to their `may_propose` tier).
    """
    if (proposer is None) == (human is None):
        raise click.UsageError("give the proposer with --as AGENT or --as-human LOGIN")
    if human is not None and human in state(ctx).organization().agents:
        raise click.BadParameter(f"{human} is an agent: use --as", param_hint="--as-human")
    if body is not None and body_file is not None:
        raise click.UsageError("give the rationale with --body or --body-file, not both")
    rationale = types.read_text(body_file, option="--body-file") if body_file else (body or "")
    files: dict[str, bytes] = {}
    for target, data in carried:
        if target in files:
            raise click.BadParameter(f"{target} is given twice", param_hint="--file")
        files[target] = data
    now = now_or(now_text)
    if human is not None and state(ctx).service_settings().forge != "local":
        raise GovernanceError(
            f"on GitHub, {human} opens the pull request from their own account, with a "
            "record from `aito decide new --as-human`; --as-human serves the local forge"
        )
    with session(ctx) as (settings, org, forge), context.runtime(settings, org=org) as runtime:
        # The services are up before the pull request opens: a proposal that fails
        # because Postgres or Redis is away opens nothing, so trying again makes no twin.
        decision, pull = proposing.propose(
            forge,
            org=org,
            proposer=proposer or human or "",
            tier=Tier(tier),
            title=title,
            body=rationale,
            files=files,
            amount_usd=amount_usd,
            now=now,
        )
        if not bootstrap.governs(settings):
            # On GitHub without the governance App's key (an agent's job): the tally is
            # governance.yml's, on the pull request's `opened` event.
            if as_json:
                emit_json(
                    {
                        "pr": pull.number,
                        "decision_id": decision.id,
                        "branch": pull.head_ref,
                        "url": pull.url,
                        "tally": None,
                    }
                )
            else:
                click.echo(
                    f"#{pull.number} {decision.id}: opened; governance.yml tallies it "
                    "(no governance App key here)"
                )
            return
        try:
            result = decide_sweeping.tally_one(
                settings, org, forge, pull.number, now=now, runtime=runtime
            )
        except AitoError:
            progress(
                f"#{pull.number} {decision.id} was opened but could not be tallied yet; "
                f"do not propose it again: `aito decide tally {pull.number}` tallies it"
            )
            raise
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
@PR_ARGUMENT
@click.option(
    "--as",
    "who",
    type=types.Reviewer(),
    required=True,
    help="An agent id (reviews as its bot) or a maintainer's login.",
)
@click.option("--approve", is_flag=True, help="Approve the current head.")
@click.option("--veto", is_flag=True, help="Request changes: a veto.")
@click.option("--abstain", is_flag=True, help="Abstain (a comment review).")
@click.option("--comment", is_flag=True, help="Analysis without a vote (round 2).")
@click.option(
    "--body",
    type=types.Text(max_length=60_000, multiline=True),
    default="",
    help="The review text.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the review as JSON.")
@click.pass_context
def review(
    ctx: click.Context,
    pr: int,
    who: str,
    approve: bool,
    veto: bool,
    abstain: bool,
    comment: bool,
    body: str,
    as_json: bool,
) -> None:
    """Post a review on a decision PR as an agent's bot or a maintainer.

    Exactly one of --approve, --veto, --abstain, --comment.
    """
    chosen = [
        name
        for name, given in (
            ("approve", approve),
            ("veto", veto),
            ("abstain", abstain),
            ("comment", comment),
        )
        if given
    ]
    if len(chosen) != 1:
        raise click.UsageError("choose exactly one of --approve, --veto, --abstain, --comment")
    vote = chosen[0]
    with session(ctx) as (_, org, forge):
        author = proposing.identity_for(org, who)
        decide_sweeping.decision_pull(forge, pr)
        proposing.review(forge, pr, author=author, vote=vote, body=body)
    if as_json:
        emit_json({"pr": pr, "as": who, "login": author.login, "vote": vote})
        return
    click.echo(f"#{pr}: {who} ({author.login}) reviewed: {vote}")


@decide.command("tally")
@click.argument("pr", type=click.IntRange(1, 2**31 - 1), required=False)
@click.option(
    "--all", "every", is_flag=True, help="Tally every open decision PR, settle every task PR."
)
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
    now_text: dt.datetime | None,
) -> None:
    """Recompute a decision's verdict from its whole PR history and apply it.

    Idempotent: a second run changes nothing. Labels (aito/round-N, aito/escalated,
    aito/approved, aito/rejected), the aito/decision status, one tally comment
    updated in place, maintainers requested on escalation, merge pinned to the
    evaluated head, close on rejection, the final record on the base branch, in
    Postgres, and a message to the proposer and voters.

    A task record PR (one org/tasks/<id>.yaml, left open by an agent's job on GitHub)
    is merged if its bot may write it, judged from the base branch; else commented on
    once (closed if malformed). JSON entries carry kind: decision or task (pr, task,
    author, outcome: merged|refused|left, reason, closed, commented).
    """
    if (pr is None) == (not every):
        raise click.UsageError("give a PR number or --all")
    now = now_or(now_text)
    with session(ctx, writes=not dry_run, tally=not dry_run) as (settings, org, forge):
        sweep, tasks = decide_sweeping.tally_and_settle(
            settings, org, forge, pr, now=now, apply=not dry_run
        )
    decide_sweeping.report(sweep, tasks, single=pr is not None, as_json=as_json)


@decide.command("status")
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Closed and merged decisions too (approved, rejected, withdrawn), newest last.",
)
@click.option("--json", "as_json", is_flag=True, help=f"Print a JSON list: {JSON_FIELDS}.")
@NOW_OPTION
@click.pass_context
def status(ctx: click.Context, every: bool, as_json: bool, now_text: dt.datetime | None) -> None:
    """Every open decision: round, votes, what is missing, deadline (changes nothing).

    With --all, the closed and merged ones too: their final status, every round with
    its votes, and the human decision (who, when, how: review, merge or close) or the
    violation (merged or closed by someone who may not decide).
    """
    now = now_or(now_text)
    with session(ctx, writes=False) as (_, _org, forge):
        sweep = views_decisions.live(forge, now=now, every=every)
    results = sweep.tallies
    if as_json:
        emit_json([r.as_json() for r in results])
    else:
        if not results and not sweep.problems:
            click.echo(
                "no decisions" if every else "no open decisions (--all shows closed ones too)"
            )
        for result in results:
            decide_sweeping.show(result, show_changes=False, show_rounds=every)
    decide_sweeping.fail_on(sweep)


@decide.command("hold")
@PR_ARGUMENT
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def hold(ctx: click.Context, pr: int, as_json: bool) -> None:
    """Block the merge of a decision (label aito/hold); votes are untouched."""
    with session(ctx) as (_, _org, forge):
        decide_sweeping.decision_pull(forge, pr)
        proposing.hold(forge, pr, on=True)
    if as_json:
        emit_json({"pr": pr, "held": True})
        return
    click.echo(f"#{pr}: on hold")


@decide.command("unhold")
@PR_ARGUMENT
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def unhold(ctx: click.Context, pr: int, as_json: bool) -> None:
    """Lift a hold; the next tally may merge."""
    with session(ctx) as (_, _org, forge):
        decide_sweeping.decision_pull(forge, pr)
        proposing.hold(forge, pr, on=False)
    if as_json:
        emit_json({"pr": pr, "held": False})
        return
    click.echo(f"#{pr}: hold lifted")
