"""What `aito github doctor` reports: one finding per thing checked."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Finding:
    """One check on one subject: it holds (``ok``), or what is missing and the exact fix."""

    check: str  # repos, apps, protection, codeowners, environment, secrets, variables, …
    subject: str  # what was checked: a repository, an App, a secret's name, …
    ok: bool
    message: str
    fix: str | None = None
