"""The one place that picks concrete adapters for the current settings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aito.agent import acting, running, scheduling
from aito.agent.ports import LoopPorts
from aito.bus import services, waking
from aito.decisions import reading
from aito.errors import ConfigError
from aito.forge.base import Forge, Identity, Permission
from aito.forge.local import LocalForge
from aito.llm import offline
from aito.llm.base import Model
from aito.memory import base, embedding
from aito.memory.embedding import Embedder
from aito.memory.postgres import PostgresMemory
from aito.org import loading
from aito.org.agents import Layer
from aito.runtime import base as runtime_base
from aito.runtime import client, inprocess, launching, sandbox, working
from aito.services import managing
from aito.settings import Settings
from aito.toolbox import hub

if TYPE_CHECKING:  # PyGithub is loaded only when GitHub is used
    from aito.forge.credentials import GitHubCredentials


class EventLog:
    """The bus's `EventSink`: audit events go to the append-only Postgres `events` table."""

    def __init__(self, memory: PostgresMemory) -> None:
        self._memory = memory

    def append(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        source_agent: str | None = None,
        target_agent: str | None = None,
    ) -> None:
        self._memory.append_event(
            event_type=event_type,
            payload=dict(payload),
            source_agent=source_agent,
            target_agent=target_agent,
        )


@dataclasses.dataclass
class Runtime:
    """The wired adapters a command works with."""

    settings: Settings
    endpoints: managing.Endpoints
    memory: PostgresMemory
    bus: services.BusServices

    @property
    def events(self) -> EventLog:
        return EventLog(self.memory)

    def close(self) -> None:
        self.bus.close()
        self.memory.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def build(
    settings: Settings, *, org: loading.Organization | None = None, pool_size: int = 0
) -> Runtime:
    """Bring the services up (embedded unless URLs are set) and connect to them.

    With ``org``, the schema is migrated and the agents registered (both idempotent),
    so what follows may write history and events for them. Under GitHub Actions (strict
    settings) embedded services are refused: the error names the missing secret.
    """
    refuse_fallbacks(settings, services=True)
    endpoints = managing.up(settings)
    runtime = Runtime(
        settings=settings,
        endpoints=endpoints,
        memory=PostgresMemory(url=endpoints.postgres_url, pool_size=pool_size),
        bus=services.BusServices(url=endpoints.redis_url),
    )
    if org is not None:
        runtime.memory.migrate()
        rows = base.agent_rows(org)
        runtime.memory.register_agents(rows)
        runtime.bus.register_agents({row.id: row.definition_hash for row in rows})
    return runtime


def refuse_fallbacks(
    settings: Settings, *, model: bool = False, forge: bool = False, services: bool = False
) -> None:
    """Under GitHub Actions (``GITHUB_ACTIONS=true``, no ``AITO_ALLOW_OFFLINE=1``) refuse
    the offline model, the local forge and embedded services: a ConfigError naming each
    missing secret or variable."""
    problems = settings.live_problems(model=model, forge=forge, services=services)
    if problems:
        raise ConfigError(
            "refused under GitHub Actions (GITHUB_ACTIONS=true): "
            + "; ".join(problems)
            + ". Set them, or AITO_ALLOW_OFFLINE=1 to run on the offline model, local forge "
            "and embedded services on purpose (act, tests)"
        )


def governs(settings: Settings) -> bool:
    """Whether this process may act as the governance bot: always on the local forge; on
    GitHub only with the governance App's key (or `AITO_GITHUB_TOKEN`)."""
    return settings.forge != "github" or (
        settings.governance_app is not None or settings.github_token is not None
    )


Tokens = dict[str, "GitHubCredentials"]
"""GitHub token sources by repository (``owner/name``), shared by a command's forges so a
token a preflight minted is used, not minted again."""


def github_credentials(
    settings: Settings,
    org: loading.Organization,
    *,
    repo: str | None = None,
    tokens: Tokens | None = None,
) -> GitHubCredentials:
    """The GitHub token sources for ``repo`` (default: the governance repo), from
    ``tokens`` when it holds them (else built, and kept there)."""
    from aito.forge import credentials

    chosen = repo or org.org.governance_repo.repo
    if tokens is not None and chosen in tokens:
        return tokens[chosen]
    found = credentials.build(settings, org, repo=chosen)
    if tokens is not None:
        tokens[chosen] = found
    return found


