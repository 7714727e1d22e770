"""`aito bus …`: send a message, look into inboxes, pending entries and dead letters."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import click
import pydantic

from aito import bootstrap
from aito.bus import inspecting, streams
from aito.cli import context, types
from aito.cli.context import emit_json, state
from aito.org.messages import GROUP_TARGETS, AgentMessage, MessageType, Priority


@click.group()
def bus() -> None:
    """Talk to the agents over the Redis bus and see what is waiting.

    Every agent has a durable inbox, the stream `stream:agent:<id>`, read through a
    consumer group: a message stays *pending* until the agent has handled and
    acknowledged it, and one that cannot be read goes to `stream:dead-letters`.

    \b
      aito bus send --to cmo --type direct --payload '{"text": "hello"}'
      aito bus tail cmo              the newest messages in cmo's inbox
      aito bus pending cmo           delivered but not yet acknowledged
      aito bus dead-letters          entries no agent could read, and why
    """


MAX_PAYLOAD = 64 * 1024


@bus.command("send")
@click.option(
    "--to",
    "to",
    type=types.Agent(groups=True),
    required=True,
    help="An agent id, or a group: all, head (CEO + DAO), clevel (C-level agents). "
    "Groups are expanded from org/agents/*.yaml; the sender gets no copy. An unknown "
    "agent is a usage error (exit 2).",
)
@click.option(
    "--type",
    "message_type",
    type=click.Choice([t.value for t in MessageType]),
    default=MessageType.DIRECT.value,
    show_default=True,
    help="The message type (the seed's AgentMessage.type).",
)
@click.option(
    "--payload",
    type=types.Text(max_length=MAX_PAYLOAD, multiline=True),
    default="{}",
    show_default=True,
    help="The payload, a JSON object (at most 64 KiB).",
)
@click.option(
    "--from",
    "sender",
    type=types.Name(),
    default="maintainer",
    show_default=True,
    help="Who sends it (an agent id, or a name such as maintainer).",
)
@click.option(
    "--priority",
    type=click.Choice([p.value for p in Priority]),
    default=Priority.NORMAL.value,
    show_default=True,
    help="How urgent the recipient should take it.",
)
@click.option(
    "--reply-to",
    "reply_to",
    type=types.Name(),
    default=None,
    metavar="MESSAGE_ID",
    help="Answer that message (sets correlation_id; needed for --type status_response).",
)
@click.option(
    "--id",
    "message_id",
    type=types.Name(),
    default=None,
    help="The message id; sending the same id again is handled once. Default: a new one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the id and recipients as JSON.")
@click.pass_context
def send(
    ctx: click.Context,
    to: str,
    message_type: str,
    payload: str,
    sender: str,
    priority: str,
    reply_to: str | None,
    message_id: str | None,
    as_json: bool,
) -> None:
    """Put a message into an agent's inbox (or every group member's)."""
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from exc
    if not isinstance(body, dict):
        raise click.BadParameter("must be a JSON object, e.g. '{}'", param_hint="--payload")
    try:
        message = AgentMessage.model_validate(
            {
                "id": message_id or f"msg-{uuid.uuid4().hex[:16]}",
                "type": message_type,
                "from": sender,
                "to": to,
                "payload": body,
                "priority": priority,
                "timestamp": dt.datetime.now(dt.UTC),
                "correlation_id": reply_to,
            }
        )
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise click.UsageError(f"invalid message: {where}: {first['msg']}") from exc
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    groups = org.groups() if to in GROUP_TARGETS else {}
    with context.runtime(settings, org=org) as runtime:
        if settings.forge == "github":  # the recipients are woken (see aito.bus.waking)
            forge = bootstrap.forge(settings, org)
            runtime.bus.waker = bootstrap.waker(settings, runtime, org, forge)
        recipients = streams.Messenger(runtime.bus, groups=groups, sink=runtime.events).send(
            message
        )
        runtime.events.append(
            "bus.sent",
            {"id": message.id, "type": message.type.value, "to": recipients},
            source_agent=message.from_,
        )
    if as_json:
        emit_json({"id": message.id, "recipients": recipients})
        return
    names = ", ".join(recipients) if recipients else "nobody (the group is empty)"
    click.echo(f"sent {message.id} ({message.type.value}) {sender} → {to}: delivered to {names}")


COUNT = click.IntRange(1, 10_000)


@bus.command("tail")
@click.argument("agent_id", type=types.Agent())
@click.option("--count", "-n", type=COUNT, default=20, show_default=True, help="How many entries.")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@click.pass_context
def tail(ctx: click.Context, agent_id: str, count: int, as_json: bool) -> None:
    """Show the newest messages in AGENT_ID's inbox, oldest first (read-only)."""
    with context.runtime(state(ctx).service_settings(org=False)) as runtime:
        entries = inspecting.tail(runtime.bus, agent_id, count=count)
    if as_json:
        emit_json([_entry_json(e) for e in entries])
        return
    if not entries:
        click.echo(f"{agent_id}'s inbox is empty")
    for entry in entries:
        if entry.message is None:
            click.echo(f"{entry.entry_id}  UNREADABLE ({entry.problem}): {json.dumps(entry.raw)}")
            continue
        m = entry.message
        click.echo(
            f"{entry.entry_id}  {m.timestamp:%Y-%m-%d %H:%M:%S}  {m.type.value:15} "
            f"{m.from_} → {m.to}  {m.id}  {json.dumps(m.payload, sort_keys=True)}"
        )


