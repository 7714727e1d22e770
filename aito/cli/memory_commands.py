"""`aito memory …`: look into what agents remember."""

from __future__ import annotations

import click

from aito.cli import context, types
from aito.cli.context import emit_json, progress, state
from aito.memory import embedding, recalling


@click.group()
def memory() -> None:
    """Look into agents' memory: history, recall (pgvector), state."""


@memory.command("history")
@click.argument("agent_id", type=types.Agent())
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many entries, newest first (1-1000).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def history(ctx: click.Context, agent_id: str, limit: int, as_json: bool) -> None:
    """An agent's newest history entries."""
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    with context.runtime(settings, org=cli_state.organization()) as runtime:
        entries = runtime.memory.history(agent_id, limit=limit)
    if as_json:
        emit_json(entries)
        return
    for entry in entries:
        click.echo(
            f"{entry['created_at']:%Y-%m-%d %H:%M} [{entry['action_type']}] {entry['summary']}"
        )
    if not entries:
        click.echo(f"{agent_id} has no history yet")


@memory.command("recall")
@click.argument("agent_id", type=types.Agent())
@click.argument("query", type=types.Text(max_length=2000, blank=False))
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="How many similar entries (1-100).",
)
@click.option(
    "--recent",
    type=click.IntRange(0, 1000),
    default=0,
    show_default=True,
    help="Also the newest N entries (0-1000).",
)
@click.option(
    "--type", "action_types", type=types.Name(), multiple=True, help="Only these action types."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def recall(
    ctx: click.Context,
    agent_id: str,
    query: str,
    k: int,
    recent: int,
    action_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """What an agent remembers about QUERY (similarity search over its history)."""
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    with context.runtime(settings, org=cli_state.organization()) as runtime:
        progress("embedding the query …")
        items = recalling.recall(
            runtime.memory,
            embedding.embedder_for(settings),
            agent_id=agent_id,
            query=query,
            k=k,
            recent=recent,
            action_types=list(action_types) or None,
        )
    if as_json:
        emit_json(
            [
                {
                    "summary": i.summary,
                    "action_type": i.action_type,
                    "score": i.score,
                    "source": i.source,
                    "run_id": i.run_id,
                    "pr": i.pr_number,
                    "created_at": i.created_at.isoformat(),
                }
                for i in items
            ]
        )
        return
    for item in items:
        score = f"{item.score:.3f}" if item.score is not None else "  —  "
        click.echo(f"{score} {item.source:7} [{item.action_type}] {item.summary}")


@memory.command("state")
@click.argument("agent_id", type=types.Agent())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agent_state(ctx: click.Context, agent_id: str, as_json: bool) -> None:
    """An agent's state: every key with its value and version."""
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    with context.runtime(settings, org=cli_state.organization()) as runtime:
        values = runtime.memory.all_state(agent_id)
    if as_json:
        emit_json({k: {"value": v.value, "version": v.version} for k, v in values.items()})
        return
    for key, value in values.items():
        click.echo(f"{key} (v{value.version}): {value.value}")
    if not values:
        click.echo(f"{agent_id} has no state yet")
