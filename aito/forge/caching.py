"""Repository content kept by content hash: a git object never changes once written.

A blob, a tree or a commit is named by the hash of its content, so what was read
once under that name is what any later read would return: both forges keep what
they read here and ask the server (GitHub) or git again only for names they have
not seen. A branch name is not a content hash (it moves), so it is always resolved
afresh; a full hexadecimal object id is (git reads a 40- or 64-digit hex string as
an object id before any ref of that name).

The caches are bounded (least recently used out first) so a long-lived process
(the orchestrator, `aito demo`) does not grow without end, and thread-safe.
"""

from __future__ import annotations

import collections
import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

V = TypeVar("V")
T = TypeVar("T")

BLOB_BYTES = 64 * 1024 * 1024
"""Blob contents kept per forge (64 MiB: every org file many times over)."""
ENTRIES = 200_000
"""Tree entries (a file or directory each) and resolved commits kept per forge."""

_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def is_object_id(ref: str) -> bool:
    """A full SHA-1 or SHA-256 object id in lower-case hex (never a moving ref)."""
    return _OBJECT_ID.fullmatch(ref) is not None


def object_id(kind: str, data: bytes, *, like: str) -> str:
    """git's id of an object of ``kind`` (``blob``, ``tree``…) holding ``data``, in the
    hash ``like`` uses (SHA-1 for 40 hex digits, SHA-256 for 64): what `git hash-object`
    prints. Content from anywhere is trusted for an id only when this matches it."""
    digest = hashlib.sha256 if len(like) == 64 else hashlib.sha1
    header = f"{kind} {len(data)}\0".encode()
    return digest(header + data, usedforsecurity=True).hexdigest()


def under(path: str, prefixes: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``prefixes`` or inside one (``""`` or ``"/"``: all).

    Prefixes are literal paths, not globs: ``org`` and ``org/`` both mean the `org`
    directory (or a file named `org`), never `org2/`.
    """
    stems = [prefix.strip("/") for prefix in prefixes]
    return any(not stem or path == stem or path.startswith(f"{stem}/") for stem in stems)


class Lru(Generic[V]):
    """Values by content hash, least recently used out first past ``max_weight``.

    ``weigh`` gives each value's weight (bytes for blobs; 1 per entry by default).
    """

    def __init__(self, *, max_weight: int, weigh: Callable[[V], int] = lambda _: 1) -> None:
        if max_weight <= 0:
            raise ValueError("max_weight must be positive")
        self.max_weight = max_weight
        self._weigh = weigh
        self._items: collections.OrderedDict[str, tuple[V, int]] = collections.OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: str, value: V) -> V:
        """Keep ``value`` (a value heavier than the whole cache is returned, not kept)."""
        weight = self._weigh(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            if weight > self.max_weight:
                return value
            self._items[key] = (value, weight)
            self._weight += weight
            while self._weight > self.max_weight:
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped
        return value

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def weight(self) -> int:
        with self._lock:
            return self._weight


def blob_cache(max_bytes: int = BLOB_BYTES) -> Lru[bytes]:
    """Blob contents by blob id, bounded by their total size."""
    return Lru(max_weight=max_bytes, weigh=len)


def listing_cache(max_entries: int = ENTRIES) -> Lru[list[T]]:
    """Lists (tree entries, file listings) by object id, bounded by their total length."""
    return Lru(max_weight=max_entries, weigh=lambda items: len(items) + 1)
