"""Git plumbing for the local forge: run git in the repository, resolve refs (a branch
before a tag of the same name), move branches, and read trees.

:class:`LocalGit` is the part of :class:`aito.forge.local.LocalForge` that talks to
git; content is read through :mod:`aito.forge.gitobjects` (one `git cat-file --batch`
process), everything else through one `git` process per call.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from aito.errors import PermanentAdapterError
from aito.forge import caching, gitobjects
from aito.forge.base import Identity, MergeConflict

SERVICE = "local forge"
SPECIAL_MODES = (b"120000", b"160000")  # a symbolic link, a submodule


class LocalGit:
    """The repository at ``repo``; ``objects`` reads its content (set by the forge)."""

    repo: Path
    objects: gitobjects.GitObjects

    def _git(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            ["git", "-C", str(self.repo), *args],
            input=stdin,
            capture_output=True,
            env={**os.environ, **(env or {})},
            check=False,
        )
        if check and result.returncode != 0:
            raise PermanentAdapterError(
                SERVICE, f"git {' '.join(args[:2])} failed: {result.stderr.decode().strip()}"
            )
        return result

    def _rev(self, ref: str) -> str | None:
        # as `git rev-parse --verify --quiet <ref>^{commit}`, without a process per call,
        # except that a branch wins over a tag of the same name (git would take the tag):
        # a tag called `main` pushed by anyone must never stand in for the governance
        # branch, whose org judges and against which a pull request's changes are listed.
        if not ref.startswith("refs/") and not caching.is_object_id(ref):
            branch = self.objects.resolve(f"refs/heads/{ref}")
            if branch is not None:
                return branch
        return self.objects.resolve(ref)

    def _checked_out_branch(self) -> str | None:
        found = self._git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return found.stdout.decode().strip() or None if found.returncode == 0 else None

    def _move_branch(self, branch: str, new: str, old: str | None) -> None:
        """Point ``branch`` at ``new``; a checked-out branch is fast-forwarded with its files."""
        if branch == self._checked_out_branch():
            result = self._git("merge", "--ff-only", "--quiet", new, check=False)
            if result.returncode != 0:
                raise MergeConflict(
                    f"{branch} is checked out in {self.repo} and could not be fast-forwarded "
                    f"(local changes?): {result.stderr.decode().strip()}"
                )
            return
        self._git("update-ref", f"refs/heads/{branch}", new, old or "")

    def read_tree(self, ref: str, *, prefixes: Sequence[str]) -> dict[str, bytes]:
        """Files under ``prefixes`` at ``ref``: the ref is resolved on each call (it may
        have moved), trees and blobs are read once by id (see :mod:`aito.forge.gitobjects`)."""
        sha = self._rev(ref)
        if sha is None:
            raise PermanentAdapterError(SERVICE, f"no branch or commit {ref!r} in {self.repo}")
        listing = self.objects.files(sha, tuple(prefixes))
        return {path: self.objects.blob(blob) for path, blob in listing}

    def disconnect(self) -> None:
        """Stop the `git cat-file` process (it also stops when the forge is collected;
        a later read starts another)."""
        self.objects.close()


def path_name(raw: bytes) -> str:
    # git stores any bytes as a file name: one that is not UTF-8 is shown with U+FFFD,
    # which no plain path holds (aito.org.paths.unsafe_reason), so it is judged critical.
    return raw.decode("utf-8", errors="replace")


def author_env(identity: Identity) -> dict[str, str]:
    email = f"{identity.id}+{identity.login}@users.noreply.aito.local"
    return {
        "GIT_AUTHOR_NAME": identity.login,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": identity.login,
        "GIT_COMMITTER_EMAIL": email,
    }
