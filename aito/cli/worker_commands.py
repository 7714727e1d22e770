"""`aito worker …`: what runs inside a worker's sandbox."""

from __future__ import annotations

import sys

import click

from aito.cli.context import fail, state
from aito.runtime import client, working


@click.group()
def worker() -> None:
    """Inside a worker's container (started by a launcher, not by hand)."""


@worker.command("exec")
@click.pass_context
def exec_(ctx: click.Context) -> None:
    """Do the task the launcher's gateway gives, and hand the answer back to it.

    Needs AITO_MODEL_GATEWAY (the socket the launcher mounted). The worker holds no
    credentials and has no network: it asks the model through the gateway, checks the
    answer against the action schema, asks again once if it was rejected, and hands in
    the tool calls it chose; the launcher checks them again before anything is
    applied. A worker kind with `engine: claude-code` runs Claude Code on a copy of
    its files instead, its model calls relayed by the gateway; its changes come back as
    a pull request, checked the same way. Exit codes: 0 answer handed in, 1 no valid
    answer, 9 budget refused.
    """
    settings = state(ctx).settings()
    if settings.model_gateway is None:
        fail("aito worker exec runs in a worker's container: AITO_MODEL_GATEWAY is not set", code=3)
        return
    sys.exit(working.work(client.GatewayClient(settings.model_gateway), sys.stdout))
