"""The one place that picks concrete adapters for the current settings."""

from __future__ import annotations

import dataclasses

from aito.bus.redis import RedisBus
from aito.memory.postgres import PostgresMemory
from aito.services import managing
from aito.settings import Settings


@dataclasses.dataclass
class Runtime:
    """The wired adapters a command works with."""

    settings: Settings
    endpoints: managing.Endpoints
    memory: PostgresMemory
    bus: RedisBus

    def close(self) -> None:
        self.bus.close()


def build(settings: Settings) -> Runtime:
    """Bring the services up (embedded unless URLs are set) and connect to them."""
    endpoints = managing.up(settings)
    return Runtime(
        settings=settings,
        endpoints=endpoints,
        memory=PostgresMemory(url=endpoints.postgres_url),
        bus=RedisBus(url=endpoints.redis_url),
    )
