"""`aito mcp`: the MCP servers of the organization, and AITO's own connectors."""

from __future__ import annotations

import os
from typing import Any

import click

from aito.cli import types
from aito.cli.context import emit_json, state
from aito.connectors import fetching, registry, rss


@click.group()
def mcp() -> None:
    """MCP servers: org.yaml `mcp.servers` (by name), listed in agents' `mcp_servers`.

    A worker receives exactly its kind's servers. AITO's own connectors are MCP servers
    too (`aito mcp serve NAME`); a server's secrets come from the environment variables
    its entry names, handed to that server alone.
    """


@mcp.command("serve")
@click.argument("name", type=click.Choice(sorted(registry.CONNECTORS)))
@click.option(
    "--domain",
    "domains",
    type=types.Domain(),
    multiple=True,
    help="A host the connector may reach (repeatable; `*.example.org` for subdomains). "
    f"Default: {fetching.DOMAINS_ENV} (comma-separated), which a worker's sandbox sets from "
    "the server's `domains`.",
)
@click.option(
    "--feed",
    "feeds",
    type=types.Text(),
    multiple=True,
    help="rss: a feed its `latest` tool reads (repeatable; each must be at an allowed domain).",
)
def serve(name: str, domains: tuple[str, ...], feeds: tuple[str, ...]) -> None:
    """Run AITO's connector NAME as an MCP server on stdin/stdout (stdio transport).

    \b
    Connectors: rss (read_feed, latest), web (fetch_page), site (check),
    coingecko (prices, supply),
    chain (block_number, balance, token_supply, token_balance, call),
    snapshot (proposals, proposal, votes),
    directus (items, item; writes: create_item, update_item),
    telegram (updates, chat; send_message), discord (messages, guild; post),
    x (search, user; post), github (repo, issues, issue, releases),
    email (send, inbox, message).
    Example, in org/org.yaml:
      mcp:
        servers:
          news: {command: [aito, mcp, serve, rss], domains: [blog.example.org]}
    """
    allowed = list(domains) or fetching.allowed_hosts()
    if feeds:
        os.environ[rss.FEEDS_ENV] = " ".join(feeds)
    registry.connector(name, allowed).run("stdio")


@mcp.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys).")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """The organization's MCP servers, who may use each, and AITO's connectors."""
    org = state(ctx).organization()
    settings = org.org.mcp
    servers: list[dict[str, Any]] = []
    for name, server in sorted(settings.servers.items()):
        users = sorted(a.id for a in org.agents.values() if name in a.mcp_servers)
        servers.append(
            {
                "name": name,
                "transport": "stdio" if server.command is not None else "http",
                "command": server.command,
                "url": str(server.url) if server.url is not None else None,
                "writes": server.writes,
                "hosts": server.hosts(),
                "env": list(server.env),
                "used_by": users,
            }
        )
    connectors = {name: about for name, (_, about) in sorted(registry.CONNECTORS.items())}
    report = {"dry_run": settings.dry_run, "servers": servers, "connectors": connectors}
    if as_json:
        emit_json(report)
        return
    click.echo(f"MCP servers of {org.org.name!r} (dry run: {'on' if settings.dry_run else 'off'})")
    if not servers:
        click.echo("  none: add them under `mcp.servers` in org/org.yaml")
    for item in servers:
        where = " ".join(item["command"]) if item["command"] else str(item["url"])
        mode = "writes" if item["writes"] else "read-only"
        used = ", ".join(item["used_by"]) or "nobody"
        click.echo(f"  {item['name']:<12} {mode:<9} {where}  · used by {used}")
    click.echo("AITO's connectors (aito mcp serve NAME):")
    for name, about in connectors.items():
        click.echo(f"  {name:<12} {about}")
