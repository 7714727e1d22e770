"""The AITO exception tree.

Every error AITO raises on purpose derives from :class:`AitoError`; the CLI turns
it into a one-line message with a fix and an exit code (anything else is a bug)::

    AitoError
     ├─ ConfigError            bad settings or a missing secret; says how to fix
     ├─ OrgDefinitionError     org/ or profiles/ is invalid; carries file:line problems
     ├─ GovernanceError        illegal transition, unknown decision
     ├─ PermissionDenied       an agent tried what its definition does not allow
     ├─ ConflictError          someone else changed it first (optimistic concurrency)
     └─ AdapterError(service)
         ├─ TemporaryAdapterError(retry_after)   rate limits, 5xx, timeouts: retry with backoff
         └─ PermanentAdapterError                auth, not found, bad request: do not retry
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


class AitoError(Exception):
    """Base of every error AITO raises on purpose."""

    exit_code = 1


class ConfigError(AitoError):
    """Settings are wrong or missing; the message says which variable to set."""

    exit_code = 3


@dataclasses.dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the organization definition, located in a file."""

    file: Path
    line: int
    message: str
    column: int = 0

    def render(self, root: Path | None = None) -> str:
        """`file:line: message`, with the file relative to ``root`` when possible."""
        return f"{self.display_path(root)}:{self.line}: {self.message}"

    def display_path(self, root: Path | None = None) -> str:
        if root is not None:
            try:
                return self.file.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                pass
        return self.file.as_posix()


class OrgDefinitionError(AitoError):
    """The organization in org/ and profiles/ is invalid; ``problems`` says where and why."""

    exit_code = 1

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        first = self.problems[0].render() if self.problems else "no details"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"invalid organization: {first}{more}; run `aito validate` for all")


class GovernanceError(AitoError):
    """A decision cannot move the way it was asked to."""

    exit_code = 4


class PermissionDenied(AitoError):
    """An agent tried something its definition does not allow."""

    exit_code = 5


class ConflictError(AitoError):
    """The value changed since it was read (another run wrote first): read again, retry."""

    exit_code = 7


class AdapterError(AitoError):
    """An outside service (Postgres, Redis, GitHub, …) failed."""

    exit_code = 6

    def __init__(self, service: str, message: str) -> None:
        self.service = service
        super().__init__(f"{service}: {message}")


class TemporaryAdapterError(AdapterError):
    """Worth retrying after ``retry_after`` seconds (rate limit, 5xx, timeout, restart)."""

    def __init__(self, service: str, message: str, *, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(service, message)


class PermanentAdapterError(AdapterError):
    """Retrying will not help (auth, not found, bad request)."""
