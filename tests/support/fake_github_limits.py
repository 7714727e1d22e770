"""The fake GitHub's limits, lost replies and wake-ups (registered by fake_github.py).

Faults, on top of :meth:`FakeGitHub.fail_next` and :meth:`FakeGitHub.rate_limit_next`:

- :func:`secondary_limit_next`: GitHub's secondary-limit answer, a 403 (or 429) whose
  body says "You have exceeded a secondary rate limit…", with ``retry-after``;
- :func:`primary_limit_next`: a spent primary limit (``x-ratelimit-remaining: 0`` and an
  ``x-ratelimit-reset`` epoch), as a 403 or 429;
- :func:`drop_reply_next`: the server **performs** the write, then loses the reply: the
  connection closes with no answer (``"reset"``) or an empty 502 comes back (``"502"``),
  so the client cannot know that it happened;
- :func:`enforce_content_limits`: the server itself counts each token's POST, PATCH, PUT
  and DELETE requests by a given clock and answers the secondary-limit 403 (with
  ``retry-after``) to one past the per-minute or per-hour limit, as GitHub does.

Endpoint: ``POST /repos/{owner}/{repo}/dispatches`` (repository_dispatch) answers 204
and records the event (:func:`dispatches`), after checking the body as GitHub's OpenAPI
description does (``event_type`` 1 to 100 characters, ``client_payload`` an object of at
most 10 top-level properties, the whole under 64 KB).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import weakref
from collections.abc import Callable
from typing import Any

from support.fake_github import (
    DOCS,
    ApiError,
    Context,
    FakeGitHub,
    Fault,
    Json,
    Response,
    route,
)

SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID."
)


def secondary_limit_next(
    server: FakeGitHub,
    *,
    status: int = 403,
    retry_after: int | None = 60,
    times: int = 1,
    method: str | None = None,
    path: str | None = None,
) -> None:
    """The next ``times`` matching requests get GitHub's secondary-limit answer."""
    headers = {} if retry_after is None else {"retry-after": str(retry_after)}
    server.fail_next(
        status=status,
        times=times,
        message=SECONDARY_MESSAGE,
        headers=headers,
        method=method,
        path=path,
    )


def primary_limit_next(
    server: FakeGitHub,
    *,
    reset_at: int,
    status: int = 403,
    times: int = 1,
    method: str | None = None,
    path: str | None = None,
) -> None:
    """A spent primary limit: remaining 0 until ``reset_at`` (epoch seconds)."""
    server.fail_next(
        status=status,
        times=times,
        message="API rate limit exceeded for user.",
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset_at)},
        method=method,
        path=path,
    )


def drop_reply_next(
    server: FakeGitHub,
    *,
    method: str,
    path: str,
    mode: str = "reset",
    times: int = 1,
) -> None:
    """Perform the next ``times`` matching requests, then lose each reply (``mode``:
    ``"reset"`` closes the connection unanswered, ``"502"`` answers an empty 502)."""
    if mode not in ("reset", "502"):
        raise ValueError(f"drop mode is reset or 502, not {mode!r}")
    fault = Fault(None, times, "", {}, method, path, 0.0, drop=mode)
    with server.lock:
        server.faults.append(fault)


@dataclasses.dataclass
class ContentLimits:
    """What :func:`enforce_content_limits` counted: each token's accepted writes (times)
    and the requests it refused."""

    accepted: dict[str, list[float]] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(list)
    )
    refused: int = 0


def enforce_content_limits(
    server: FakeGitHub, *, per_minute: int, per_hour: int, clock: Callable[[], float]
) -> ContentLimits:
    """From now on, a token's write past ``per_minute`` in the last 60 s or ``per_hour``
    in the last hour (by ``clock``) gets GitHub's secondary-limit 403 with ``retry-after``
    (the seconds until it would fit) and is not performed."""
    counted = ContentLimits()
    handle = server.handle

    def limited(
        method: str, raw_path: str, auth: str | None, body: bytes
    ) -> tuple[int, Json, dict[str, str], float]:
        if method in ("POST", "PATCH", "PUT", "DELETE"):
            now = clock()
            with server.lock:
                sent = counted.accepted[auth or "-"]
                minute = [t for t in sent if t > now - 60]
                hour = [t for t in sent if t > now - 3600]
                wait = 0.0
                if len(minute) >= per_minute:
                    wait = minute[-per_minute] + 60 - now
                if len(hour) >= per_hour:
                    wait = max(wait, hour[-per_hour] + 3600 - now)
                if wait > 0:
                    counted.refused += 1
                    data = {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}
                    return 403, data, {"retry-after": str(math.ceil(wait))}, 0.0
                sent.append(now)
        return handle(method, raw_path, auth, body)

    server.handle = limited  # type: ignore[method-assign]
    return counted


# -- repository_dispatch -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Dispatch:
    repo: str
    event_type: str
    client_payload: dict[str, Any]
    sender: str  # the login whose token sent it


_DISPATCHES: weakref.WeakKeyDictionary[FakeGitHub, list[Dispatch]] = weakref.WeakKeyDictionary()


def dispatches(server: FakeGitHub, *, event_type: str | None = None) -> list[Dispatch]:
    """The repository_dispatch events the server received, in order."""
    with server.lock:
        found = list(_DISPATCHES.get(server, []))
    return [d for d in found if event_type is None or d.event_type == event_type]


@route("POST", "/repos/{owner}/{repo}/dispatches")
def _create_dispatch(gh: FakeGitHub, c: Context) -> Response:
    body: Json = c.body if isinstance(c.body, dict) else {}
    event_type = body.get("event_type")
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 100:
        raise ApiError(422, "Invalid request.\n\nevent_type must be 1 to 100 characters.")
    payload = body.get("client_payload", {})
    if not isinstance(payload, dict):
        raise ApiError(
            422, "Invalid request.\n\nFor 'properties/client_payload', is not an object."
        )
    if len(payload) > 10:
        raise ApiError(422, "Invalid request.\n\nclient_payload has more than 10 properties.")
    if len(json.dumps(body)) >= 64 * 1024:
        raise ApiError(422, "Invalid request.\n\nThe payload must be less than 64KB.")
    event = Dispatch(c.repo.full_name, event_type, dict(payload), c.user.login)
    _DISPATCHES.setdefault(gh, []).append(event)
    return 204, None, {}
