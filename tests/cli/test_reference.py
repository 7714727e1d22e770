"""docs/cli.md is the `aito --help` of every command, kept current."""

from __future__ import annotations

from pathlib import Path

from aito.cli import main, reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_current() -> None:
    assert reference.render(main.cli) == DOC.read_text(), "run scripts/docs"


def test_every_command_has_help_text() -> None:
    text = reference.render(main.cli)
    for command in (
        "aito up",
        "aito validate",
        "aito render",
        "aito schema",
        "aito init",
        "aito services up",
        "aito services status",
        "aito services down",
        "aito agent run",
        "aito agent show",
        "aito org show",
    ):
        assert f"## `{command}`" in text
    assert "Exit codes" in text
