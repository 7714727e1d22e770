"""runner/build-base, runner/build-image, scripts/ci-docker and runner/wheels.py: help, errors
a user can act on, the lock's hashes enforced, dev tools kept out, and the layer order."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from types import ModuleType

import docker
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ("runner/build-base", "runner/build-image", "scripts/ci-docker")


def run(
    script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / script), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


def wheels_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("runner_wheels", ROOT / "runner" / "wheels.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_explains_the_script(script: str) -> None:
    done = run(script, "-h")
    assert done.returncode == 0
    assert "usage" in done.stdout.lower() or "CI:" in done.stdout
    assert "cache" in done.stdout.lower()


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unknown_argument_is_refused(script: str) -> None:
    done = run(script, "--frobnicate")
    assert done.returncode != 0
    assert "usage" in done.stderr.lower()


@pytest.mark.parametrize("script", ["runner/build-base", "runner/build-image"])
def test_without_docker_the_error_says_how_to_install_it(script: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with bash and coreutils' dirname, and no docker
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(ROOT / script)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1
    assert "docker is not installed" in done.stderr
    assert "apt-get install docker.io" in done.stderr


@pytest.mark.parametrize("script", ["runner/build-base", "runner/build-image"])
def test_with_no_engine_answering_the_error_says_how_to_start_it(
    script: str, tmp_path: Path
) -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker client is not installed here (the test above covers that case)")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = run(script, env=env)
    assert done.returncode == 1
    assert "no Docker engine answers" in done.stderr
    assert "systemctl start docker" in done.stderr


def fake_wheel(folder: Path, name: str, requires: list[str]) -> Path:
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name}-1.0.dist-info/METADATA", metadata)
    return wheel


def test_the_image_installs_only_runtime_requirements(tmp_path: Path) -> None:
    wheel = fake_wheel(
        tmp_path,
        "aito",
        [
            "pydantic<3,>=2.7",
            "pytest>=8; extra == 'dev'",
            "yaml-rs>=0.1; platform_machine == 'x86_64'",
        ],
    )
    wanted = wheels_module().runtime_requirements(wheel)
    assert wanted == ["pydantic<3,>=2.7", 'yaml-rs>=0.1; platform_machine == "x86_64"']


def test_constraints_pin_every_locked_version_with_its_marker() -> None:
    pins = wheels_module().constraints(ROOT / "requirements.lock")
    assert any(p.startswith("pydantic==") for p in pins)
    numpy = [p for p in pins if p.startswith("numpy==")]
    assert len(numpy) == 2 and all("python_full_version" in p for p in numpy)
    assert not any("--hash" in p or p.endswith("\\") for p in pins)


def test_a_wheel_the_lock_does_not_list_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    good = fake_wheel(tmp_path, "cronsim", [])
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    lock.write_text(f"cronsim==1.0 \\\n    --hash=sha256:{digest}\n")
    module = wheels_module()
    assert module.verify(lock, tmp_path) == []
    lock.write_text(f"cronsim==1.0 \\\n    --hash=sha256:{'0' * 64}\n")
    assert "is not one requirements.lock lists" in module.verify(lock, tmp_path)[0]
    fake_wheel(tmp_path, "planted", [])
    lock.write_text(f"cronsim==1.0 \\\n    --hash=sha256:{digest}\n")
    assert module.verify(lock, tmp_path) == [
        "planted-1.0-py3-none-any.whl: planted is not in requirements.lock"
    ]


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_a_code_change_rebuilds_only_the_small_last_layer(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    history = docker_client.images.get(aito_image).history()  # newest first
    steps = [entry["CreatedBy"] for entry in history]
    aito_wheel = next(i for i, s in enumerate(steps) if "--no-deps" in s and "pip install" in s)
    dependencies = next(
        i for i, s in enumerate(steps) if "COPY" in s and history[i]["Size"] > 100e6
    )
    assert aito_wheel < dependencies, (
        "AITO's wheel is installed after (above) the locked dependencies"
    )
    assert history[aito_wheel]["Size"] < 50e6


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_build_base_leaves_an_existing_tag_alone(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    before = docker_client.images.get(aito_image).id
    done = run("runner/build-base", "--tag", aito_image)
    assert done.returncode == 0, done.stderr
    assert "exists" in done.stdout
    assert docker_client.images.get(aito_image).id == before


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_rebuilding_an_unchanged_checkout_gives_the_same_image_from_cache(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    again = f"aito-rebuild-check:{os.getpid()}"
    done = subprocess.run(
        # as the session's image was built (tests/support/docker_engine.py)
        [str(ROOT / "runner/build-image"), "--extra", "claude-code", "--tag", again],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    try:
        assert done.returncode == 0, done.stderr
        assert "MB)" in done.stdout  # the size, printed at the end
        assert docker_client.images.get(again).id == docker_client.images.get(aito_image).id
    finally:
        docker_client.images.remove(again, noprune=True)


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_ci_docker_with_an_engine_running_only_makes_the_image_ready(
    docker_client: docker.DockerClient, aito_image: str
) -> None:
    if not all(shutil.which(tool) for tool in ("docker", "dockerd", "debootstrap")):
        pytest.skip("scripts/ci-docker would apt-get install docker.io/debootstrap here")
    done = subprocess.run(
        [str(ROOT / "scripts/ci-docker")], capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "installing" not in done.stdout and "starting dockerd" not in done.stdout
    assert "== docker " in done.stdout
    assert f"built {aito_image} (" in done.stdout  # the same tag (AITO_IMAGE), its size
