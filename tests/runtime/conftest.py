"""Container tests: a real Docker engine (skipped with a reason where none is reachable,
failed under AITO_REQUIRE_DOCKER=1) and AITO's image, built once per session."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from aito.runtime import specs
from aito.runtime.docker_engine import DockerRuntime


@pytest.fixture
def docker_runtime(docker_client: docker.DockerClient, aito_image: str) -> Iterator[DockerRuntime]:
    """The Docker runtime; containers a test leaves behind are removed afterwards."""
    engine = DockerRuntime()
    yield engine
    for found in engine.list({specs.KIND: "worker"}) + engine.list({specs.KIND: "agent"}):
        if found.labels.get(specs.ORG) == "Shiba Classic":
            engine.stop(found.id)
