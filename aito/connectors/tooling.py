"""What connectors share: failures they foresee reach the model as a tool error with
their message (anything else is a crash, and the SDK withholds its text)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mcp.server.mcpserver.exceptions import ToolError

from aito.errors import AitoError


@contextlib.contextmanager
def foreseen() -> Iterator[None]:
    """Turn AITO's own errors (a host not allowed, a page too large, a service away) and
    bad input (ValueError) into the tool error the model reads."""
    try:
        yield
    except (AitoError, ValueError) as exc:
        raise ToolError(str(exc)) from exc
