"""Pages of a listing and the opaque cursor that resumes one after its last row."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")
R = TypeVar("R")

MAX_LIMIT = 1000
"""No page is longer than this, whatever is asked."""


class BadCursor(ValueError):
    """A cursor this code did not make (edited, truncated): the page cannot be found."""


class Page(BaseModel, Generic[T]):
    """Some rows of a listing; ``next`` resumes after the last one (None: no more)."""

    items: list[T]
    next: str | None = None
    limit: int


def encode(*parts: str | int | dt.datetime) -> str:
    """An opaque, URL-safe cursor for the key of the last row shown."""
    plain = [p.isoformat() if isinstance(p, dt.datetime) else p for p in parts]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode(cursor: str, *kinds: type) -> tuple[object, ...]:
    """The key a cursor holds, each part of the given kind (str, int, dt.datetime)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("not a cursor of this listing") from exc
    if not isinstance(parts, list) or len(parts) != len(kinds):
        raise BadCursor("not a cursor of this listing")
    found: list[object] = []
    for part, kind in zip(parts, kinds, strict=True):
        if kind is dt.datetime and isinstance(part, str):
            try:
                moment = dt.datetime.fromisoformat(part)
            except ValueError as exc:
                raise BadCursor("not a cursor of this listing") from exc
            if moment.tzinfo is None:
                raise BadCursor("not a cursor of this listing")
            found.append(moment)
        elif kind in (str, int) and type(part) is kind:
            found.append(part)
        else:
            raise BadCursor("not a cursor of this listing")
    return tuple(found)


def clamp(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def page_of(
    found: Sequence[R],
    *,
    limit: int,
    item: Callable[[R], T],
    key: Callable[[T], tuple[str | int | dt.datetime, ...]],
) -> Page[T]:
    """The page a read of ``limit + 1`` rows gives: the first ``limit`` as items, and a
    cursor after the last of them when the extra row says there are more."""
    items = [item(row) for row in found[:limit]]
    more = len(found) > limit and items
    return Page[T](items=items, next=encode(*key(items[-1])) if more else None, limit=limit)
