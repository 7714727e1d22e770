"""The runtime port: what AITO asks of whatever runs its containers.

A :class:`ContainerSpec` says everything a container gets; nothing else is added by an
implementation. :class:`Exit` is how it ended, as the run record keeps it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aito.errors import AitoError

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
"""No container ever gets one of these: it would own the host."""
LOG_LIMIT = 64_000
"""Characters of a container's output kept in its run record (the end: where it failed)."""


class ContainerError(AitoError):
    """A container could not be started, waited for or removed."""

    exit_code = 6


class NoEngine(ContainerError):
    """No container engine (or no image) to run with; the message says how to get one."""

    exit_code = 3


class Mount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    target: str
    read_only: bool = True


class ContainerSpec(BaseModel):
    """One container: image and command, its limits, labels, mounts and environment.

    Hardening is not optional: every container runs with a read-only root filesystem
    (a tmpfs at ``/tmp``), all capabilities dropped, no new privileges and a non-root
    user; a spec naming a Docker socket is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
    image: str
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    memory: str = Field(pattern=r"^[1-9][0-9]*[kmg]$")
    cpus: float = Field(gt=0, le=64)
    pids: int = Field(ge=16, le=32768)
    timeout_seconds: float = Field(gt=0)
    network: str = "none"
    mounts: list[Mount] = Field(default_factory=list)
    user: str = Field("10001:10001", pattern=r"^[1-9][0-9]*:[1-9][0-9]*$")
    tmpfs_size: str = Field("256m", pattern=r"^[1-9][0-9]*[kmg]$")

    @field_validator("mounts")
    @classmethod
    def _no_docker_socket(cls, mounts: list[Mount]) -> list[Mount]:
        for mount in mounts:
            for path in (mount.source, mount.target):
                if path.rstrip("/").endswith("docker.sock") or path in DOCKER_SOCKETS:
                    raise ValueError(f"{path}: no container ever gets the Docker socket")
        return mounts

    @field_validator("env")
    @classmethod
    def _no_docker_host(cls, env: dict[str, str]) -> dict[str, str]:
        if "DOCKER_HOST" in env:
            raise ValueError("DOCKER_HOST: no container ever gets the Docker engine")
        return env


ExitStatus = Literal["exited", "timed_out", "oom_killed", "killed"]


class Exit(BaseModel):
    """How a container ended; ``logs`` is the end of what it printed."""

    model_config = ConfigDict(frozen=True)

    status: ExitStatus
    exit_code: int | None
    logs: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "exited" and self.exit_code == 0


class Found(BaseModel):
    """A container the runtime knows, found by its labels."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    labels: dict[str, str]
    running: bool
    created_at: dt.datetime | None = None


class Runtime(Protocol):
    """Starts containers and reports on them. Handles are the runtime's container ids."""

    @property
    def name(self) -> str: ...

    def start(self, spec: ContainerSpec) -> str: ...

    def wait(self, handle: str, *, timeout_seconds: float) -> Exit:
        """Until it ends; past ``timeout_seconds`` it is killed (``timed_out``)."""
        ...

    def stop(self, handle: str, *, remove: bool = True) -> None:
        """Kill it if it runs, and remove it unless ``remove`` is False (its exit and logs
        stay readable); a missing container is not an error."""
        ...

    def logs(self, handle: str) -> str: ...

    def list(self, labels: Mapping[str, str]) -> list[Found]: ...


def tail(text: str, limit: int = LOG_LIMIT) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]
