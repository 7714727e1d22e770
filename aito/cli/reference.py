"""The CLI reference in docs/cli.md, generated from the commands' own help.

`scripts/docs` writes it; a test fails when it is stale, so the docs never drift
from `aito --help`.
"""

from __future__ import annotations

import click


def render(root: click.Group) -> str:
    """Markdown with the help of every command, depth first."""
    parts = [
        "# `aito` command reference\n",
        "Generated from `aito --help` by `scripts/docs`; do not edit by hand.\n",
    ]
    _walk(root, ["aito"], parts, None)
    return "\n".join(parts)


def _walk(
    command: click.Command, path: list[str], parts: list[str], parent: click.Context | None
) -> None:
    # Children inherit the root's context settings (e.g. `-h`), as in a real invocation.
    settings = {"terminal_width": 100, **command.context_settings}
    ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
    text = command.get_help(ctx)
    parts.append(f"## `{' '.join(path)}`\n\n```text\n{text}\n```\n")
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _walk(sub, [*path, name], parts, ctx)
