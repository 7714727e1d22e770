"""`aito dashboard`: the read-only web dashboard a maintainer keeps open all day."""

from __future__ import annotations

import functools

import click

from aito.bus import budgets
from aito.cli import context, types
from aito.cli.context import progress, state
from aito.dashboard import app, serving
from aito.memory import embedding
from aito.org import loading


@click.command()
@click.option(
    "--host",
    type=types.Host(),
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on. The dashboard has no login yet: keep it on 127.0.0.1 "
    "(reach it through an SSH tunnel) unless a proxy in front of it authenticates.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8765,
    show_default=True,
    help="The TCP port to listen on.",
)
@click.pass_context
def dashboard(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web dashboard: the organization, runs, decisions, tasks, events, costs.

    Read-only pages, rendered on the server (nothing fetched from the internet),
    from the same views the CLI prints (`aito agent runs`, `aito budget`):

    \b
      /               the org chart: each agent's layer and manager, last heartbeat,
                      the run in progress, next schedule slot, today's budget burn,
                      who holds the lead; updated live (server-sent events)
      /agents/ID      profile, authority, git access, budgets, recent runs, and a
                      search over its memory (?q=, the recall its wake-up uses)
      /runs/RUN_ID    what the model read (tokens, cached or not), what it answered,
                      each action's check and result, the cost, the replay command
      /decisions      open and closed, by status; /decisions/ID its rounds as a
                      timeline: votes with when and on which commit, the time left
      /tasks          a board by status
      /workers        running and recent worker runs; /workers/RUN_ID its log, live
      /events         the audit log by type and agent
      /costs          spend per agent, day and model against the limits (charts)

    Every list is paged. It reads the Postgres and Redis this command would use
    (POSTGRES_URL and REDIS_URL, or the embedded ones, started if needed) and
    the organization in --repo, reloaded every 10 s; memory search embeds with
    AITO_EMBEDDINGS (the offline model by default, loaded on the first search).
    It shows no setting and no secret. Ctrl-C stops it.

    \b
      aito --repo .aito/demo dashboard          after `aito demo`: http://127.0.0.1:8765/
      aito dashboard --port 9000
    """
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    repo = settings.repo
    with context.runtime(settings, org=org, pool_size=4) as runtime:
        source = app.Source(
            organization=app.Reloading(lambda: loading.load_valid(repo)),
            memory=runtime.memory,
            ledger=budgets.BudgetLedger(runtime.bus),
            heartbeats=runtime.bus,
            history=runtime.memory,
            embedder=functools.cache(lambda: embedding.embedder_for(settings)),
        )
        progress(
            f"dashboard of {org.org.name} on http://{_authority(host, port)}/ (Ctrl-C stops it)"
        )
        serving.serve(app.create_app(source), host=host, port=port)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