def preflight_agents(settings: Settings, org: loading.Organization, agent_ids: list[str]) -> Tokens:
    """What an agent run checks before any model call: no fallback under GitHub Actions,
    and on GitHub each agent's own token can be had, on the governance repo and on its
    department repo, with the permissions its work needs
    (:data:`aito.forge.credentials.AGENT_PERMISSIONS`). The tokens, for :func:`loop_ports`."""
    refuse_fallbacks(settings, model=True, forge=True, services=True)
    tokens: Tokens = {}
    if settings.forge != "github":
        return tokens
    from aito.forge import credentials

    credentials.check_agents(github_credentials(settings, org, tokens=tokens), agent_ids)
    for agent_id in agent_ids:
        git = org.agents[agent_id].git
        repo = org.org.repos.get(git.repo, git.repo)  # a key, or owner/name, or `*`
        if repo != "*" and repo != org.org.governance_repo.repo:
            found = github_credentials(settings, org, repo=repo, tokens=tokens)
            credentials.check_agents(found, [agent_id])
    return tokens


def preflight_tally(settings: Settings, org: loading.Organization) -> Tokens:
    """What a tally checks first: no fallback under GitHub Actions, and on GitHub the
    governance token with :data:`aito.forge.credentials.GOVERNANCE_PERMISSIONS`."""
    refuse_fallbacks(settings, forge=True, services=True)
    tokens: Tokens = {}
    if settings.forge == "github":
        from aito.forge import credentials

        if org.org.governance_repo.bot is None and settings.strict:
            # Without it the tally trusts GitHub Actions' own bot, which any workflow a
            # pushed branch brings runs as.
            raise ConfigError(
                "org/org.yaml names no governance_repo.bot: record the governance App "
                "(`aito github apps record governance …`) before the tally runs on GitHub"
            )
        credentials.check_governance(github_credentials(settings, org, tokens=tokens))
    return tokens


def forge(
    settings: Settings,
    org: loading.Organization,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    tokens: Tokens | None = None,
) -> Forge:
    """The governance repo's forge: a local git repo (default) or GitHub (`AITO_FORGE=github`).

    On GitHub each agent writes with its own token (``tokens``, default: from the
    settings); where no governance token is set (an agent's job) the forge reads with the
    agent's and refuses governance writes."""
    refuse_fallbacks(settings, forge=True)
    if settings.forge == "github":
        from aito.forge import credentials, github  # PyGithub only when GitHub is used

        found = github_credentials(settings, org, tokens=tokens)
        return github.GitHubForge(
            repo=org.org.governance_repo.repo,
            api_url=settings.github_api_url,
            token=credentials.reader(found),
            agent_tokens=found.by_bot,
            # who the tally writes as (`governance_repo.bot`, else Actions' own bot)
            governance_id=reading.governance_identity(org).id,
            governs=found.governance is not None,
            token_hints=found.hints,
            # the checkout's objects spare a request per blob (taken only by their hash)
            local_objects=settings.repo if (settings.repo / ".git").exists() else None,
        )
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    # No permissions map: the local forge reads maintainers and bots from the governance
    # branch as committed, never from the working tree this org was loaded from.
    return LocalForge(
        repo=settings.repo,
        store=settings.data_dir / "forge",
        base_branch=org.org.governance_repo.branch,
        **extra,
    )


