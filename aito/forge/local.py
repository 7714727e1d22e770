"""`LocalForge`: the governance repo as a real local git repository (the embedded default).

Branches, commits and merges are real git operations (plumbing, so the working
tree is only touched when the branch it has checked out moves, and then by a
fast-forward that refuses to overwrite local changes). Pull requests, reviews,
comments, labels and statuses are JSON files beside it, one file per pull
request under ``<store>/pulls/`` and one per issue under ``<store>/issues/``,
readable with any editor or `jq`. Issues and pull requests share one number
sequence, as on GitHub, so ``#7`` names one thing.

There is no authentication here: whoever runs `aito` on this machine may act as
any identity of the organization, as the owner of a local repository can.

**Time** is this forge's own clock (the "server"): a push is recorded when
`commit_files` moves a pull request's branch, or when the forge first notices that
plain git moved it; reviews, comments and dismissals carry the time they were made.
Commit dates are never read.

The **governance branch** is fixed when the store is first used (kept in
``<store>/forge.json``): opening it later for another branch (a checkout whose
org.yaml names a branch a proposer pushed) is refused, not obeyed.

**Permissions** come from the base branch's `org/org.yaml` as committed
(maintainers are admins, agents' bots and human members may write), never from the
working tree, unless an explicit ``permissions`` map is given.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aito.errors import ConfigError, PermanentAdapterError
from aito.forge import gitobjects, local_git, local_store
from aito.forge.base import (
    CheckState,
    Commit,
    FileChange,
    FileStatus,
    Identity,
    MergeConflict,
    Permission,
    PullRequest,
    PullState,
    StatusCheck,
)
from aito.forge.local_conversation import ConversationMethods
from aito.forge.local_issues import IssueMethods
from aito.forge.local_permissions import PermissionMethods
from aito.forge.local_store import Clock

SERVICE = local_git.SERVICE


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalForge(ConversationMethods, IssueMethods, PermissionMethods):
    """A local git repository with pull requests stored in ``store``.

    Its methods are grouped by job: git plumbing in :mod:`aito.forge.local_git`, the
    JSON store in :mod:`aito.forge.local_store`, reviews and comments in
    :mod:`aito.forge.local_conversation`, issues in :mod:`aito.forge.local_issues`,
    permissions in :mod:`aito.forge.local_permissions`; commits, pull requests and their
    state here."""

    def __init__(
        self,
        *,
        repo: Path,
        store: Path,
        base_branch: str = "main",
        permissions: Mapping[int, Permission] | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self.repo = repo
        self.store = store
        self._base = base_branch
        self._permissions = dict(permissions) if permissions is not None else None
        self._base_permissions: tuple[str, dict[int, Permission]] | None = None
        self._clock = clock
        if not (repo / ".git").exists():
            raise ConfigError(
                f"{repo} is not a git repository; run `git init -b {base_branch}` and commit "
                "org/ and profiles/ (the local forge keeps decisions as branches there)"
            )
        (store / "pulls").mkdir(parents=True, exist_ok=True)
        (store / "issues").mkdir(parents=True, exist_ok=True)
        self._anchor_governance_branch()
        self.objects = gitobjects.GitObjects(repo)
        """Refs and content, read through one `git cat-file --batch` and cached by id."""

    @property
    def default_branch(self) -> str:
        return self._base

    def commit_files(
        self,
        *,
        branch: str,
        base: str,
        files: Mapping[str, bytes | None],
        message: str,
        author: Identity,
    ) -> str:
        with self._locked():
            old = self._rev(f"refs/heads/{branch}")
            parent = old or self._rev(base)
            if parent is None:
                raise PermanentAdapterError(SERVICE, f"no branch {base!r} to start {branch!r} from")
            with tempfile.TemporaryDirectory() as scratch:
                env = {
                    "GIT_INDEX_FILE": str(Path(scratch) / "index"),
                    **local_git.author_env(author),
                }
                self._git("read-tree", parent, env=env)
                for path, content in files.items():
                    if content is None:
                        self._git("update-index", "--force-remove", "--", path, env=env)
                        continue
                    blob = self._git("hash-object", "-w", "--stdin", stdin=content).stdout
                    self._git(
                        "update-index",
                        "--add",
                        "--cacheinfo",
                        f"100644,{blob.decode().strip()},{path}",
                        env=env,
                    )
                tree = self._git("write-tree", env=env).stdout.decode().strip()
                sha = (
                    self._git("commit-tree", tree, "-p", parent, "-m", message, env=env)
                    .stdout.decode()
                    .strip()
                )
            self._move_branch(branch, sha, old)
            for record in self._records():
                if record["head_ref"] == branch and record["state"] == "open":
                    self._observe_push(record, sha, author.id)
                    self._save(record)
        return sha

    # -- pull requests -------------------------------------------------------------
    def open_pull(
        self, *, head: str, base: str, title: str, body: str, author: Identity
    ) -> PullRequest:
        with self._locked():
            sha = self._rev(f"refs/heads/{head}")
            if sha is None or self._rev(f"refs/heads/{base}") is None:
                raise PermanentAdapterError(SERVICE, f"both {head!r} and {base!r} must be branches")
            for existing in self._records():
                if existing["head_ref"] == head and existing["state"] == "open":
                    raise PermanentAdapterError(
                        SERVICE, f"pull request #{existing['number']} is already open for {head}"
                    )
            number = self._next_number()
            now = self._clock()
            record: dict[str, Any] = {
                "number": number,
                "title": title,
                "body": body,
                "state": "open",
                "author": local_store.identity_json(author),
                "head_ref": head,
                "base_ref": base,
                "created_at": now.isoformat(),
                "labels": [],
                "requested_reviewers": [],
                "pushes": [],
                "reviews": [],
                "comments": [],
                "merged_by": None,
                "closed_by": None,
                "merge_sha": None,
            }
            self._observe_push(record, sha, author.id)
            self._save(record)
        return self._to_pull(record)

    def pull(self, number: int) -> PullRequest:
        with self._locked():
            record = self._load(number)
            if record["state"] == "open" and self._sync_head(record):
                self._save(record)
        return self._to_pull(record)

    def pulls(self, *, state: PullState | None = PullState.OPEN) -> list[PullRequest]:
        found = [self.pull(int(r["number"])) for r in self._records()]
        return [p for p in found if state is None or p.state is state]

    def pull_from(self, branch: str) -> PullRequest | None:
        numbers = [int(r["number"]) for r in self._records() if r["head_ref"] == branch]
        return self.pull(max(numbers)) if numbers else None

    def commits(self, number: int) -> list[Commit]:
        record = self._load(number)
        return [
            Commit(
                sha=push["sha"],
                tree_sha=push["tree"],
                author=None,
                pushed_at=dt.datetime.fromisoformat(push["at"]),
            )
            for push in record["pushes"]
        ]

    def changed_files(self, number: int) -> list[str]:
        names = self._git("diff", "--name-only", "-z", self._changes(number)).stdout
        return sorted(local_git.path_name(name) for name in filter(None, names.split(b"\0")))

    def file_changes(self, number: int, *, head: str | None = None) -> list[FileChange]:
        """Against the merge base, without rename detection (a rename is a removal and an
        addition); symbolic links and submodules at the head are ``special``."""
        raw = self._git(
            "diff", "--raw", "--no-renames", "-z", "--no-abbrev", self._changes(number, head)
        ).stdout
        fields = raw.split(b"\0")
        changes: list[FileChange] = []
        for meta, name in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(b":"):
                continue
            _, new_mode, _, _, letter = meta[1:].split(b" ")
            status = {b"A": FileStatus.ADDED, b"D": FileStatus.REMOVED}.get(
                letter[:1], FileStatus.MODIFIED
            )
            special = status is not FileStatus.REMOVED and new_mode in local_git.SPECIAL_MODES
            changes.append(FileChange(local_git.path_name(name), status, special=special))
        return sorted(changes, key=lambda change: change.path)

    def _changes(self, number: int, head: str | None = None) -> str:
        """The pull request's changes as git's ``base...head`` (from their merge base), the
        base being the base branch, or for a merged pull request the base as it was when
        merged; ``head`` (a commit a caller read) pins an open one's head."""
        pull = self.pull(number)
        if pull.merge_sha is not None:
            base = f"{pull.merge_sha}^1"
        else:
            base = self._rev(pull.base_ref) or pull.base_ref
        pinned = head if head is not None and pull.state is PullState.OPEN else pull.head_sha
        return f"{base}...{pinned}"

    # -- state ---------------------------------------------------------------------
    def set_labels(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        with self._locked():
            record = self._load(number)
            labels = (set(record["labels"]) | set(add)) - set(remove)
            record["labels"] = sorted(labels)
            self._save(record)

    def set_status(self, *, sha: str, context: str, state: CheckState, description: str) -> None:
        with self._locked():
            path = self.store / "statuses.json"
            statuses = json.loads(path.read_text()) if path.exists() else {}
            statuses.setdefault(sha, {})[context] = {
                "state": state.value,
                "description": description,
            }
            local_store.write_json(path, statuses)

    def statuses(self, sha: str) -> list[StatusCheck]:
        path = self.store / "statuses.json"
        found = json.loads(path.read_text()).get(sha, {}) if path.exists() else {}
        return [
            StatusCheck(context, CheckState(v["state"]), v["description"], sha)
            for context, v in sorted(found.items())
        ]

    def request_reviewers(self, number: int, *, logins: Sequence[str]) -> dict[str, str]:
        """As GitHub: the author cannot be asked to review their own pull request."""
        with self._locked():
            record = self._load(number)
            author = str(record["author"]["login"]).lower()
            refused = {
                login: "is the author of the pull request"
                for login in logins
                if login.lower() == author
            }
            wanted = set(logins) - set(refused)
            record["requested_reviewers"] = sorted(set(record["requested_reviewers"]) | wanted)
            self._save(record)
        return refused

    def requested_reviewers(self, number: int) -> list[str]:
        return list(self._load(number)["requested_reviewers"])

    def merge(self, number: int, *, sha: str, actor: Identity, message: str) -> str:
        with self._locked():
            record = self._load(number)
            self._sync_head(record)
            head = record["pushes"][-1]["sha"]
            if record["state"] != "open":
                raise MergeConflict(f"pull request #{number} is {record['state']}")
            if head != sha:
                raise MergeConflict(
                    f"head of #{number} moved to {head[:12]}; not merging {sha[:12]}"
                )
            failing = [
                s.context
                for s in self.statuses(sha)
                if s.state in (CheckState.FAILURE, CheckState.ERROR)
            ]
            if failing:
                raise MergeConflict(f"checks fail on {sha[:12]}: {', '.join(failing)}")
            base_ref = record["base_ref"]
            base = self._rev(f"refs/heads/{base_ref}")
            assert base is not None
            merged_tree = self._git("merge-tree", "--write-tree", base, sha, check=False)
            if merged_tree.returncode != 0:
                raise MergeConflict(
                    f"#{number} conflicts with {base_ref}; the proposer must rebase"
                )
            tree = merged_tree.stdout.decode().split()[0]
            env = local_git.author_env(actor)
            merge_sha = (
                self._git("commit-tree", tree, "-p", base, "-p", sha, "-m", message, env=env)
                .stdout.decode()
                .strip()
            )
            self._move_branch(base_ref, merge_sha, base)
            record.update(
                state="merged",
                merged_by=local_store.identity_json(actor),
                merge_sha=merge_sha,
                closed_at=self._clock().isoformat(),
            )
            self._save(record)
        return merge_sha

    def close(self, number: int, *, actor: Identity) -> None:
        with self._locked():
            record = self._load(number)
            if record["state"] != "open":
                return
            record.update(
                state="closed",
                closed_by=local_store.identity_json(actor),
                closed_at=self._clock().isoformat(),
            )
            self._save(record)

    # -- pushes --------------------------------------------------------------------
    def _observe_push(self, record: dict[str, Any], sha: str, by: int | None) -> None:
        if record["pushes"] and record["pushes"][-1]["sha"] == sha:
            return
        tree = self.objects.tree_of(sha)
        record["pushes"].append(
            {"sha": sha, "tree": tree, "at": self._clock().isoformat(), "by": by}
        )

    def _sync_head(self, record: dict[str, Any]) -> bool:
        """Notice a head moved by plain git (outside this forge); True if it did."""
        tip = self._rev(f"refs/heads/{record['head_ref']}")
        if tip is None or (record["pushes"] and record["pushes"][-1]["sha"] == tip):
            return False
        self._observe_push(record, tip, None)
        return True
