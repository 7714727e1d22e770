"""`aito services up|status|down`: the embedded Postgres and Redis."""

from __future__ import annotations

import dataclasses

import click

from aito.cli.context import emit_json, progress, state
from aito.services import managing


@click.group()
def services() -> None:
    """Start, inspect or stop Postgres (with pgvector) and Redis.

    Without POSTGRES_URL / REDIS_URL, AITO runs embedded servers under the data
    directory (default <repo>/.aito); with them, it only checks the external ones.
    """


@services.command("up")
@click.option("--json", "as_json", is_flag=True, help="Print the endpoints as JSON.")
@click.pass_context
def services_up(ctx: click.Context, as_json: bool) -> None:
    """Start the embedded services (or reuse running ones); check external ones."""
    progress("starting services …")
    endpoints = managing.up(state(ctx).service_settings(org=False))
    data = {
        "postgres": {
            "url": managing.mask(endpoints.postgres_url),
            "embedded": endpoints.postgres_embedded,
        },
        "redis": {"url": managing.mask(endpoints.redis_url), "embedded": endpoints.redis_embedded},
    }
    if as_json:
        emit_json(data)
        return
    for name, info in data.items():
        kind = "embedded" if info["embedded"] else "external"
        click.echo(f"{name:8} up   {info['url']} ({kind})")


@services.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def services_status(ctx: click.Context, as_json: bool) -> None:
    """Show whether each service runs, where, and its version. Exit 6 if one is down."""
    found = managing.status(state(ctx).settings())
    if as_json:
        emit_json([dataclasses.asdict(s) for s in found])
    else:
        for item in found:
            kind = "embedded" if item.embedded else "external"
            word = "up" if item.running else "down"
            extra = f" v{item.version}" if item.version else ""
            where = item.url or (str(item.data_dir) if item.data_dir else "")
            pid = f" pid {item.pid}" if item.pid else ""
            detail = f" ({item.detail})" if item.detail else ""
            click.echo(f"{item.name:8} {word:4} {kind}{extra}{pid} {where}{detail}")
    if not all(item.running for item in found):
        ctx.exit(6)


@services.command("down")
@click.option("--json", "as_json", is_flag=True, help="Print what was stopped as JSON.")
@click.pass_context
def services_down(ctx: click.Context, as_json: bool) -> None:
    """Stop the embedded services (data is kept; external services are left alone)."""
    stopped = managing.down(state(ctx).settings())
    if as_json:
        emit_json({"stopped": stopped})
        return
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
