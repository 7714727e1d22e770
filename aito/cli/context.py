"""What every command shares: settings, output mode, and the error seam."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from aito.settings import Settings


@dataclasses.dataclass
class CliState:
    repo: Path | None
    data_dir: Path | None

    def settings(self) -> Settings:
        base = Settings.from_env(repo=self.repo)
        if self.data_dir is not None:
            base = base.model_copy(update={"data_dir": self.data_dir.resolve()})
        return base


def state(ctx: click.Context) -> CliState:
    found = ctx.find_object(CliState)
    if found is None:  # a command invoked on its own (tests): defaults
        found = CliState(repo=None, data_dir=None)
        ctx.obj = found
    return found


def progress(message: str) -> None:
    """A progress line on stderr, so stdout stays clean for `--json`."""
    click.echo(message, err=True)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def fail(message: str, *, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
