"""runner/setup-runner: what it would do to a Debian host, read from its --dry-run (no root)."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "runner" / "setup-runner"
URL = "https://github.com/og-shibaclassic"
TOKEN = "AABBCCDDEEFF0011223344556677"


def setup_runner(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, check=False, env=env, timeout=60
    )


def dry_run(*extra: str) -> str:
    done = setup_runner("--dry-run", "--url", URL, "--token", TOKEN, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout


def unit(output: str) -> str:
    start = output.index("[Unit]")
    return output[start : output.index("WantedBy=multi-user.target", start)]


def test_it_registers_the_runner_with_the_aito_label_unattended() -> None:
    output = dry_run()
    config = next(line for line in output.splitlines() if "./config.sh" in line)
    assert "--unattended" in config
    assert f"--url {URL}" in config
    assert "--labels aito" in config
    assert "--work /opt/aito-runner/work" in config
    assert "runuser -u aito-runner" in config  # GitHub's runner refuses to be root


def test_the_registration_token_is_never_printed() -> None:
    output = dry_run()
    assert TOKEN not in output
    assert "--token ***" in output


def test_the_runner_user_is_in_the_docker_group() -> None:
    output = dry_run()
    assert "+ useradd --system --home-dir /opt/aito-runner" in output
    assert "+ usermod -aG docker aito-runner" in output
    assert "docker.io" in output


def test_the_systemd_unit_runs_the_runner_as_its_user_after_docker() -> None:
    text = unit(dry_run())
    lines = set(text.splitlines())
    assert "User=aito-runner" in lines
    assert "ExecStart=/opt/aito-runner/actions-runner/run.sh" in lines
    assert "WorkingDirectory=/opt/aito-runner/actions-runner" in lines
    assert "Requires=docker.service" in lines
    assert "Restart=always" in lines
    assert "self-hosted,aito" in text
    assert "+ systemctl enable --now aito-runner.service" in dry_run()


def test_options_reach_the_unit_and_the_registration() -> None:
    output = dry_run(
        "--user", "ci-bot", "--dir", "/srv/runner", "--labels", "aito,gpu", "--name", "r1"
    )
    assert "User=ci-bot" in output
    assert "ExecStart=/srv/runner/actions-runner/run.sh" in output
    assert "--labels aito,gpu" in output
    assert "--name r1" in output


def test_it_builds_the_base_and_the_image_unless_told_not_to() -> None:
    assert "runner/build-base" in dry_run()
    assert "runner/build-image" in dry_run()
    assert "runner/build-image" not in dry_run("--no-image")


def test_the_token_may_come_from_the_environment() -> None:
    done = setup_runner(
        "--dry-run", "--url", URL, env={"PATH": "/usr/bin:/bin", "AITO_RUNNER_TOKEN": TOKEN}
    )
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout


def test_missing_or_bad_arguments_are_clear_errors() -> None:
    no_url = setup_runner("--dry-run", "--token", TOKEN)
    assert no_url.returncode == 2
    assert "--url is required" in no_url.stderr
    no_token = setup_runner("--dry-run", "--url", URL, env={"PATH": "/usr/bin:/bin"})
    assert no_token.returncode == 2
    assert "AITO_RUNNER_TOKEN" in no_token.stderr
    plain_http = setup_runner("--dry-run", "--url", "http://github.com/x", "--token", TOKEN)
    assert plain_http.returncode == 2
    without_aito = setup_runner("--dry-run", "--url", URL, "--token", TOKEN, "--labels", "gpu")
    assert without_aito.returncode == 2
    assert "must include aito" in without_aito.stderr
