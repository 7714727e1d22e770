"""runner/compose.yaml, the production stack: what an operator relies on when bringing it up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

RUNNER = Path(__file__).resolve().parents[2] / "runner"
VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((RUNNER / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def documented() -> set[str]:
    lines = (RUNNER / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z_][A-Z0-9_]*=", line)}


def volumes(service: dict[str, Any]) -> list[str]:
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.append(f"{volume.get('source', '')}:{volume.get('target', '')}")
        else:
            found.append(volume)
    return found


def test_the_stack_is_postgres_with_pgvector_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped"


def test_postgres_and_redis_keep_their_data_in_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "postgres-data:/var/lib/postgresql/data" in volumes(services["postgres"])
    assert "redis-data:/data" in volumes(services["redis"])
    assert {"postgres-data", "redis-data"} <= set(compose["volumes"])


def test_redis_persists_with_an_append_only_file(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    words = " ".join(command if isinstance(command, list) else [command]).split()
    assert words[words.index("--appendonly") + 1] == "yes"
    assert words[words.index("--maxmemory-policy") + 1] == "noeviction"
    assert "redis-data:/data" in volumes(compose["services"]["redis"])


def test_no_service_gets_the_docker_socket(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in volumes(service):
            assert "docker.sock" not in volume, name
        assert not service.get("privileged"), name


def test_published_ports_listen_on_localhost_only(compose: dict[str, Any]) -> None:
    published = 0
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            published += 1
            host_ip = port.get("host_ip") if isinstance(port, dict) else port.split(":")[0]
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond this host"
    assert published >= 2


def test_every_variable_the_compose_file_uses_is_documented() -> None:
    used = {m["name"] for m in VARIABLE.finditer((RUNNER / "compose.yaml").read_text())}
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD"} <= used
    assert used - documented() == set()


def test_the_example_env_documents_what_the_runner_host_needs() -> None:
    names = documented()
    assert {"AITO_POSTGRES_URL", "AITO_REDIS_URL", "ANTHROPIC_API_KEY"} <= names
    # No real secret shipped: the passwords are blank placeholders.
    lines = dict(
        line.split("=", 1)
        for line in (RUNNER / ".env.example").read_text().splitlines()
        if re.match(r"^[A-Z_][A-Z0-9_]*=", line)
    )
    assert lines["POSTGRES_PASSWORD"] == lines["REDIS_PASSWORD"] == lines["ANTHROPIC_API_KEY"] == ""


def test_passwords_are_required_not_defaulted(compose: dict[str, Any]) -> None:
    text = (RUNNER / "compose.yaml").read_text()
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses and all(use.startswith(":?") for use in uses), name


def test_aito_services_are_locked_down_like_every_aito_container(compose: dict[str, Any]) -> None:
    aito = {n: s for n, s in compose["services"].items() if "AITO_IMAGE" in s.get("image", "")}
    assert set(aito) == {"orchestrator", "dashboard"}, "AITO's long-running services run its image"
    for name, service in aito.items():
        assert service["image"] == "${AITO_IMAGE:-aito:latest}", name
        assert service["user"] == "10001:10001", name
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service.get("profiles"), f"{name} starts only when its profile is asked for"
        assert "ANTHROPIC_API_KEY" not in service.get("environment", {}), name


def test_env_file_is_never_committed() -> None:
    ignored = (RUNNER.parent / ".gitignore").read_text().splitlines()
    assert "runner/.env" in ignored
