"""The Docker runtime: containers through the Docker Engine API (the docker SDK).

The only module that imports ``docker``. Each :class:`~aito.runtime.base.ContainerSpec`
becomes exactly one container with its limits (memory with no extra swap, CPU, pids),
a read-only root with a tmpfs at ``/tmp``, all capabilities dropped, no new privileges,
its user, labels and mounts, and nothing else: no Docker socket, no published port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

import docker
import docker.errors
import docker.types
import requests.exceptions

from aito.runtime import specs
from aito.runtime.base import ContainerError, ContainerSpec, Exit, Found, NoEngine, tail


class DockerRuntime:
    """Containers on the engine ``DOCKER_HOST`` names (default: the local socket)."""

    name = "docker"

    def __init__(self, client: Any | None = None) -> None:
        try:
            self._client = client or docker.from_env(timeout=120)
            self._client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise NoEngine(
                f"no Docker engine is reachable ({exc}); start dockerd (Debian: `apt-get "
                "install docker.io`, then `dockerd &`), or use AITO_RUNTIME=inprocess"
            ) from exc

    def has_image(self, image: str) -> bool:
        try:
            self._client.images.get(image)
        except docker.errors.ImageNotFound:
            return False
        return True

    def image_size(self, image: str) -> int:
        return int(self._client.images.get(image).attrs["Size"])

    def start(self, spec: ContainerSpec) -> str:
        if not self.has_image(spec.image):
            raise NoEngine(
                f"no image {spec.image!r} on this Docker engine; build it with "
                "`runner/build-image` (see runner/README.md) or set AITO_IMAGE"
            )
        try:
            container = self._client.containers.run(
                spec.image,
                spec.command,
                name=spec.name,
                detach=True,
                environment=spec.env,
                labels=spec.labels,
                user=spec.user,
                working_dir=specs.TMP,
                read_only=True,
                tmpfs={specs.TMP: f"rw,nosuid,nodev,size={spec.tmpfs_size},mode=1777"},
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                mem_limit=spec.memory,
                memswap_limit=spec.memory,  # no swap beyond the memory limit
                nano_cpus=int(spec.cpus * 1e9),
                pids_limit=spec.pids,
                network_mode=spec.network,
                mounts=[
                    docker.types.Mount(m.target, m.source, type="bind", read_only=m.read_only)
                    for m in spec.mounts
                ],
                init=True,  # signals reach the process; zombies are reaped
            )
        except docker.errors.APIError as exc:
            raise ContainerError(f"could not start {spec.name}: {exc.explanation or exc}") from exc
        return str(container.id)

    def wait(self, handle: str, *, timeout_seconds: float) -> Exit:
        started = time.monotonic()
        container = self._get(handle)
        timed_out = False
        try:
            reply = container.wait(timeout=timeout_seconds)
            code: int | None = int(reply.get("StatusCode", -1))
        except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
            timed_out = True
            self._kill(container)
            code = None
        container.reload()
        state = container.attrs.get("State", {})
        if code is None:
            code = state.get("ExitCode")
        status: Any = "exited"
        if timed_out:
            status = "timed_out"
        elif state.get("OOMKilled"):
            status = "oom_killed"
        elif code == 137:
            status = "killed"
        return Exit(
            status=status,
            exit_code=code,
            logs=self.logs(handle),
            seconds=time.monotonic() - started,
        )

    def stop(self, handle: str, *, remove: bool = True) -> None:
        try:
            container = self._client.containers.get(handle)
            if not remove:
                self._kill(container)
                return
            container.remove(force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # removal already in progress
                return
            raise ContainerError(f"could not remove container {handle}: {exc}") from exc

    def logs(self, handle: str) -> str:
        try:
            raw = self._get(handle).logs(stdout=True, stderr=True, tail=2000)
        except ContainerError:
            return ""
        return tail(bytes(raw).decode("utf-8", errors="replace"))

    def list(self, labels: Mapping[str, str]) -> list[Found]:
        wanted = [f"{k}={v}" for k, v in labels.items()]
        found = self._client.containers.list(all=True, filters={"label": wanted})
        return [
            Found(
                id=str(c.id),
                name=str(c.name),
                labels=dict(c.labels or {}),
                running=c.status in ("running", "created", "restarting"),
                created_at=_created(c.attrs.get("Created")),
            )
            for c in found
        ]

    def inspect(self, handle: str) -> dict[str, Any]:
        """The engine's full record of a container (what `docker inspect` prints)."""
        return dict(self._get(handle).attrs)

    def _get(self, handle: str) -> Any:
        try:
            return self._client.containers.get(handle)
        except docker.errors.NotFound as exc:
            raise ContainerError(f"no container {handle}") from exc

    def _kill(self, container: Any) -> None:
        with contextlib.suppress(docker.errors.APIError):  # it ended on its own meanwhile
            container.kill()
        with contextlib.suppress(
            requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout
        ):
            container.wait(timeout=30)


def _created(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return None
