"""The lock file is what a fresh machine installs: it must cover pyproject.toml, hashed."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
_ENTRY = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)(?: ; (.*?))?(?: \\)?$")


@dataclasses.dataclass
class _Pin:
    version: Version
    marker: str | None
    hashes: int = 0


def _locked() -> dict[str, list[_Pin]]:
    """name → its pins (one per marker) in requirements.lock."""
    entries: dict[str, list[_Pin]] = {}
    current: _Pin | None = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        found = _ENTRY.match(line)
        if found:
            current = _Pin(Version(found.group(2)), found.group(3))
            entries.setdefault(canonicalize_name(found.group(1)), []).append(current)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            current.hashes += 1
    return entries


def _required() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(text) for text in wanted]


def test_every_dependency_is_pinned_within_its_range_with_hashes() -> None:
    locked = _locked()
    environment = {k: str(v) for k, v in default_environment().items()}
    for requirement in _required():
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in requirements.lock: run scripts/lock"
        for pin in locked[name]:
            assert requirement.specifier.contains(pin.version, prereleases=True), (
                f"requirements.lock pins {name}=={pin.version}, outside {requirement.specifier}: "
                "run scripts/lock"
            )
            assert pin.hashes, f"{name}=={pin.version} has no hash in requirements.lock"


def test_the_lock_pins_the_build_backend_for_the_editable_install() -> None:
    locked = _locked()
    for name in ("hatchling", "editables"):
        assert name in locked, (
            f"{name} is missing: scripts/bootstrap installs AITO without isolation"
        )


def test_bootstrap_installs_from_the_lock_with_hashes() -> None:
    script = (ROOT / "scripts" / "bootstrap").read_text()
    assert "--require-hashes -r" in script and "requirements.lock" in script
    assert "--no-build-isolation" in script
