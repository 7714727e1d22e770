"""The `aito` console script: Ctrl-C at any moment is a quiet exit 130, never a traceback.

Importing the command line takes a moment (pydantic models, the SDKs); an interrupt
during that import would otherwise print Python's traceback before
:func:`aito.cli.main.main`, which turns every later interrupt into exit 130, could
catch it. So the script imports it here, where the interrupt is caught.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from aito.cli import main as command_line
    except KeyboardInterrupt:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    command_line.main()