def waker(
    settings: Settings, runtime: Runtime, org: loading.Organization, governance: Forge
) -> waking.Waker:
    """How addressed agents are woken: on GitHub (`AITO_FORGE=github`) a repository_dispatch
    `aito-wake-<id>` on the governance repo, one pending per agent (expiring after its job
    timeout); on the local forge nothing (the daemon's runs listen on the bus). Set it as
    ``runtime.bus.waker`` so everything the bus delivers wakes its recipients."""
    if settings.forge != "github":
        return waking.NoWaker()
    from aito.forge import github, github_waking

    if not isinstance(governance, github.GitHubForge):
        return waking.NoWaker()
    bots = {name: Identity(login=bot.login, id=bot.id) for name, bot in org.org.bots.items()}
    # Who sends an agent's wakes: its own bot, or a worker's manager's (else the CEO's), as
    # its actions are made (aito.agent.effects); anything else (the tally) governance's.
    acting = {}
    for spec in org.agents.values():
        owner = spec.id if spec.id in bots else spec.reports_to
        acting[spec.id] = bots.get(owner or "") or bots.get("ceo")
    timeouts = {
        spec.id: (spec.loop.timeout_minutes or org.org.defaults.timeout_minutes)
        for spec in org.agents.values()
        if spec.loop is not None and spec.layer is not Layer.WORKER  # those with a workflow
    }
    return waking.DebouncedWaker(
        runtime.bus,
        send=github_waking.GitHubWakes(
            governance, bots={agent: bot for agent, bot in acting.items() if bot is not None}
        ),
        ttl_seconds=waking.wake_ttls(timeouts),
    )


def model(settings: Settings, *, seed: int = 0) -> Model:
    """Anthropic when configured (`AITO_MODEL`, `ANTHROPIC_API_KEY`), else the offline model
    (refused under GitHub Actions unless `AITO_ALLOW_OFFLINE=1`); in a container, the
    launcher's gateway (`AITO_MODEL_GATEWAY`), which holds the key and the budget."""
    if settings.model_gateway is not None:
        return client.GatewayModel(
            client.GatewayClient(settings.model_gateway), provider=settings.model_provider
        )
    refuse_fallbacks(settings, model=True)
    if settings.model_provider == "anthropic":
        from aito.llm import anthropic  # the SDK is loaded only when it is used

        if settings.anthropic_api_key is None:
            raise ConfigError("AITO_MODEL=anthropic needs ANTHROPIC_API_KEY")
        return anthropic.AnthropicModel(
            api_key=settings.anthropic_api_key, base_url=settings.anthropic_base_url
        )
    return offline.OfflineModel(seed=seed)


def department_forge(
    settings: Settings,
    org: loading.Organization,
    repo_key: str,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    tokens: Tokens | None = None,
) -> Forge:
    """The forge of a department repository (a `repos` key of org.yaml).

    Locally each department repo is a git repository of its own under
    `<data dir>/repos/<key>` (created on first use, with one initial commit), so
    agents' pull requests are real branches and merges there.
    """
    if repo_key not in org.org.repos:
        raise ConfigError(f"{repo_key!r} is not a repos key of org.yaml")
    if settings.forge == "github":
        from aito.forge import credentials, github

        repo = org.org.repos[repo_key]
        found = github_credentials(settings, org, repo=repo, tokens=tokens)
        return github.GitHubForge(
            repo=repo,
            api_url=settings.github_api_url,
            token=credentials.reader(found),
            agent_tokens=found.by_bot,
            governs=found.governance is not None,
            token_hints=found.hints,
        )
    root = settings.data_dir / "repos" / repo_key
    if not (root / ".git").exists():
        _init_repo(root, title=f"{org.org.repos[repo_key]} (local copy for AITO)")
    permissions = {bot.id: Permission.WRITE for bot in org.org.bots.values()} | {
        m.id: Permission.ADMIN for m in org.org.maintainers
    }
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return LocalForge(
        repo=root,
        store=settings.data_dir / "repos" / f"{repo_key}.forge",
        base_branch="main",
        permissions=permissions,
        **extra,
    )


def loop_ports(
    settings: Settings,
    runtime: Runtime,
    org: loading.Organization,
    *,
    llm: Model | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    embedder: Embedder | bool | None = True,
    tokens: Tokens | None = None,
) -> LoopPorts:
    """Everything an agent loop needs, on the embedded defaults unless settings say
    otherwise (``tokens``: the GitHub credentials a preflight checked)."""
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    forges: dict[str, Forge] = {}
    shared: Tokens = {} if tokens is None else tokens

    def repo_forge(key: str) -> Forge:
        if key not in forges:
            forges[key] = department_forge(settings, org, key, clock=clock, tokens=shared)
        return forges[key]

    governance = forge(settings, org, clock=clock, tokens=shared)
    runtime.bus.waker = waker(settings, runtime, org, governance)
    chosen: Embedder | None
    if embedder is True:
        chosen = embedding.embedder_for(settings)
    elif embedder is False:
        chosen = None
    else:
        chosen = embedder
    return LoopPorts(
        memory=runtime.memory,
        bus=runtime.bus,
        governance=governance,
        repo_forge=repo_forge,
        model=llm or model(settings),
        embedder=chosen,
        clock=now,
        waker=runtime.bus.waker,
        dry_run=settings.dry_run,
        # MCP servers run on the trusted side; a run inside a container has none of its own
        tools=hub.Hub
        if settings.model_gateway is None
        else client.gateway_tools(settings.model_gateway),
    )


