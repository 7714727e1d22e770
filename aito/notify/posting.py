"""One JSON POST over httpx, its failures translated and its secrets kept out of messages.

httpx comes with the Anthropic SDK. The URL may hold a secret (a webhook URL is one; the
Telegram token is in the path), so no message here quotes it, and the library's own
exception is not chained (its text and its request may carry the URL).
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.notify import base

USER_AGENT = "aito-notify"


def post_json(
    client: httpx.Client, *, url: str, payload: dict[str, Any], service: str, secrets: list[str]
) -> httpx.Response:
    """POST ``payload`` to ``url``; a TemporaryAdapterError when no answer came back."""
    try:
        return client.post(url, json=payload, headers={"User-Agent": USER_AGENT})
    except httpx.InvalidURL:
        raise PermanentAdapterError(service, "the URL is not usable (check its setting)") from None
    except httpx.TimeoutException:
        raise TemporaryAdapterError(service, "no answer in time (timeout)") from None
    except httpx.HTTPError as exc:
        said = base.masked(str(exc), [url, *secrets])
        raise TemporaryAdapterError(
            service, f"cannot reach the server ({type(exc).__name__}: {said[:200]})"
        ) from None


def retry_after_header(response: httpx.Response, default: float = 1.0) -> float:
    """The seconds a `Retry-After` header asks for (a number or an HTTP date)."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def short_text(response: httpx.Response, limit: int = 200) -> str:
    """The start of a response's body, one line (what a server said about a refusal)."""
    text = " ".join(response.text.split())
    return text if len(text) <= limit else text[:limit] + "…"
