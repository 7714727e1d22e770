"""Helpers for runner/build-image: AITO's runtime requirements and the lock's pins and hashes.

    python runner/wheels.py requirements AITO.whl [EXTRA ...]
                                                     the wheel's Requires-Dist, with only
                                                     these extras (e.g. claude-code)
    python runner/wheels.py constraints LOCK         the lock's pins (name==version ; marker)
    python runner/wheels.py verify LOCK DIR          every wheel in DIR carries a hash the lock
                                                     lists for that package (else exit 1)

The image installs only what AITO needs at run time (no pytest, mypy, ruff, act …): the
wheel's own requirements, pinned by the lock's versions. The wheels are downloaded inside the
base image (its Python decides markers such as python_full_version), then checked here
against the lock's hashes: the same guarantee as `pip install --require-hashes`.
"""

from __future__ import annotations

import hashlib
import re
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

_PIN = re.compile(
    r"^(?P<pin>[A-Za-z0-9][A-Za-z0-9._-]*==[^\s;\\]+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)
_HASH = re.compile(r"--hash=sha256:(?P<digest>[0-9a-f]{64})")


def runtime_requirements(wheel: Path, extras: tuple[str, ...] = ()) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    wanted = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or "extra" not in str(marker):
            wanted.append(str(requirement))
        elif any(marker.evaluate({"extra": extra}) for extra in extras):
            requirement.marker = None  # chosen: its markers are the extra's
            wanted.append(str(requirement))
    return sorted(wanted)


def lock_entries(lock: Path) -> list[tuple[str, str | None, set[str]]]:
    """(name==version, marker, sha256 digests) for each pin of a `uv pip compile` lock."""
    entries: list[tuple[str, str | None, set[str]]] = []
    for line in lock.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := _HASH.search(line):
            if not entries:
                raise SystemExit(f"{lock}: a hash before any pin: {line.strip()}")
            entries[-1][2].add(match["digest"])
        elif match := _PIN.match(line):
            entries.append((match["pin"], match["marker"], set()))
        else:
            raise SystemExit(f"{lock}: cannot read this line: {line.strip()}")
    return entries


def constraints(lock: Path) -> list[str]:
    return [pin if marker is None else f"{pin} ; {marker}" for pin, marker, _ in lock_entries(lock)]


def verify(lock: Path, folder: Path) -> list[str]:
    """Problems with the wheels in folder: unknown package, or a hash the lock does not list."""
    allowed: dict[str, set[str]] = {}
    for pin, _, digests in lock_entries(lock):
        allowed.setdefault(canonicalize_name(pin.split("==")[0]), set()).update(digests)
    problems = []
    for wheel in sorted(folder.glob("*.whl")):
        name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if name not in allowed:
            problems.append(f"{wheel.name}: {name} is not in {lock.name}")
        elif digest not in allowed[name]:
            problems.append(f"{wheel.name}: sha256 {digest} is not one {lock.name} lists")
    if not any(folder.glob("*.whl")):
        problems.append(f"{folder}: no wheels")
    return problems


def main(argv: list[str]) -> int:
    match argv:
        case ["requirements", wheel, *extras]:
            print("\n".join(runtime_requirements(Path(wheel), tuple(extras))))
        case ["constraints", lock]:
            print("\n".join(constraints(Path(lock))))
        case ["verify", lock, folder]:
            problems = verify(Path(lock), Path(folder))
            for problem in problems:
                print(f"runner/wheels.py: {problem}", file=sys.stderr)
            return 1 if problems else 0
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
