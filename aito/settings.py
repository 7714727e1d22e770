"""Settings from the environment: the only module that reads ``os.environ``.

- `AITO_REPO`: the governance repo (holds org/ and profiles/); default: the current directory
- `AITO_DATA_DIR`: where embedded services keep their data; default `<repo>/.aito`
- `POSTGRES_URL`: use this Postgres (with the pgvector extension) instead of the embedded one
- `REDIS_URL`: use this Redis instead of the embedded one
- `GITHUB_RUN_ID`: set by GitHub Actions; names a wake-up so a re-run is recognised
  (ignored under act, where `ACT` is set and every run is number 1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr


class Settings(BaseModel):
    """Where the organization lives and which services AITO talks to."""

    model_config = ConfigDict(frozen=True)

    repo: Path
    data_dir: Path
    postgres_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    github_run_id: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, repo: Path | None = None
    ) -> Settings:
        """Build settings from ``env`` (default: the process environment).

        ``repo`` (e.g. the CLI's ``--repo``) wins over ``AITO_REPO``.
        """
        source = os.environ if env is None else env
        chosen_repo = repo or Path(source.get("AITO_REPO") or Path.cwd())
        chosen_repo = chosen_repo.expanduser().resolve()
        data_dir = Path(source.get("AITO_DATA_DIR") or chosen_repo / ".aito").expanduser()
        return cls(
            repo=chosen_repo,
            data_dir=data_dir.resolve(),
            postgres_url=_secret(source.get("POSTGRES_URL")),
            redis_url=_secret(source.get("REDIS_URL")),
            github_run_id=None if source.get("ACT") else source.get("GITHUB_RUN_ID") or None,
        )


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None
