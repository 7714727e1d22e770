"""The container tests' gate: no engine means a skip that says why, or a failure in CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import docker_engine


def test_no_engine_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    monkeypatch.delenv("AITO_REQUIRE_DOCKER", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        docker_engine.engine()
    message = str(skipped.value)
    assert f"no Docker engine reachable at unix://{tmp_path}/docker.sock" in message
    assert "AITO_REQUIRE_DOCKER=1" in message


def test_no_engine_fails_when_docker_is_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    monkeypatch.setenv("AITO_REQUIRE_DOCKER", "1")
    with pytest.raises(pytest.fail.Exception, match="no Docker engine reachable"):
        docker_engine.engine()


def test_the_image_tag_comes_from_aito_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AITO_IMAGE", raising=False)
    assert docker_engine.image_tag() == "aito:latest"
    monkeypatch.setenv("AITO_IMAGE", "registry.example.com/aito:1.2")
    assert docker_engine.image_tag() == "registry.example.com/aito:1.2"
