"""`aito notify`: the channels that tell humans when something needs them."""

from __future__ import annotations

import datetime as dt

import click

from aito.cli import types
from aito.cli.context import emit_json, state
from aito.errors import AdapterError, ConfigError
from aito.notify import base, fanout
from aito.org.channels import Severity


@click.group()
def notify() -> None:
    """Notification channels (org/org.yaml `notify:`): e-mail, webhook, Telegram.

    The orchestrator notifies humans, once per cause, when something needs them: a
    deadlock escalated, a critical decision waiting, a budget exhausted, a loop stopped,
    an agent down past its restart budget. Secrets come from the environment:
    AITO_SMTP_URL, AITO_WEBHOOK_URL, AITO_TELEGRAM_BOT_TOKEN (and AITO_TELEGRAM_API_URL).
    """


@notify.command("test")
@click.option(
    "--channel",
    "channel_name",
    type=types.Name(),
    default=None,
    help="Only the channel with this name (default: every configured channel).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys).")
@click.pass_context
def test_command(ctx: click.Context, channel_name: str | None, as_json: bool) -> None:
    """Send a test notification on each configured channel and say how each went.

    Every channel gets it, whatever its `on:` severities. Exit 0 when every channel
    delivered, 6 when one failed (the others are still tried), 3 when the secret of a
    channel it would send on is missing (named) or no channel is configured.

    \b
      aito notify test                     every channel
      aito notify test --channel ops-mail  one channel
    """
    cli_state = state(ctx)
    org = cli_state.organization()
    if not org.org.notify:
        raise ConfigError(
            "no notification channels: add a `notify:` list to org/org.yaml, e.g. "
            "`notify: [{kind: webhook}]` with AITO_WEBHOOK_URL set"
        )
    names = [c.channel_name for c in org.org.notify]
    if channel_name is not None and channel_name not in names:
        raise click.BadParameter(
            f"{types.short(channel_name)} is not a channel in org/org.yaml; try one of "
            f"{', '.join(names)}",
            param_hint="'--channel'",
        )
    chosen = fanout.notifiers(cli_state.settings(), org, only=channel_name)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    notification = base.Notification(
        subject=f"AITO test notification from {org.org.name}",
        cause=f"test:{now.isoformat()}",
        body="This is a test sent by `aito notify test`. Nothing needs you: this channel works.",
        severity=Severity.INFO,
    )
    results = fanout.send_all(chosen, notification, everywhere=True)
    failed = [name for name, error in results if error is not None]
    if as_json:
        emit_json(
            {
                "channels": [
                    {"name": name, "ok": error is None, "error": _said(error)}
                    for name, error in results
                ],
                "failed": len(failed),
            }
        )
    else:
        for name, error in results:
            click.echo(f"{name}: ok" if error is None else f"{name}: error: {_said(error)}")
    if failed:
        ctx.exit(AdapterError.exit_code)


def _said(error: Exception | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, AdapterError):
        return str(error)
    return f"unexpected {type(error).__name__} (a bug in AITO)"
