"""A real Docker engine and AITO's image for the container tests.

:func:`engine` returns a client of the engine the environment names (``DOCKER_HOST``, else the
local socket). When none answers, the test is skipped with the reason, or fails when
``AITO_REQUIRE_DOCKER=1`` (CI sets it: there a missing engine is a broken run, not a skip).

:func:`aito_image` builds the image once per session with the project's own scripts:
``runner/build-base`` when no ``python:3.11-slim`` is present locally (no registry here), then
``runner/build-image`` (Docker's layer cache makes it quick when nothing changed). The tag is
``AITO_IMAGE`` (default ``aito:latest``). Session fixtures ``docker_client`` and ``aito_image``
in tests/conftest.py wrap both.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
from typing import NoReturn

import docker
import pytest
import requests
from docker.errors import DockerException, ImageNotFound
from support.act import REPO_ROOT

OFFICIAL_BASE = "python:3.11-slim"
DEFAULT_IMAGE = "aito:latest"


def require_docker() -> bool:
    return os.environ.get("AITO_REQUIRE_DOCKER") == "1"


def engine() -> docker.DockerClient:
    """A client of a Docker engine that answers, or skip (fail under AITO_REQUIRE_DOCKER=1)."""
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if where.startswith("unix://"):
        # Connect ourselves first: docker-py leaves its socket unclosed when the connection
        # is refused, and pytest turns that ResourceWarning into an error.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(10)
            try:
                probe.connect(where.removeprefix("unix://"))
            except OSError as exc:
                _unavailable(where, exc)
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except (DockerException, requests.exceptions.RequestException) as exc:
        _unavailable(where, exc)
    return client


def _unavailable(where: str, error: Exception) -> NoReturn:
    reason = (
        f"no Docker engine reachable at {where} ({error}); start dockerd"
        " (scripts/ci-docker). CI sets AITO_REQUIRE_DOCKER=1, which turns this skip into a failure"
    )
    if require_docker():
        pytest.fail(reason)
    pytest.skip(reason)


def image_tag() -> str:
    return os.environ.get("AITO_IMAGE") or DEFAULT_IMAGE


@functools.cache
def aito_image() -> str:
    """AITO's image, built (or found up to date) once per session; returns its tag."""
    client = engine()
    try:
        client.images.get(OFFICIAL_BASE)
    except ImageNotFound:
        _run("runner/build-base")
    finally:
        client.close()
    # with the claude-code extra: a claude-code worker's test runs Claude Code in it
    _run("runner/build-image", "--extra", "claude-code", "--tag", image_tag())
    return image_tag()


def _run(script: str, *args: str) -> None:
    done = subprocess.run(
        [str(REPO_ROOT / script), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
