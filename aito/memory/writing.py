"""`HistoryWriter`: the agent loop records history without waiting on embeddings or Postgres.

Entries are queued and written in batches by a background thread: embedded in one
call, inserted in one transaction. Every entry carries its own id, so a retry after
a lost reply (Postgres restarted mid-commit) writes it exactly once. A temporary
failure is retried with backoff until it succeeds — history is never dropped; if
the embedder fails, rows are written without an embedding and `backfill` adds it
later.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from aito import retrying
from aito.errors import AdapterError, PermanentAdapterError, TemporaryAdapterError
from aito.memory.base import HistoryEntry
from aito.memory.embedding import Embedder

_log = logging.getLogger(__name__)


class WritesHistory(Protocol):
    def write_history(
        self,
        entries: Sequence[HistoryEntry],
        *,
        embeddings: Sequence[Sequence[float] | None],
        model: str | None,
    ) -> int: ...


class HistoryWriter:
    """Batched, retried, exactly-once history writes off the caller's thread."""

    def __init__(
        self,
        *,
        store: WritesHistory,
        embedder: Embedder | None,
        batch_size: int = 64,
        linger_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._batch_size = batch_size
        self._linger = linger_seconds
        self._retry = retrying.Policy(
            budget_seconds=None,  # no cap: retried until Postgres is back
            base_delay=0.05,
            max_delay=max_backoff_seconds,
            jitter="none",
            honour="ignore",
        )
        self._sleep = sleep
        self._queue: queue.Queue[HistoryEntry | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self.written = 0
        self.rejected: list[tuple[HistoryEntry, str]] = []
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()

    def record(self, entry: HistoryEntry) -> None:
        """Queue ``entry``; returns at once."""
        with self._idle:
            self._pending += 1
        self._queue.put(entry)

    def flush(self, *, timeout: float | None = None) -> bool:
        """Wait until everything recorded so far is written; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, *, timeout: float | None = 60) -> bool:
        """Flush, then stop the thread; False if entries were still unwritten."""
        done = self.flush(timeout=timeout)
        self._queue.put(None)
        self._thread.join(timeout=5)
        return done

    # -- the background thread -----------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._linger
            stop = False
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()
            if stop:
                return

    def _write(self, batch: list[HistoryEntry]) -> None:
        vectors, model = self._embed(batch)

        def write() -> int:
            try:
                return self._store.write_history(batch, embeddings=vectors, model=model)
            except TemporaryAdapterError as exc:
                _log.warning("history write failed (%s); retrying", exc)
                raise

        try:
            # Temporary failures are retried until they pass: history is never dropped.
            self.written += retrying.call(write, policy=self._retry, sleep=self._sleep)
        except PermanentAdapterError as exc:
            if len(batch) > 1:  # find the one bad entry instead of losing the batch
                for entry, vector in zip(batch, vectors, strict=True):
                    self._write_one(entry, vector, model)
                return
            self.rejected.append((batch[0], str(exc)))
            _log.error("history entry %s rejected: %s", batch[0].id, exc)

    def _write_one(
        self, entry: HistoryEntry, vector: list[float] | None, model: str | None
    ) -> None:
        try:
            self.written += self._store.write_history([entry], embeddings=[vector], model=model)
        except PermanentAdapterError as exc:
            self.rejected.append((entry, str(exc)))
        except TemporaryAdapterError:
            self._write([entry])

    def _embed(self, batch: list[HistoryEntry]) -> tuple[list[list[float] | None], str | None]:
        if self._embedder is None:
            return [None] * len(batch), None
        try:
            vectors: list[list[float] | None] = list(
                self._embedder.embed([entry.summary for entry in batch])
            )
            return vectors, self._embedder.model
        except (AdapterError, OSError, RuntimeError, ValueError) as exc:
            _log.warning("embedding failed (%s); writing without, to backfill later", exc)
            return [None] * len(batch), None


class StoresEmbeddings(Protocol):
    def set_embeddings(
        self, items: Sequence[tuple[uuid.UUID, Sequence[float]]], *, model: str
    ) -> None: ...


class FillsEmbeddings(StoresEmbeddings, Protocol):
    def unembedded(self, *, limit: int = 256) -> list[tuple[uuid.UUID, str]]: ...


def backfill(store: FillsEmbeddings, embedder: Embedder, *, batch: int = 256) -> int:
    """Embed rows written without an embedding; returns how many were filled."""
    filled = 0
    while True:
        missing = store.unembedded(limit=batch)
        if not missing:
            return filled
        vectors = embedder.embed([summary for _, summary in missing])
        store.set_embeddings(
            [(row_id, vector) for (row_id, _), vector in zip(missing, vectors, strict=True)],
            model=embedder.model,
        )
        filled += len(missing)
