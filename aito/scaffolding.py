"""`aito init`: scaffold a new governance repo from a shipped example.

The new repo starts with one commit holding the whole scaffold, on the organization's
base branch, so the local forge has a base to branch decisions from. Without a git
identity configured the commit is made as "aito init <aito-init@localhost>".
"""

from __future__ import annotations

import dataclasses
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


FALLBACK_NAME = "aito init"
FALLBACK_EMAIL = "aito-init@localhost"


@dataclasses.dataclass(frozen=True)
class Scaffold:
    """What `init` made: the files (relative to the repo) and the first commit, if any."""

    root: Path
    files: list[Path]
    commit: str | None
    note: str = ""


def init(target: Path, *, example: str, force: bool = False, git: bool = True) -> Scaffold:
    """Write a new governance repo into ``target`` and (with ``git``) make its first commit.

    A directory that is already a git repository gets the files but no commit (review
    and commit them yourself); ``git=False`` runs no git at all.
    """
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
    files = sorted(
        p.relative_to(target)
        for p in target.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(target).parts[:1]
    )
    if not git:
        return Scaffold(target, files, None)
    if shutil.which("git") is None:
        return Scaffold(target, files, None, note="git is not installed: no repository made")
    if (target / ".git").exists():
        return Scaffold(
            target, files, None, note="already a git repository: review and commit the files"
        )
    branch = org.org.governance_repo.branch
    commit = _first_commit(
        target, branch=branch, message=f"{org.org.name}: from the {example} example (aito init)"
    )
    return Scaffold(target, files, commit)


def _first_commit(target: Path, *, branch: str, message: str) -> str:
    """``git init`` on ``branch``, add everything, commit; returns the commit id."""
    identity: list[str] = []  # GIT_AUTHOR_* / GIT_COMMITTER_* in the environment still win
    if not _configured(target, "user.name"):
        identity += ["-c", f"user.name={FALLBACK_NAME}"]
    if not _configured(target, "user.email"):
        identity += ["-c", f"user.email={FALLBACK_EMAIL}"]
    steps = (
        ("init", ["init", "--quiet", "--initial-branch", branch]),
        ("add", ["add", "--all"]),
        ("commit", [*identity, "commit", "--quiet", "--no-verify", "-m", message]),
        ("rev-parse", ["rev-parse", "HEAD"]),
    )
    output = ""
    for name, args in steps:
        result = subprocess.run(
            ["git", *args], cwd=target, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise ConfigError(
                f"wrote the organization in {target}, but `git {name}` failed "
                f"({lines[-1] if lines else result.returncode}); make the first commit yourself"
            )
        output = result.stdout
    return output.strip()


def _configured(target: Path, key: str) -> bool:
    found = subprocess.run(
        ["git", "config", "--get", key], cwd=target, capture_output=True, text=True, check=False
    )
    return found.returncode == 0 and bool(found.stdout.strip())


def _write(path: Path, text: str, *, force: bool) -> None:
    if path.exists() and not force:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
