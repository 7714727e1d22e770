"""What `aito services` reports about each service."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class ServiceStatus:
    name: str  # "postgres" or "redis"
    embedded: bool
    running: bool
    url: str | None  # with any password masked
    pid: int | None = None
    data_dir: Path | None = None
    version: str | None = None
    detail: str = ""
