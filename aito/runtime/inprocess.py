"""The in-process runtime: each "container" is a thread running a Python entry point.

For the demo and most tests: the same launcher, gateway and worker code as with Docker,
with no engine. It enforces none of a spec's limits (memory, CPU, network, read-only
root): that is what the Docker runtime is for. A thread cannot be killed: at its timeout
it is told to stop (its ``stop`` event) and reported ``timed_out``; it ends at its next
check.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping

from aito.runtime.base import ContainerError, ContainerSpec, Exit, Found, tail

Entry = Callable[[ContainerSpec, threading.Event, io.StringIO], int]
"""Runs a container's command: (spec, stop event, output) → exit code."""


@dataclasses.dataclass
class _Running:
    spec: ContainerSpec
    thread: threading.Thread
    stop: threading.Event
    output: io.StringIO
    created_at: dt.datetime
    exit_code: int | None = None
    removed: bool = False


class InProcessRuntime:
    """Threads named after their containers; ``entries`` maps a command's first words
    (``"aito worker exec"``) to the function that runs it."""

    name = "inprocess"

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self._entries = dict(entries)
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def start(self, spec: ContainerSpec) -> str:
        entry = self._entry(spec.command)
        handle = uuid.uuid4().hex
        output = io.StringIO()
        stop = threading.Event()
        record = _Running(
            spec=spec,
            thread=threading.Thread(target=lambda: None),
            stop=stop,
            output=output,
            created_at=dt.datetime.now(dt.UTC),
        )

        def main() -> None:
            handler = _ThreadLog(output, threading.get_ident())
            logging.getLogger().addHandler(handler)
            try:
                record.exit_code = entry(spec, stop, output)
            except Exception as exc:  # a container's crash is its exit code, as in Docker
                output.write(f"{type(exc).__name__}: {exc}\n")
                record.exit_code = 1
            finally:
                logging.getLogger().removeHandler(handler)

        record.thread = threading.Thread(target=main, name=spec.name, daemon=True)
        with self._lock:
            self._running[handle] = record
        record.thread.start()
        return handle

    def wait(self, handle: str, *, timeout_seconds: float) -> Exit:
        record = self._get(handle)
        started = time.monotonic()
        record.thread.join(timeout_seconds)
        if record.thread.is_alive():
            record.stop.set()
            return Exit(
                status="timed_out",
                exit_code=None,
                logs=self.logs(handle),
                seconds=time.monotonic() - started,
            )
        return Exit(
            status="exited",
            exit_code=record.exit_code,
            logs=self.logs(handle),
            seconds=time.monotonic() - started,
        )

    def stop(self, handle: str, *, remove: bool = True) -> None:
        with self._lock:
            record = self._running.pop(handle, None) if remove else self._running.get(handle)
        if record is not None:
            record.stop.set()

    def logs(self, handle: str) -> str:
        return tail(self._get(handle).output.getvalue())

    def list(self, labels: Mapping[str, str]) -> builtins.list[Found]:
        with self._lock:
            found = list(self._running.items())
        return [
            Found(
                id=handle,
                name=record.spec.name,
                labels=dict(record.spec.labels),
                running=record.thread.is_alive(),
                created_at=record.created_at,
            )
            for handle, record in found
            if all(record.spec.labels.get(k) == v for k, v in labels.items())
        ]

    def _entry(self, command: builtins.list[str]) -> Entry:
        for words in range(len(command), 0, -1):
            found = self._entries.get(" ".join(command[:words]))
            if found is not None:
                return found
        raise ContainerError(
            f"the in-process runtime cannot run {' '.join(command)!r}; it runs only "
            f"{', '.join(sorted(self._entries)) or 'nothing'}"
        )

    def _get(self, handle: str) -> _Running:
        with self._lock:
            found = self._running.get(handle)
        if found is None:
            raise ContainerError(f"no container {handle}")
        return found


class _ThreadLog(logging.Handler):
    """What the container's own thread logs goes into its output, as `docker logs` would."""

    def __init__(self, output: io.StringIO, thread_id: int) -> None:
        super().__init__(level=logging.INFO)
        self._output = output
        self._thread = thread_id
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            self._output.write(self.format(record) + "\n")
