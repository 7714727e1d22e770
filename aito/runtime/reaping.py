"""Containers left behind are found by their labels and removed.

A launcher labels each container it starts with its own identity: host, process id and
the process's start time (so a recycled pid is not mistaken for it). A container whose
launcher on this host is gone (killed, crashed), or which is past its deadline whoever
owns it, is killed and removed when the next launcher starts. Its run stays unfinished in
Postgres, so the next wake-up of that agent resumes it exactly (no action twice).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from pathlib import Path

from aito.runtime import specs
from aito.runtime.base import Found, Runtime

log = logging.getLogger(__name__)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from its end
    return stat.rpartition(")")[2].split()[19]


def launcher_id(pid: int | None = None) -> str:
    """This process as a label value: ``host:pid:start``."""
    chosen = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{chosen}:{_start_time(chosen) or '?'}"


def launcher_alive(label: str) -> bool:
    """Whether the launcher a label names still runs. One on another host is assumed to
    (its own next start reaps what it left; the deadline bounds it meanwhile)."""
    host, _, rest = label.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname():
        return True
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    found = _start_time(pid)
    return found is not None and (started in ("?", found))


def overdue(found: Found, *, now: dt.datetime) -> bool:
    text = found.labels.get(specs.DEADLINE)
    if not text:
        return False
    try:
        return dt.datetime.fromisoformat(text) < now
    except ValueError:
        return True  # a label we did not write: not ours to keep


def reap(runtime: Runtime, *, org: str, now: dt.datetime) -> list[Found]:
    """Remove the organization's containers whose launcher is gone or which are overdue,
    and those that ended but were never removed (their launcher died first)."""
    reaped: list[Found] = []
    for found in runtime.list({specs.ORG: org}):
        launcher = found.labels.get(specs.LAUNCHER, "")
        orphan = not launcher_alive(launcher)
        if not (orphan or overdue(found, now=now)):
            continue
        log.warning(
            "removing container %s (%s %s, run %s): %s",
            found.name,
            found.labels.get(specs.KIND),
            found.labels.get(specs.AGENT),
            found.labels.get(specs.RUN),
            "its launcher is gone" if orphan else "past its deadline",
        )
        runtime.stop(found.id)
        reaped.append(found)
    return reaped
