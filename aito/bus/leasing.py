"""A lock that belongs to a living holder: renewed in the background, lost when it dies.

`Lease` takes a lock (`lock:container:{agent}` for a run) with a short TTL and renews
it from a daemon thread every third of that TTL, so it lasts exactly as long as the
process that holds it: a crashed holder's lease expires within one TTL. With an
``owner`` (the run id), a re-run of the same wake-up takes over the lease its dead
predecessor left at once; any other caller waits up to ``wait_seconds``, then gets a
:class:`TemporaryAdapterError`.

A holder that lost its lease (taken over, or not renewed within the TTL because
Redis was away) must stop: :meth:`Lease.check` raises :class:`LeaseLost`, and the
loop calls it between its steps.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Protocol

from aito.errors import AdapterError, ConflictError, TemporaryAdapterError

log = logging.getLogger(__name__)


class Locks(Protocol):
    def try_lock(
        self, name: str, *, ttl_seconds: float, token: str | None = None, owner: str | None = None
    ) -> str | None: ...

    def renew_lock(self, name: str, token: str, *, ttl_seconds: float) -> bool: ...

    def unlock(self, name: str, token: str) -> bool: ...


class LeaseLost(ConflictError):
    """Another holder has the lock now (or it expired): stop, the other one carries on."""


class Lease:
    """Hold ``name`` while the process lives (a context manager)."""

    def __init__(
        self,
        locks: Locks,
        name: str,
        *,
        ttl_seconds: float,
        owner: str | None = None,
        wait_seconds: float = 10.0,
    ) -> None:
        self.name = name
        self.ttl_seconds = ttl_seconds
        self._locks = locks
        self._owner = owner
        self._wait_seconds = wait_seconds
        self._token: str | None = None
        self._stop = threading.Event()
        self._lost: str | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        deadline = time.monotonic() + self._wait_seconds
        while True:
            self._token = self._locks.try_lock(
                self.name, ttl_seconds=self.ttl_seconds, owner=self._owner
            )
            if self._token is not None:
                break
            if time.monotonic() > deadline:
                raise TemporaryAdapterError(
                    "redis", f"{self.name} is held by another process; try again", retry_after=1.0
                )
            time.sleep(0.05)
        self._thread = threading.Thread(target=self._renew, name=f"lease {self.name}", daemon=True)
        self._thread.start()

    @property
    def lost(self) -> str | None:
        """Why the lease was lost, or None while it is held."""
        return self._lost

    def check(self) -> None:
        """Raise :class:`LeaseLost` if the lease is no longer this holder's."""
        if self._lost is not None:
            raise LeaseLost(f"{self.name}: {self._lost}; this process stops here")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._token is not None and self._lost is None:
            try:
                self._locks.unlock(self.name, self._token)
            except AdapterError as exc:  # it expires on its own within one TTL
                log.warning("could not release %s: %s", self.name, exc)
        self._token = None

    def _renew(self) -> None:
        interval = self.ttl_seconds / 3
        renewed_at = time.monotonic()
        while not self._stop.wait(interval):
            assert self._token is not None
            try:
                if self._locks.renew_lock(self.name, self._token, ttl_seconds=self.ttl_seconds):
                    renewed_at = time.monotonic()
                    continue
                self._lost = "the lock was taken over or expired"
            except AdapterError as exc:
                if time.monotonic() - renewed_at < self.ttl_seconds:
                    log.warning("renewing %s failed (%s); trying again", self.name, exc)
                    continue
                self._lost = f"it could not be renewed within {self.ttl_seconds:g} s ({exc})"
            log.warning("%s lost: %s", self.name, self._lost)
            return
