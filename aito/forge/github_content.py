"""Repository content on GitHub: reading trees and blobs (kept by content hash) and
committing files through the git data API.

:class:`ContentMethods` is the part of :class:`aito.forge.github.GitHubForge` that
reads content (one recursive tree read, then one read per blob never seen, by blob
sha; a local clone's object store is asked first when given) and writes commits as
their ``author``. Blobs, trees and commits are content-addressed, so writing one twice
makes nothing new; a branch created or moved again after a lost reply is found at the
intended commit and taken as done.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, TypeVar

from github import InputGitTreeElement
from github.GitRef import GitRef

from aito import errors
from aito.forge import base as port
from aito.forge import caching, gitobjects
from aito.forge.github_calling import SERVICE, Account, GitHubCalls

T = TypeVar("T")
_SHA = re.compile(r"[0-9a-f]{40}")
_SPECIAL_MODES = ("120000", "160000")  # a symbolic link, a submodule


class TreeEntry(NamedTuple):
    """A file of a commit's tree: its path, object sha, whether it is a blob (content this
    forge reads; a submodule is not) and whether it is a symbolic link or a submodule."""

    path: str
    sha: str
    blob: bool
    special: bool


class ContentMethods(GitHubCalls):
    """Content of :class:`aito.forge.github.GitHubForge` (caches set by its constructor)."""

    _default_branch: str | None
    _blobs: caching.Lru[bytes]
    _local: gitobjects.GitObjects | None
    _trees: caching.Lru[list[TreeEntry]]

    @property
    def default_branch(self) -> str:
        if self._default_branch is None:
            repo = self._gov.repo
            self._default_branch = self._call("read the repository", lambda: repo.default_branch)
        return self._default_branch

    def read_tree(self, ref: str, *, prefixes: Sequence[str]) -> dict[str, bytes]:
        """One recursive tree read, then one read per blob not read before (by blob sha).

        Blobs are kept by sha, and the tree of a full commit sha too (both never change;
        see :mod:`aito.forge.caching`): a branch name costs one request, a commit sha
        read before none, and only blobs never seen cost one each.
        """
        wanted = [
            (entry.path, entry.sha)
            for entry in self._tree_entries(ref)
            if entry.blob and caching.under(entry.path, prefixes)
        ]
        blobs: dict[str, bytes] = {}
        for path, sha in wanted:
            if sha not in blobs:
                kept = self._blobs.get(sha)
                if kept is None and self._local is not None:
                    kept = self._local.find_blob(sha, verify=True)
                blobs[sha] = kept if kept is not None else self._read_blob(sha, f"{path} at {ref}")
        return {path: blobs[sha] for path, sha in wanted}

    def _read_blob(self, sha: str, what: str) -> bytes:
        blob = self._call(f"read {what}", functools.partial(self._gov.repo.get_git_blob, sha))
        raw = blob.content.encode()
        return self._blobs.put(sha, base64.b64decode(raw) if blob.encoding == "base64" else raw)

    def _tree_entries(self, ref: str) -> list[TreeEntry]:
        """Every file, symbolic link and submodule at ``ref`` (one recursive tree read);
        kept when ``ref`` is a commit sha, so reading a pull request's files and then its
        content at the same head reads the tree once."""
        kept = self._trees.get(ref) if caching.is_object_id(ref) else None
        if kept is not None:
            return kept
        repo = self._gov.repo
        tree = self._call(f"read tree {ref}", lambda: repo.get_git_tree(ref, recursive=True))
        if tree.truncated:
            where = f"read tree {ref} on {self.repo_name}"
            raise errors.PermanentAdapterError(SERVICE, f"{where}: GitHub truncated the tree")
        entries = [
            TreeEntry(e.path, e.sha, e.type == "blob", e.mode in _SPECIAL_MODES)
            for e in tree.tree
            if e.type != "tree"
        ]
        if caching.is_object_id(ref):
            self._trees.put(ref, entries)
        return entries

    def commit_files(
        self,
        *,
        branch: str,
        base: str,
        files: Mapping[str, bytes | None],
        message: str,
        author: port.Identity,
    ) -> str:
        """One commit through the git data API (blobs, a tree, a commit, the ref), as
        ``author``. Nothing is committed when the files already are so; returns the head."""
        account = self._as(author)
        repo = account.repo

        def call(
            what: str, fn: Callable[[], T], recover: Callable[[], T | None] | None = None
        ) -> T:
            return self._call(
                f"{what} (commit to {branch})",
                fn,
                credential=account.credential,
                paced=account,
                recover=recover,
            )

        def at(sha: str) -> Callable[[], bool | None]:
            # after a lost reply: the branch already at ``sha`` is the write done
            def found() -> bool | None:
                ref = account.repo.get_git_ref(f"heads/{branch}")
                return True if ref.object.sha == sha else None

            return found

        ref = self._ref(account, branch)
        parent_sha = ref[1] if ref else base if _SHA.fullmatch(base) else None
        if parent_sha is None and (base_ref := self._ref(account, base)):
            parent_sha = base_ref[1]
        if parent_sha is None:
            where = f"commit to {branch} on {self.repo_name}"
            raise errors.PermanentAdapterError(SERVICE, f"{where}: base {base} does not exist")
        parent = call("read the parent commit", lambda: repo.get_git_commit(parent_sha))
        elements = []
        for path, content in files.items():
            blob_sha = None  # deletes the path
            if content is not None:
                upload = functools.partial(
                    repo.create_git_blob, base64.b64encode(content).decode(), "base64"
                )
                blob_sha = call(f"upload {path}", upload).sha
            elements.append(InputGitTreeElement(path, "100644", "blob", sha=blob_sha))
        tree = call("write the tree", lambda: repo.create_git_tree(elements, parent.tree))
        sha = parent_sha
        if tree.sha != parent.tree.sha:
            write = functools.partial(repo.create_git_commit, message, tree, [parent])
            sha = call("write the commit", write).sha
        if ref is None:
            create = functools.partial(repo.create_git_ref, f"refs/heads/{branch}", sha)
            call("create the branch", lambda: bool(create()), recover=at(sha))
        elif sha != ref[1]:
            current = ref[0]

            def move() -> bool:
                current.edit(sha)
                return True

            call("move the branch", move, recover=at(sha))
        return sha

    def _ref(self, account: Account, branch: str) -> tuple[GitRef, str] | None:
        """The branch's ref, read (a lazy one would PATCH the wrong URL), and its sha."""
        ref = account.repo.get_git_ref(f"heads/{branch}")
        what = f"read branch {branch}"
        sha = self._maybe(what, lambda: ref.object.sha, credential=account.credential)
        return None if sha is None else (ref, sha)
