"""`aito init`: scaffold a new governance repo from a shipped example."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from aito.errors import AitoError, ConfigError
from aito.org import loading
from aito.workflows import rendering

EXAMPLES = ("shiba-classic", "minimal")

_GITIGNORE = """\
# AITO's embedded services keep their data here
.aito/
.venv/
__pycache__/
"""

_README = """\
# {name}: an AITO governance repo

This repository *is* the organization: agents in `org/agents/`, their profiles in
`profiles/`, decisions in `org/decisions/`, tasks in `org/tasks/`, and settings in
`org/org.yaml`. Every change is a pull request.

    aito validate            # check org/ and profiles/ (file:line for every problem)
    aito render              # regenerate .github/workflows/ from org/
    aito up                  # start the embedded services, register the agents, print the org chart

`.github/CODEOWNERS` makes the maintainers review every change to `org/`,
`profiles/` and `.github/`; turn on branch protection ("require review from code
owners") for `{branch}` so no agent can change the rules that judge it.
"""


def example_source(name: str) -> Path:
    """The directory holding the example's `org/` and `profiles/`."""
    if name not in EXAMPLES:
        raise ConfigError(f"unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}")
    package = Path(str(resources.files("aito"))) / "examples" / name
    if (package / "org" / "org.yaml").is_file():
        return package
    # A source checkout: this repository is itself the Shiba Classic organization.
    checkout = Path(str(resources.files("aito"))).parent
    if name == "shiba-classic" and (checkout / "org" / "org.yaml").is_file():
        return checkout
    raise ConfigError(f"the {name} example is missing from this installation; reinstall AITO")


def init(target: Path, *, example: str, force: bool = False, git: bool = True) -> list[Path]:
    """Write a new governance repo into ``target``; returns the files written (relative)."""
    target = target.resolve()
    if (target / "org").exists() and not force:
        raise AitoError(f"{target} already has an org/ directory; pass --force to overwrite it")
    source = example_source(example)
    target.mkdir(parents=True, exist_ok=True)
    for part in ("org", "profiles"):
        shutil.copytree(source / part, target / part, dirs_exist_ok=True)
    for records in ("decisions", "tasks"):
        folder = target / "org" / records
        folder.mkdir(parents=True, exist_ok=True)
        if not any(folder.iterdir()):
            (folder / ".gitkeep").write_text("", encoding="utf-8")
    org = loading.load_valid(target)
    maintainers = " ".join(f"@{m.login}" for m in org.org.maintainers)
    _write(target / ".gitignore", _GITIGNORE, force=force)
    _write(
        target / ".github" / "CODEOWNERS",
        "# Maintainers review every change to the organization and its workflows.\n"
        f"/org/ {maintainers}\n/profiles/ {maintainers}\n/.github/ {maintainers}\n",
        force=True,
    )
    _write(
        target / "README.md",
        _README.format(name=org.org.name, branch=org.org.governance_repo.branch),
        force=force,
    )
    rendering.write(org)
    if git and shutil.which("git") and not (target / ".git").exists():
        subprocess.run(
            ["git", "init", "--quiet", "--initial-branch", org.org.governance_repo.branch],
            cwd=target,
            check=False,
        )
    return sorted(
        p.relative_to(target)
        for p in target.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(target).parts[:1]
    )


def _write(path: Path, text: str, *, force: bool) -> None:
    if path.exists() and not force:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
