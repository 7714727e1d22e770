"""A local repository's objects through one long-lived `git cat-file --batch` process.

`LocalForge` reads content and resolves refs here instead of starting `git
rev-parse`, `git ls-tree` and `git cat-file` for every read (a process each, a few
milliseconds apiece; `aito demo` used to start about 2,900 in a simulated day).
One query is a line written to the process and an answer read back.

What is cached, and why it stays right: trees and blobs by object id (a git object
never changes), each commit's tree, and the file listing of a tree under given
prefixes. Branch names are resolved afresh on every call: git reads loose refs from
disk on each lookup and notices a rewritten `packed-refs`, so a commit made by
another process (plain `git commit`, another `aito`) is seen at once. The process
is restarted if it dies, started anew in a forked child, and stopped when the
object is closed or garbage-collected.
"""

from __future__ import annotations

import os
import subprocess
import threading
import weakref
from pathlib import Path
from typing import IO

from aito.errors import PermanentAdapterError
from aito.forge import caching

SERVICE = "local forge"
_TREE_MODE = b"40000"
_SUBMODULE_MODE = b"160000"

Entry = tuple[str, bool, str]
"""A tree entry: (name, is a tree, object id); submodules are left out."""


class GitObjects:
    """Objects of the repository at ``repo``, read through one `git cat-file --batch`."""

    def __init__(self, repo: Path, *, blobs: caching.Lru[bytes] | None = None) -> None:
        self.repo = repo
        self.blobs = blobs if blobs is not None else caching.blob_cache()
        self.trees: caching.Lru[list[Entry]] = caching.listing_cache()
        self.commits: caching.Lru[str] = caching.Lru(max_weight=caching.ENTRIES)  # id → tree
        self.listings: caching.Lru[list[tuple[str, str]]] = caching.listing_cache()
        self.started = 0
        """How many `git cat-file` processes this object started (for the benchmarks)."""
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0
        self._finalizer: weakref.finalize[..., GitObjects] | None = None

    # -- names ---------------------------------------------------------------------
    def resolve(self, name: str) -> str | None:
        """The commit ``name`` (a branch, tag, ``HEAD~1`` or an object id) points at, or None.

        As `git rev-parse --verify "<name>^{commit}"`: a name that is missing, ambiguous
        or not a commit gives None.
        """
        if caching.is_object_id(name) and name in self.commits:
            return name
        found = self._query(f"{name}^{{commit}}")
        if found is None:
            return None
        oid, kind, content = found
        if kind != "commit":
            return None
        self.commits.put(oid, _tree_line(content, oid))
        return oid

    def tree_of(self, commit: str) -> str:
        """The root tree of ``commit`` (an object id)."""
        tree = self.commits.get(commit)
        if tree is None:
            if self.resolve(commit) != commit:
                raise PermanentAdapterError(SERVICE, f"no commit {commit} in {self.repo}")
            tree = self.commits.get(commit)
            assert tree is not None
        return tree

    # -- content -------------------------------------------------------------------
    def files(self, commit: str, prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
        """(path, blob id) of every file under ``prefixes`` at ``commit``, in git's order
        (as `git ls-tree -r --full-tree <commit> -- <prefixes>`; symlinks are files)."""
        tree = self.tree_of(commit)
        key = "\0".join((tree, *prefixes))
        listing = self.listings.get(key)
        if listing is None:
            stems = [prefix.strip("/") for prefix in prefixes]
            listing = self.listings.put(key, list(self._walk(tree, "", stems)))
        return listing

    def blob(self, oid: str) -> bytes:
        """A blob's content by its id."""
        data = self.find_blob(oid)
        if data is None:
            raise PermanentAdapterError(SERVICE, f"no blob {oid} in {self.repo}")
        return data

    def find_blob(self, oid: str, *, verify: bool = False) -> bytes | None:
        """A blob's content by its id, or None when this repository does not have it.

        With ``verify``, content whose hash is not ``oid`` (a damaged or doctored object
        store) counts as not found: the caller reads it from elsewhere.
        """
        data = self.blobs.get(oid)
        if data is not None:
            return data
        found = self._query(oid) if caching.is_object_id(oid) else None
        if found is None or found[1] != "blob" or found[0] != oid:
            return None
        if verify and caching.object_id("blob", found[2], like=oid) != oid:
            return None
        return self.blobs.put(oid, found[2])

    def _walk(self, tree: str, base: str, stems: list[str]) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for name, is_tree, oid in self._entries(tree):
            path = f"{base}{name}"
            if is_tree:
                inside = f"{path}/"
                if any(not s or s.startswith(inside) or caching.under(path, [s]) for s in stems):
                    found += self._walk(oid, inside, stems)
            elif caching.under(path, stems):
                found.append((path, oid))
        return found

    def _entries(self, tree: str) -> list[Entry]:
        entries = self.trees.get(tree)
        if entries is not None:
            return entries
        found = self._query(tree)
        if found is None or found[1] != "tree":
            raise PermanentAdapterError(SERVICE, f"no tree {tree} in {self.repo}")
        return self.trees.put(tree, _parse_tree(found[2], tree, self.repo))

    # -- the process ---------------------------------------------------------------
    def _query(self, name: str) -> tuple[str, str, bytes] | None:
        """(object id, type, content) of ``name``, or None when git does not find it."""
        if not name or any(c in name for c in "\n\r\0") or name != name.strip():
            return None  # not a name git could read from one line
        with self._lock:
            for attempt in (1, 2):
                stdin, stdout = self._streams()
                try:
                    stdin.write(name.encode() + b"\n")
                    stdin.flush()
                    header = stdout.readline()
                    if not header.endswith(b"\n"):
                        raise EOFError("git cat-file ended")
                    parts = header.split()
                    if len(parts) != 3 or not parts[2].isdigit():
                        return None  # "<name> missing" or "<name> ambiguous" (a name may
                        # hold spaces: only "<id> <type> <size>" ends in a number)
                    size = int(parts[2])
                    content = stdout.read(size + 1)[:size]  # each answer ends with a newline
                    if len(content) != size:
                        raise EOFError("git cat-file ended mid-object")
                    return parts[0].decode(), parts[1].decode(), content
                except (OSError, EOFError, ValueError) as exc:
                    self._stop_locked()
                    if attempt == 2:
                        raise PermanentAdapterError(
                            SERVICE, f"git cat-file failed in {self.repo}: {exc}"
                        ) from exc
        raise AssertionError("unreachable")

    def _streams(self) -> tuple[IO[bytes], IO[bytes]]:
        if self._proc is None or self._pid != os.getpid() or self._proc.poll() is not None:
            if self._pid == os.getpid():
                self._stop_locked()
            elif self._finalizer is not None:
                self._finalizer.detach()  # a forked child: the process is the parent's
            self._proc = subprocess.Popen(
                ["git", "-C", str(self.repo), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._pid = os.getpid()
            self._finalizer = weakref.finalize(self, _stop, self._proc)
            self.started += 1
        assert self._proc.stdin is not None and self._proc.stdout is not None
        return self._proc.stdin, self._proc.stdout

    def close(self) -> None:
        """Stop the `git cat-file` process (a later read starts another)."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # runs _stop once
        self._proc, self._finalizer = None, None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        if proc.stdin is not None:
            proc.stdin.close()  # end of input: git exits
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


def _tree_line(commit: bytes, oid: str) -> str:
    first = commit.split(b"\n", 1)[0]
    if not first.startswith(b"tree "):
        raise PermanentAdapterError(SERVICE, f"commit {oid} has no tree line")
    return first[5:].decode()


def _parse_tree(data: bytes, oid: str, repo: Path) -> list[Entry]:
    """A tree object's entries: ``<mode> <name>\\0<binary id>`` each."""
    width = len(oid) // 2  # 20 bytes (SHA-1) or 32 (SHA-256)
    entries: list[Entry] = []
    at = 0
    while at < len(data):
        space = data.index(b" ", at)
        nul = data.index(b"\0", space)
        mode, raw_name = data[at:space], data[space + 1 : nul]
        child = data[nul + 1 : nul + 1 + width].hex()
        at = nul + 1 + width
        if mode == _SUBMODULE_MODE:
            continue  # a submodule's commit: not content of this repository
        try:
            name = raw_name.decode()
        except UnicodeDecodeError as exc:
            raise PermanentAdapterError(
                SERVICE, f"tree {oid} in {repo} has a file name that is not UTF-8: {raw_name!r}"
            ) from exc
        entries.append((name, mode == _TREE_MODE, child))
    return entries
