"""What connectors share: failures they foresee reach the model as a tool error with
their message (anything else is a crash, and the SDK withholds its text)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from mcp.server.mcpserver.exceptions import ToolError

from aito.errors import AitoError

MASK = "[secret]"


@contextlib.contextmanager
def foreseen(*secrets: str) -> Iterator[None]:
    """Turn AITO's own errors (a host not allowed, a page too large, a service away) and
    bad input (ValueError) into the tool error the model reads.

    ``secrets`` (a token in a URL's path, a webhook's address) are masked in the message,
    whatever failed, and the original error is not chained (its text, or its request's,
    may hold them)."""
    hidden = sorted({s for s in secrets if s}, key=len, reverse=True)
    try:
        yield
    except (AitoError, ValueError) as exc:
        if not hidden:
            raise ToolError(str(exc)) from exc
        raise ToolError(masked(str(exc), hidden)) from None
    except Exception as exc:
        if not hidden:
            raise
        raise ToolError(masked(f"{type(exc).__name__}: {exc}", hidden)) from None


def masked(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def quiet_requests() -> None:
    """httpx logs each request's URL at INFO (`aito -v`, on the server's stderr): off,
    for a connector whose URLs hold a secret (and httpcore's traces with it)."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
