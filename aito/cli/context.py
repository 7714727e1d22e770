"""What every command shares: settings, the organization, services, output, the error seam."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from aito import bootstrap
from aito.errors import ConfigError
from aito.org import loading
from aito.services import managing
from aito.settings import Settings


@dataclasses.dataclass
class CliState:
    """The global options, and what one invocation loads once: settings and the org."""

    repo: Path | None
    data_dir: Path | None
    _settings: Settings | None = None
    _org: loading.Organization | None = None

    def settings(self) -> Settings:
        """Settings from the environment and the global options (no side effect)."""
        if self._settings is None:
            base = Settings.from_env(repo=self.repo)
            if self.data_dir is not None:
                base = base.model_copy(update={"data_dir": self.data_dir.resolve()})
            self._settings = base
        return self._settings

    def service_settings(self, *, org: bool = True) -> Settings:
        """Settings for a command that keeps data: the data directory must be usable (exit 3).

        With ``org`` the organization is loaded first, so a wrong ``--repo`` fails
        (exit 1) before a data directory is made under it.
        """
        if org:
            self.organization()
        settings = self.settings()
        managing.prepare_data_dir(settings.data_dir)
        return settings

    def organization(self) -> loading.Organization:
        """The valid organization in the governance repo (exit 1 with file:line if not)."""
        if self._org is None:
            self._org = loading.load_valid(self.settings().repo)
        return self._org


def state(ctx: click.Context) -> CliState:
    found = ctx.find_object(CliState)
    if found is None:  # a command invoked on its own (tests): defaults
        found = CliState(repo=None, data_dir=None)
        ctx.obj = found
    return found


@contextlib.contextmanager
def runtime(
    settings: Settings, *, org: loading.Organization | None = None, pool_size: int = 0
) -> Iterator[bootstrap.Runtime]:
    """The wired services for one command; says on stderr when it had to start them."""
    with bootstrap.build(settings, org=org, pool_size=pool_size) as wired:
        started = wired.endpoints.started
        if started:
            names = " and ".join({"postgres": "Postgres", "redis": "Redis"}[s] for s in started)
            progress(
                f"started the embedded {names} in {settings.data_dir} (they keep running for "
                "the next command; `aito services down` stops them)"
            )
        yield wired


def refuse_source_checkout(settings: Settings) -> None:
    """Commands that commit through the local forge do not write into AITO's own checkout.

    AITO's source checkout carries the example organization in `org/`, so it validates
    as a governance repo; but agents' branches, merges and task records have no place
    in it. Such commands exit 3 and point to the demo repo or `aito init`.
    """
    if settings.forge != "local" or not is_source_checkout(settings.repo):
        return
    raise ConfigError(
        f"{settings.repo} is AITO's source checkout, not a governance repo to act in: this "
        "command would commit, branch or merge there. Try it on the demo's repo "
        "(`aito demo`, then `aito --repo .aito/demo …`) or make your own with `aito init DIR`"
    )


def is_source_checkout(repo: Path) -> bool:
    """True for a checkout of AITO itself (its package and pyproject beside `org/`)."""
    pyproject = repo / "pyproject.toml"
    if not ((repo / "aito" / "__init__.py").is_file() and pyproject.is_file()):
        return False
    try:
        text = pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.replace(" ", "") == 'name="aito"' for line in text.splitlines())


def progress(message: str) -> None:
    """A progress line on stderr, so stdout stays clean for `--json`."""
    click.echo(message, err=True)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=_json_value))


def _json_value(value: Any) -> Any:
    """What JSON lacks: amounts (Postgres numerics) as numbers, times as ISO 8601."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def fail(message: str, *, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
