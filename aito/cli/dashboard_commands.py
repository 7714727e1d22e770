"""`aito dashboard`: the web dashboard a maintainer keeps open all day."""

from __future__ import annotations

import datetime as dt
import functools
import re

import click

from aito import bootstrap
from aito.bus import budgets
from aito.cli import context, decide_sweeping, types
from aito.cli.context import progress, state
from aito.dashboard import app, inbox, serving, sessions
from aito.forge.base import Forge, Identity
from aito.memory import embedding
from aito.org import loading
from aito.settings import Settings

CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{3,99}")
"""The shape of a GitHub OAuth App's client id (e.g. ``Ov23li…``, ``Iv1.…``)."""


@click.command()
@click.option(
    "--host",
    type=types.Host(),
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on. Keep it on 127.0.0.1 (reach it through an SSH tunnel, "
    "which keeps the session cookie off the network) unless a TLS proxy is in front of it.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8765,
    show_default=True,
    help="The TCP port to listen on.",
)
@click.option(
    "--maintainer",
    "maintainer_login",
    type=types.Text(max_length=100, blank=False),
    default=None,
    metavar="LOGIN",
    help="Local forge: print a one-time login link for this maintainer (one of org.yaml "
    "`maintainers`); that session approves, vetoes, merges and closes as LOGIN.",
)
@click.option(
    "--github-client-id",
    envvar="AITO_DASHBOARD_GITHUB_CLIENT_ID",
    type=types.Text(max_length=100, blank=False),
    default=None,
    metavar="ID",
    help="GitHub (AITO_FORGE=github): the client id of an OAuth App with the device flow "
    "enabled; maintainers then log in with GitHub and write with their own token. "
    "[env: AITO_DASHBOARD_GITHUB_CLIENT_ID]",
)
@click.pass_context
def dashboard(
    ctx: click.Context,
    host: str,
    port: int,
    maintainer_login: str | None,
    github_client_id: str | None,
) -> None:
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
      /inbox          what needs a human: decisions waiting for a maintainer
                      (escalated, critical), agents down, runs stopped as a loop or
                      out of budget, agents asking the maintainers

    Every list is paged. Reading needs no login; approving, vetoing, merging and
    closing from the inbox needs a maintainer's session, and goes through the
    forge as that maintainer. On the local forge, --maintainer LOGIN prints a
    one-time login link (a new one at each start); on GitHub, with
    AITO_DASHBOARD_GITHUB_CLIENT_ID set, a maintainer logs in with GitHub's device
    flow (only a maintainer by numeric id) and writes with their own token. A write
    acts on the commit the inbox showed (its last tally's); if the branch moved since,
    it is refused and nothing is written. Sessions last an hour; every write is an
    event (dashboard.review, .merge, .close).

    It reads the Postgres and Redis this command would use
    (POSTGRES_URL and REDIS_URL, or the embedded ones, started if needed) and
    the organization in --repo, reloaded every 10 s; memory search embeds with
    AITO_EMBEDDINGS (the offline model by default, loaded on the first search).
    It shows no setting and no secret. Ctrl-C stops it.

    \b
      aito --repo .aito/demo dashboard          after `aito demo`: http://127.0.0.1:8765/
      aito dashboard --port 9000
      aito --repo .aito/demo dashboard --maintainer shiba-maintainer
    """
    cli_state = state(ctx)
    if github_client_id is not None and not CLIENT_ID.fullmatch(github_client_id):
        raise click.BadParameter(
            "a GitHub OAuth App's client id: letters, digits, dots, dashes (e.g. Ov23li…)",
            param_hint="--github-client-id",
        )
    settings = cli_state.service_settings()
    org = cli_state.organization()
    repo = settings.repo
    if maintainer_login is not None and settings.forge != "local":
        raise click.BadParameter(
            "on GitHub maintainers log in with GitHub: set AITO_DASHBOARD_GITHUB_CLIENT_ID",
            param_hint="--maintainer",
        )
    if maintainer_login is not None:
        context.refuse_source_checkout(settings)
        maintainer = sessions.maintainer_by_login(
            [Identity(m.login, m.id) for m in org.org.maintainers], maintainer_login
        )
    with context.runtime(settings, org=org, pool_size=4) as runtime:
        organization = app.Reloading(lambda: loading.load_valid(repo))
        source = app.Source(
            organization=organization,
            memory=runtime.memory,
            ledger=budgets.BudgetLedger(runtime.bus),
            heartbeats=runtime.bus,
            history=runtime.memory,
            embedder=functools.cache(lambda: embedding.embedder_for(settings)),
        )
        writes = maintainer_writes(
            settings, organization, runtime, maintainer_login is not None, github_client_id
        )
        where = f"http://{_authority(host, port)}"
        progress(f"dashboard of {org.org.name} on {where}/ (Ctrl-C stops it)")
        if writes is not None and maintainer_login is not None:
            token = writes.sessions.one_time_token(maintainer)
            progress(
                f"log in as {maintainer.login} (once, this link only): {where}/login?token={token}"
            )
        elif writes is not None:
            progress(f"maintainers log in with GitHub at {where}/login")
        serving.serve(app.create_app(source, writes), host=host, port=port)


def maintainer_writes(
    settings: Settings,
    organization: app.Reloading,
    runtime: bootstrap.Runtime,
    local_login: bool,
    github_client_id: str | None,
) -> inbox.Writes | None:
    """How maintainers write from the dashboard (None: read-only)."""
    if settings.forge == "local":
        if not local_login:
            return None

        def after(forge: Forge, number: int) -> None:
            # what `aito decide merge|close` runs next: the tally, with these services
            decide_sweeping.tally_one(
                settings, organization(), forge, number, now=dt.datetime.now(dt.UTC),
                runtime=runtime,
            )  # fmt: skip

        return inbox.Writes(
            kind="local",
            sessions=sessions.Sessions(),
            events=runtime.memory,
            forge_for=lambda _: bootstrap.forge(settings, organization()),
            after=after,
        )
    if not github_client_id:
        return None
    # PyGithub only when GitHub is used
    from aito.forge import github, github_apps_manifest, github_calling

    device = sessions.DeviceFlow(
        client_id=github_client_id,
        web_url=github_apps_manifest.web_url(settings.github_api_url),
        api_url=settings.github_api_url,
    )

    def forge_for(session: sessions.Session) -> Forge:
        again = "log in with GitHub again"
        if session.token is None:
            raise sessions.LoginRejected(f"this session holds no GitHub token: {again}")
        who = session.maintainer
        # Asked before each write: a token revoked (or expired) since the login would
        # otherwise fail as "the governance token was rejected", which it is not.
        try:
            current = device.user(session.token)
        except sessions.DeviceLoginError as exc:
            raise sessions.LoginRejected(
                f"GitHub no longer accepts your login as {who.login} (the token was revoked "
                f"or has expired; {exc}): {again}"
            ) from exc
        if current.id != who.id:
            raise sessions.LoginRejected(
                f"GitHub says this session's token is no longer {who.login}'s: {again}"
            )
        return github.GitHubForge(
            repo=organization().org.governance_repo.repo,
            api_url=settings.github_api_url,
            token=session.token,  # merges and closes as the maintainer
            agent_tokens={who.id: session.token},  # reviews as the maintainer
            governs=True,
        )

    return inbox.Writes(
        kind="github",
        sessions=sessions.Sessions(),
        events=runtime.memory,
        forge_for=forge_for,
        # on GitHub the governance workflow tallies on the merge, close or review
        after=None,
        device=device,
        login_refused=lambda exc: github_calling.http_status(exc) == 401,
    )


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
