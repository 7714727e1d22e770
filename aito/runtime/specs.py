"""Container specs from the org files: limits, labels, timeouts, hardening.

Every label AITO sets starts with ``aito.``: the organization, the agent (or worker
kind), the run id, the kind of container (``agent`` or ``worker``), the parent agent of a
worker, the launcher that owns it and the moment it is overdue. The reaper finds what a
crashed launcher left by these labels alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from aito.org import loading
from aito.runtime.base import ContainerSpec, Exit, Mount

ORG = "aito.org"
AGENT = "aito.agent"
RUN = "aito.run"
KIND = "aito.kind"
PARENT = "aito.parent"
LAUNCHER = "aito.launcher"
DEADLINE = "aito.deadline"
TMP = "/tmp"  # noqa: S108 - inside the container: its own tmpfs, not the host's /tmp
"""The one writable place in a container (a tmpfs; the root filesystem is read-only)."""
GATEWAY_DIR = "/run/aito"
"""Where a container finds the gateway socket (a directory mounted read-only)."""
GATEWAY_SOCKET = f"{GATEWAY_DIR}/gateway.sock"
GRACE_SECONDS = 60.0
"""An agent's container is killed this long before its job's own timeout, so the launcher
can still record why."""


def org_label(org: loading.Organization) -> str:
    return org.org.name


def container_name(kind: str, agent_id: str, run_id: str) -> str:
    """Unique per run and readable in `docker ps`: ``aito-agent-cmo-1a2b3c4d5e6f``."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    return f"aito-{kind}-{re.sub(r'[^a-z0-9-]', '-', agent_id)[:40]}-{digest}"


def labels(
    org: loading.Organization,
    *,
    agent_id: str,
    run_id: str,
    kind: str,
    launcher: str,
    deadline: dt.datetime | None,
    parent: str | None = None,
) -> dict[str, str]:
    """``deadline`` None: a daemon, which runs until it is stopped."""
    found = {
        ORG: org_label(org),
        AGENT: agent_id,
        RUN: run_id,
        KIND: kind,
        LAUNCHER: launcher,
    }
    if deadline is not None:
        found[DEADLINE] = deadline.astimezone(dt.UTC).isoformat(timespec="seconds")
    if parent is not None:
        found[PARENT] = parent
    return found


def agent_timeout_seconds(org: loading.Organization, agent_id: str) -> float:
    return max(GRACE_SECONDS, org.timeout_of(agent_id) * 60.0 - GRACE_SECONDS)


def agent_container(
    org: loading.Organization,
    *,
    agent_id: str,
    run_id: str,
    image: str,
    command: list[str],
    env: dict[str, str],
    mounts: list[Mount],
    network: str,
    user: str,
    launcher: str,
    now: dt.datetime,
) -> ContainerSpec:
    """An agent's run: its own limits and timeout, the network it needs for Postgres,
    Redis and GitHub, and exactly the environment the launcher chose."""
    limits = org.container_of(agent_id)
    timeout = agent_timeout_seconds(org, agent_id)
    return ContainerSpec(
        name=container_name("agent", agent_id, run_id),
        image=image,
        command=command,
        env=env,
        labels=labels(
            org,
            agent_id=agent_id,
            run_id=run_id,
            kind="agent",
            launcher=launcher,
            deadline=now + dt.timedelta(seconds=timeout),
        ),
        memory=limits.memory,
        cpus=limits.cpu,
        pids=limits.pids,
        timeout_seconds=timeout,
        network=network,
        mounts=mounts,
        user=user,
    )


DAEMON_TIMEOUT_SECONDS = 365 * 86_400.0
"""A daemon runs until it is stopped; waiting for one is never done with a timeout."""


def daemon_name(agent_id: str) -> str:
    """One daemon per agent: ``aito-daemon-cmo`` (a new one replaces the old)."""
    return f"aito-daemon-{re.sub(r'[^a-z0-9-]', '-', agent_id)[:40]}"


def daemon_container(
    org: loading.Organization,
    *,
    agent_id: str,
    image: str,
    env: dict[str, str],
    mounts: list[Mount],
    network: str,
    user: str,
    launcher: str,
) -> ContainerSpec:
    """An agent's daemon (`wake: daemon`): its limits, no deadline, `aito agent daemon`."""
    limits = org.container_of(agent_id)
    return ContainerSpec(
        name=daemon_name(agent_id),
        image=image,
        command=["aito", "agent", "daemon", agent_id],
        env=env,
        labels=labels(
            org, agent_id=agent_id, run_id="", kind="daemon", launcher=launcher, deadline=None
        ),
        memory=limits.memory,
        cpus=limits.cpu,
        pids=limits.pids,
        timeout_seconds=DAEMON_TIMEOUT_SECONDS,
        network=network,
        mounts=mounts,
        user=user,
    )


def worker_container(
    org: loading.Organization,
    *,
    kind: str,
    parent: str,
    run_id: str,
    image: str,
    command: list[str],
    gateway_dir: str,
    user: str,
    launcher: str,
    now: dt.datetime,
) -> ContainerSpec:
    """A worker: no network, no credentials, nothing mounted but the gateway's socket."""
    limits = org.container_of(kind)
    timeout = org.timeout_of(kind) * 60.0
    return ContainerSpec(
        name=container_name("worker", kind, run_id),
        image=image,
        command=command,
        env={"AITO_MODEL_GATEWAY": GATEWAY_SOCKET, "HOME": TMP},
        labels=labels(
            org,
            agent_id=kind,
            run_id=run_id,
            kind="worker",
            launcher=launcher,
            deadline=now + dt.timedelta(seconds=timeout),
            parent=parent,
        ),
        memory=limits.memory,
        cpus=limits.cpu,
        pids=limits.pids,
        timeout_seconds=timeout,
        network="none",
        mounts=[Mount(source=gateway_dir, target=GATEWAY_DIR, read_only=True)],
        user=user,
    )


def container_record(spec: ContainerSpec, ended: Exit) -> dict[str, object]:
    """What a run record keeps of its container: how it was limited and how it ended."""
    return {
        "name": spec.name,
        "image": spec.image,
        "kind": spec.labels.get(KIND),
        "memory": spec.memory,
        "cpus": spec.cpus,
        "pids": spec.pids,
        "network": spec.network,
        "timeout_seconds": spec.timeout_seconds,
        "status": ended.status,
        "exit_code": ended.exit_code,
        "seconds": round(ended.seconds, 3),
        "logs": ended.logs,
    }
