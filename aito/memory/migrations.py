"""The numbered SQL migrations shipped in `aito/memory/migrations/` (pure: no database)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from importlib import resources

_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def shipped() -> list[Migration]:
    """Every migration, in version order."""
    found = []
    for entry in resources.files("aito.memory").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match["version"]), match["name"], entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)
