"""What one wake-up works with: the organization, the services and the model."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from aito.bus.redis import RedisBus
from aito.forge.base import Forge
from aito.llm.base import Model
from aito.memory.embedding import Embedder
from aito.memory.postgres import PostgresMemory


@dataclasses.dataclass
class LoopPorts:
    """The adapters of one agent loop, wired by :mod:`aito.bootstrap`.

    ``governance`` is the governance repo's forge; ``repo_forge(key)`` the forge of a
    department repository (a `repos` key of org.yaml). ``clock`` is the only source
    of "now" (the demo accelerates it).
    """

    memory: PostgresMemory
    bus: RedisBus
    governance: Forge
    repo_forge: Callable[[str], Forge]
    model: Model
    embedder: Embedder | None
    clock: Callable[[], dt.datetime]
