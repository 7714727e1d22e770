"""The one place that picks concrete adapters for the current settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from aito.bus.redis import RedisBus
from aito.errors import ConfigError
from aito.forge.base import Forge, Permission
from aito.forge.local import LocalForge
from aito.memory import base
from aito.memory.postgres import PostgresMemory
from aito.org import loading
from aito.services import managing
from aito.settings import Settings


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
    bus: RedisBus

    @property
    def events(self) -> EventLog:
        return EventLog(self.memory)

    def close(self) -> None:
        self.bus.close()


def build(settings: Settings, *, org: loading.Organization | None = None) -> Runtime:
    """Bring the services up (embedded unless URLs are set) and connect to them.

    With ``org``, the schema is migrated and the agents registered (both idempotent),
    so what follows may write history and events for them.
    """
    endpoints = managing.up(settings)
    runtime = Runtime(
        settings=settings,
        endpoints=endpoints,
        memory=PostgresMemory(url=endpoints.postgres_url),
        bus=RedisBus(url=endpoints.redis_url),
    )
    if org is not None:
        runtime.memory.migrate()
        rows = base.agent_rows(org)
        runtime.memory.register_agents(rows)
        runtime.bus.register_agents({row.id: row.definition_hash for row in rows})
    return runtime


def forge(settings: Settings, org: loading.Organization) -> Forge:
    """The governance repo's forge: a local git repo (default) or GitHub (`AITO_FORGE=github`)."""
    if settings.forge == "github":
        from aito.forge import github  # PyGithub is needed only when GitHub is used

        if settings.github_token is None:
            raise ConfigError(
                "AITO_FORGE=github needs AITO_GITHUB_TOKEN (the token that tallies) and "
                "AITO_GITHUB_TOKEN_<AGENT> for each agent that proposes or votes"
            )
        identities = {a: b.id for a, b in org.org.bots.items()} | {
            m.login.lower(): m.id for m in org.org.maintainers
        }
        tokens = {
            identities[name]: token
            for name, token in settings.github_agent_tokens.items()
            if name in identities
        }
        return github.GitHubForge(
            repo=org.org.governance_repo.repo,
            api_url=settings.github_api_url,
            token=settings.github_token,
            agent_tokens=tokens,
        )
    permissions = {bot.id: Permission.WRITE for bot in org.org.bots.values()} | {
        m.id: Permission.ADMIN for m in org.org.maintainers
    }
    return LocalForge(
        repo=settings.repo,
        store=settings.data_dir / "forge",
        base_branch=org.org.governance_repo.branch,
        permissions=permissions,
    )
