"""A clock tests can move, git for test repositories, and pushes made with plain git."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import tempfile
from pathlib import Path


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def plain_push(
    repo: Path,
    branch: str,
    files: dict[str, bytes | None],
    *,
    modes: dict[str, str] | None = None,
    date: str | None = None,
    message: str = "plain git",
) -> str:
    """Commit ``files`` (None deletes) on ``branch`` with plain git, as a proposer with
    push access could: any file name, any mode (``120000`` is a symbolic link), and any
    author and committer ``date`` (e.g. ``"2001-01-01T00:00:00Z"``). Returns the sha."""
    env = {
        "GIT_AUTHOR_NAME": "someone",
        "GIT_AUTHOR_EMAIL": "someone@example.com",
        "GIT_COMMITTER_NAME": "someone",
        "GIT_COMMITTER_EMAIL": "someone@example.com",
    }
    if date is not None:
        env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    with tempfile.TemporaryDirectory() as scratch:
        env["GIT_INDEX_FILE"] = str(Path(scratch) / "index")

        def run(*args: str, stdin: bytes | None = None) -> str:
            return subprocess.run(
                ["git", "-C", str(repo), *args],
                input=stdin,
                check=True,
                capture_output=True,
                env={**os.environ, **env},
            ).stdout.decode()

        parent = run("rev-parse", f"refs/heads/{branch}").strip()
        run("read-tree", parent)
        for path, content in files.items():
            if content is None:
                run("update-index", "--force-remove", "--", path)
                continue
            blob = run("hash-object", "-w", "--stdin", stdin=content).strip()
            mode = (modes or {}).get(path, "100644")
            run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
        tree = run("write-tree").strip()
        sha = run("commit-tree", tree, "-p", parent, "-m", message).strip()
        run("update-ref", f"refs/heads/{branch}", sha, parent)
    return sha
