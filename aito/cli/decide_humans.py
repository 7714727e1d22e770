"""`aito decide new|merge|close`: what people do with decisions by hand.

`new` prints (or writes) a decision record with a fresh id for a pull request a person
opens by hand, on GitHub or any forge. `merge` and `close` give the local forge what a
person does with GitHub's buttons: the forge records who merged or closed, and the tally
that follows judges it (a maintainer's merge approves and a maintainer's close rejects,
the proposer's close withdraws, anyone else's is a violation that alerts the
maintainers). Anyone may press the buttons, so any login is accepted; one the
organization does not know needs its numeric id (--user-id), as a forge would have it.
"""

from __future__ import annotations

import datetime as dt

import click

from aito.cli import decide_commands, decide_sweeping, types
from aito.cli.context import emit_json, state
from aito.decisions import proposing
from aito.errors import GovernanceError, PermissionDenied
from aito.forge.base import Identity
from aito.org import loading
from aito.org.organization import Tier

TEMPLATE_HEADER = """\
# A decision record for a pull request opened by hand.
# Save it as {path} on a new branch, add the files the decision
# authorises to the same branch, and open a pull request against the governance branch
# from the account named in proposed_by (the proposer is the pull request's author, by
# numeric id). The tally fills in status, rounds and votes; leave those out.
"""


@click.command("new")
@click.option(
    "--as-human",
    "human",
    type=types.Reviewer(),
    required=True,
    metavar="LOGIN",
    help="The proposer: a human member's or maintainer's login (proposed_by).",
)
@click.option(
    "--tier",
    type=click.Choice([t.value for t in Tier]),
    required=True,
    help="operational, minor, major or critical; at most the proposer's may_propose.",
)
@types.TITLE_OPTION
@click.option(
    "--body",
    type=types.Text(max_length=60_000, multiline=True),
    default="",
    help="The rationale (the record's description).",
)
@click.option(
    "--amount",
    "amount_usd",
    type=types.Amount(),
    default=0.0,
    show_default=True,
    help="USD the decision commits (0 or more).",
)
@click.option(
    "--write",
    is_flag=True,
    help="Write org/decisions/<id>.yaml into the repository's working tree instead of printing it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {decision_id, path, record}.")
@decide_commands.NOW_OPTION
@click.pass_context
def new(
    ctx: click.Context,
    human: str,
    tier: str,
    title: str,
    body: str,
    amount_usd: float,
    write: bool,
    as_json: bool,
    now_text: dt.datetime | None,
) -> None:
    """A decision record template with a fresh id, for a PR opened by hand.

    Prints the YAML of org/decisions/<id>.yaml (or writes it with --write). Commit it
    with the files it authorises on a new branch and open a pull request as LOGIN; the
    governance workflow tallies it like an agent's proposal. Refused when LOGIN is no
    member, or the tier is above their may_propose.
    """
    if human in state(ctx).organization().agents:
        raise click.BadParameter(
            f"{human} is an agent: agents propose with `aito decide propose --as`",
            param_hint="--as-human",
        )
    now = decide_commands.now_or(now_text)
    with decide_commands.session(ctx, writes=write) as (settings, org, forge):
        decision = proposing.template(
            forge,
            org=org,
            proposer=human,
            tier=Tier(tier),
            title=title,
            body=body,
            amount_usd=amount_usd,
            now=now,
        )
    path = f"org/decisions/{decision.id}.yaml"
    text = (
        TEMPLATE_HEADER.format(path=path)
        + proposing.record_yaml(decision, proposal_only=True).decode()
    )
    if write:
        target = settings.repo / path
        if target.exists():
            raise GovernanceError(f"{target} exists already; run `aito decide new` again")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if as_json:
        emit_json({"decision_id": decision.id, "path": path, "record": text})
    elif write:
        click.echo(f"wrote {path}")
    else:
        click.echo(text, nl=False)


def _actor(org: loading.Organization, login: str, user_id: int | None) -> Identity:
    """Who presses the button: a member by name, or anyone with their numeric id."""
    try:
        known = proposing.identity_for(org, login)
    except PermissionDenied:
        if user_id is None:
            raise click.BadParameter(
                f"{login!r} is not in the organization: give their numeric forge id with "
                "--user-id (anyone may merge or close where the forge lets them; the tally "
                "judges it)",
                param_hint="--as",
            ) from None
        return Identity(login, user_id)
    if user_id is not None and user_id != known.id:
        raise click.BadParameter(
            f"{known.login}'s id is {known.id} in org.yaml, not {user_id}", param_hint="--user-id"
        )
    return known


AS_OPTION = click.option(
    "--as",
    "login",
    type=types.Text(max_length=100, blank=False),
    required=True,
    metavar="LOGIN",
    help="Who merges or closes: an agent id, a maintainer's or human member's login, or "
    "any other login with --user-id.",
)
USER_ID_OPTION = click.option(
    "--user-id",
    type=click.IntRange(1, 2**63 - 1),
    default=None,
    help="The numeric forge id of a LOGIN the organization does not list.",
)


def _by_hand(
    ctx: click.Context, pr: int, login: str, user_id: int | None, *, merge: bool, as_json: bool
) -> None:
    now = decide_commands.now_or(None)
    with decide_commands.session(ctx) as (settings, org, forge):
        if settings.forge != "local":
            raise GovernanceError(
                f"merge or close #{pr} on GitHub itself (GitHub records who did it); "
                f"`aito decide {'merge' if merge else 'close'}` serves the local forge"
            )
        actor = _actor(org, login, user_id)
        pull = decide_sweeping.decision_pull(forge, pr)
        proposing.by_hand(forge, pr, actor=actor, merge=merge, sha=pull.head_sha)
        result = decide_sweeping.tally_one(settings, org, forge, pr, now=now)
    if as_json:
        emit_json(result.as_json())
    else:
        click.echo(f"#{pr} {'merged' if merge else 'closed'} by {actor.login}")
        decide_sweeping.show(result, show_changes=True)


@click.command("merge")
@decide_commands.PR_ARGUMENT
@AS_OPTION
@USER_ID_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the tally that follows as JSON.")
@click.pass_context
def merge(ctx: click.Context, pr: int, login: str, user_id: int | None, as_json: bool) -> None:
    """Merge a decision PR by hand as LOGIN (local forge), then tally it.

    A maintainer's merge is the human decision (approved, recorded with who, when and
    how); the proposer's or anyone else's merge of unapproved content is a violation
    that alerts the maintainers.
    """
    _by_hand(ctx, pr, login, user_id, merge=True, as_json=as_json)


@click.command("close")
@decide_commands.PR_ARGUMENT
@AS_OPTION
@USER_ID_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the tally that follows as JSON.")
@click.pass_context
def close(ctx: click.Context, pr: int, login: str, user_id: int | None, as_json: bool) -> None:
    """Close a decision PR by hand as LOGIN (local forge), then tally it.

    A maintainer's close rejects (the human decision), the proposer's withdraws, anyone
    else's is a violation that alerts the maintainers.
    """
    _by_hand(ctx, pr, login, user_id, merge=False, as_json=as_json)


COMMANDS = (new, merge, close)