@bus.command("pending")
@click.argument("agent_id", type=types.Agent())
@click.option(
    "--count", "-n", type=COUNT, default=100, show_default=True, help="At most this many."
)
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@click.pass_context
def pending(ctx: click.Context, agent_id: str, count: int, as_json: bool) -> None:
    """Show messages delivered to AGENT_ID but not yet acknowledged.

    Idle is the time since the last delivery; an entry idle longer than the
    consumers' claim time (default 60 s) is taken over by a live consumer, and one
    delivered more than 5 times goes to the dead letters.
    """
    with context.runtime(state(ctx).service_settings(org=False)) as runtime:
        entries = inspecting.pending(runtime.bus, agent_id, count=count)
    if as_json:
        emit_json([e.model_dump(mode="json") for e in entries])
        return
    if not entries:
        click.echo(f"nothing pending for {agent_id}")
        return
    click.echo(f"{'ENTRY':20} {'MESSAGE':24} {'TYPE':15} {'IDLE':>9} {'TRIES':>5}  CONSUMER")
    for e in entries:
        click.echo(
            f"{e.entry_id:20} {e.message_id or '?':24} {e.type or '?':15} "
            f"{e.idle_ms / 1000:8.1f}s {e.deliveries:5}  {e.consumer}"
        )


@bus.command("dead-letters")
@click.option(
    "--count", "-n", type=COUNT, default=20, show_default=True, help="How many, newest last."
)
@click.option("--json", "as_json", is_flag=True, help="Print the dead letters as JSON.")
@click.pass_context
def dead_letters(ctx: click.Context, count: int, as_json: bool) -> None:
    """Show entries no consumer could read or handle: why, where from, and the raw data."""
    with context.runtime(state(ctx).service_settings(org=False)) as runtime:
        letters = inspecting.dead_letters(runtime.bus, count=count)
    if as_json:
        emit_json([letter.model_dump(mode="json") for letter in letters])
        return
    if not letters:
        click.echo("no dead letters")
    for letter in letters:
        click.echo(
            f"{letter.at:%Y-%m-%d %H:%M:%S}  {letter.source} {letter.source_entry_id}: "
            f"{letter.reason}\n    raw: {letter.raw}"
        )


def _entry_json(entry: inspecting.StreamEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "message": json.loads(entry.message.to_wire()) if entry.message else None,
        "raw": None if entry.message else entry.raw,
        "problem": entry.problem,
    }