def containers(settings: Settings) -> runtime_base.Runtime:
    """Where containers run: the Docker engine (`AITO_RUNTIME=docker`), else threads."""
    if settings.runtime == "docker":
        from aito.runtime import docker_engine  # the docker SDK only when it is used

        return docker_engine.DockerRuntime()
    return inprocess.InProcessRuntime({"aito worker exec": working.in_process})


def launcher(
    settings: Settings,
    wired: Runtime,
    org: loading.Organization,
    ports: LoopPorts,
    *,
    tokens: Tokens,
    engine: runtime_base.Runtime | None = None,
) -> launching.Launcher:
    """The trusted launcher of wake-ups in containers: what each container may reach is
    decided here, from the settings the launcher itself was given."""

    def agent_token(agent_id: str) -> str | None:
        if settings.forge != "github":
            return None
        found = github_credentials(settings, org, tokens=tokens)
        return found.agent(agent_id).token().get_secret_value()

    embeddings: list[tuple[str, str]] = [("AITO_EMBEDDINGS", settings.embeddings)]
    for name, value in (
        ("AITO_EMBEDDINGS_URL", settings.embeddings_url),
        ("AITO_EMBEDDINGS_MODEL", settings.embeddings_model),
        (
            "AITO_EMBEDDINGS_API_KEY",
            settings.embeddings_api_key.get_secret_value() if settings.embeddings_api_key else None,
        ),
    ):
        if value:
            embeddings.append((name, value))
    return launching.Launcher(
        runtime=engine or containers(settings),
        ports=ports,
        org=org,
        model=ports.model,
        image=settings.image,
        network=settings.agent_network,
        reach=launching.Reach(
            postgres_url=wired.endpoints.postgres_url,
            redis_url=wired.endpoints.redis_url,
            forge=settings.forge,
            repo=settings.repo,
            data_dir=settings.data_dir,
            model_provider=settings.model_provider,
            github_api_url=settings.github_api_url,
            embeddings=tuple(embeddings),
        ),
        agent_token=agent_token,
    )


def wake_runner(
    settings: Settings,
    wired: Runtime,
    org: loading.Organization,
    ports: LoopPorts,
    *,
    tokens: Tokens,
) -> scheduling.Waking:
    """What runs each wake-up: with AITO_RUNTIME=docker (outside a container) the trusted
    launcher, each wake-up in a container of AITO_IMAGE; else this process."""
    if settings.runtime == "docker" and settings.model_gateway is None:
        return launcher(settings, wired, org, ports, tokens=tokens)
    return running.Runner(ports, spawn=worker_spawn(settings, ports))


def worker_spawn(settings: Settings, ports: LoopPorts) -> acting.RunWorker:
    """How an in-process run's workers run: inside a container they are the launcher's to
    start (through the gateway); right here, through the same gateway and checks, with
    threads for containers."""
    if settings.model_gateway is not None:
        return client.spawner(client.GatewayClient(settings.model_gateway))
    return sandbox.SandboxWorkers(
        ports=ports,
        runtime=containers(settings.model_copy(update={"runtime": "inprocess"})),
        image=settings.image,
        user=launching.container_user(),
    )


def _init_repo(root: Path, *, title: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "aito",
        "GIT_AUTHOR_EMAIL": "aito@localhost",
        "GIT_COMMITTER_NAME": "aito",
        "GIT_COMMITTER_EMAIL": "aito@localhost",
    }
    (root / "README.md").write_text(f"# {title}\n", encoding="utf-8")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "README.md"],
        ["commit", "-q", "-m", "Initial commit"],
    ):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
