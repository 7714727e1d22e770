"""A lock that belongs to a living holder: renewed in the background, lost when it dies.

`Lease` takes a lock (`lock:container:{agent}` for a run) with a short TTL and renews
it from a daemon thread every :data:`RENEW_EVERY_SECONDS` (or a quarter of the TTL, if
shorter), so it lasts as long as the process that holds it: a crashed holder's lease
expires within one TTL.

With an ``owner`` (the run id) a lease can also be taken over before it expires, but
only from the *same* owner and only when that holder is dead: a re-run of a wake-up
whose process crashed. Dead means its process is gone (a holder on this host: its pid
no longer exists) or it has not renewed for :data:`STALE_AFTER_RENEWALS` renewals (a
holder on another host). A live holder of the same run — a daemon and a workflow
started for the same schedule slot — is waited for like anyone else; any other
caller waits up to ``wait_seconds``, then gets a :class:`TemporaryAdapterError`.

A holder that lost its lease anyway (taken over after a long pause, or not renewed
within the TTL because Redis was away) must stop: :meth:`Lease.check` raises
:class:`LeaseLost`, and the loop calls it between its steps.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
import threading
import time
from types import TracebackType
from typing import Protocol

from aito import retrying
from aito.errors import AdapterError, ConflictError, TemporaryAdapterError

log = logging.getLogger(__name__)

RENEW_EVERY_SECONDS = 5.0
STALE_AFTER_RENEWALS = 3
"""A lease not renewed for this many renewal intervals has a dead holder."""


class Locks(Protocol):
    def try_lock(
        self, name: str, *, ttl_seconds: float, token: str | None = None
    ) -> str | None: ...

    def renew_lock(self, name: str, token: str, *, ttl_seconds: float) -> bool: ...

    def lock_holder(self, name: str) -> tuple[str, float] | None: ...

    def take_over_lock(self, name: str, *, old: str, token: str, ttl_seconds: float) -> bool: ...

    def unlock(self, name: str, token: str) -> bool: ...


class LeaseLost(ConflictError):
    """Another holder has the lock now (or it expired): stop, the other one carries on."""


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who a lease token says holds it: the owner (run id), host, process and the TTL
    it renews the lease with."""

    owner: str
    host: str
    pid: int
    ttl_ms: int

    def token(self) -> str:
        # length-prefixed owner: no owner's token is mistaken for another's
        tail = f"{self.host}|{self.pid}|{self.ttl_ms}|{secrets.token_hex(8)}"
        return f"{len(self.owner)}:{self.owner}|{tail}"

    @classmethod
    def of(cls, token: str) -> Holder | None:
        size, sep, rest = token.partition(":")
        if not sep or not size.isdigit() or len(rest) <= int(size):
            return None
        owner, tail = rest[: int(size)], rest[int(size) :]
        parts = tail.split("|")
        if len(parts) != 5 or parts[0] != "" or not (parts[2].isdigit() and parts[3].isdigit()):
            return None
        return cls(owner, parts[1], int(parts[2]), int(parts[3]))

    @classmethod
    def me(cls, owner: str, *, ttl_seconds: float) -> Holder:
        return cls(owner, socket.gethostname(), os.getpid(), int(ttl_seconds * 1000))

    @property
    def interval(self) -> float:
        return renew_interval(self.ttl_ms / 1000)


def waiting_for(seconds: float) -> retrying.Policy:
    """Trying a held lock again every 50 ms for ``seconds`` (then once more)."""
    return retrying.Policy(
        budget_seconds=seconds, base_delay=0.05, max_delay=0.05, jitter="none", honour="ignore"
    )


def renew_interval(ttl_seconds: float) -> float:
    return min(RENEW_EVERY_SECONDS, ttl_seconds / 4)


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
        self.interval = renew_interval(ttl_seconds)
        self._locks = locks
        self._me = Holder.me(owner, ttl_seconds=ttl_seconds) if owner is not None else None
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
        token = self._me.token() if self._me is not None else secrets.token_hex(16)

        def take() -> None:
            if not self._take(token):
                raise TemporaryAdapterError(
                    "redis", f"{self.name} is held by another process; try again", retry_after=1.0
                )

        retrying.call(take, policy=waiting_for(self._wait_seconds), what=f"take {self.name}")
        self._token = token
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

    def _take(self, token: str) -> bool:
        if self._locks.try_lock(self.name, ttl_seconds=self.ttl_seconds, token=token):
            return True
        found = self._locks.lock_holder(self.name)
        if found is None or not self._dead(*found):
            return False
        log.warning("%s: taking over the lease of a dead holder (%s)", self.name, found[0])
        return self._locks.take_over_lock(
            self.name, old=found[0], token=token, ttl_seconds=self.ttl_seconds
        )

    def _dead(self, token: str, seconds_left: float) -> bool:
        """Whether the lease ``token`` holds was left by a dead run of the same owner."""
        holder = Holder.of(token)
        if self._me is None or holder is None or holder.owner != self._me.owner:
            return False
        if holder.host == self._me.host:
            return holder.pid != self._me.pid and not _alive(holder.pid)
        # Another host: a live holder renews every interval, setting its TTL in full.
        since_renewal = holder.ttl_ms / 1000 - seconds_left
        return since_renewal > STALE_AFTER_RENEWALS * holder.interval

    def _renew(self) -> None:
        renewed_at = time.monotonic()
        while not self._stop.wait(self.interval):
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
