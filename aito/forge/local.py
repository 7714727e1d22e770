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
(maintainers are admins, agents' bots may write), never from the working tree, unless
an explicit ``permissions`` map is given.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic

from aito.errors import ConfigError, PermanentAdapterError
from aito.forge import caching, gitobjects
from aito.forge.base import (
    ISSUE_STATES,
    CheckState,
    Comment,
    Commit,
    FileChange,
    FileStatus,
    Identity,
    Issue,
    MergeConflict,
    Permission,
    PullRequest,
    PullState,
    Review,
    ReviewState,
    StatusCheck,
)
from aito.org import organization, yamlfiles

SERVICE = "local forge"
_SPECIAL_MODES = (b"120000", b"160000")  # a symbolic link, a submodule
Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalForge:
    """A local git repository with pull requests stored in ``store``."""

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

    def _anchor_governance_branch(self) -> None:
        """The store belongs to the governance branch it was first opened for.

        The branch name comes from `org/org.yaml` in whatever is checked out; a checkout
        whose org.yaml names another branch (one a proposer pushed, with laxer rules)
        must not make that branch the one whose org judges and into which decisions
        merge."""
        path = self.store / "forge.json"
        try:
            anchored = json.loads(path.read_text()).get("governance_branch")
        except FileNotFoundError:
            _write_json(path, {"governance_branch": self._base})
            return
        except (ValueError, AttributeError):
            anchored = None
        if not isinstance(anchored, str):
            raise ConfigError(
                f"{path} does not say which branch governs; write "
                f'{{"governance_branch": "{self._base}"}} into it if that is the one'
            )
        if anchored != self._base:
            raise ConfigError(
                f"{self.store} holds the decisions of governance branch {anchored!r}, but "
                f"org/org.yaml in {self.repo} names {self._base!r}: check out {anchored} "
                f"(or, if the governance branch really moved, set governance_branch in "
                f"{path})"
            )

    @property
    def default_branch(self) -> str:
        return self._base

    # -- git -----------------------------------------------------------------------
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

    def _tree_of(self, sha: str) -> str:
        return self._git("rev-parse", f"{sha}^{{tree}}").stdout.decode().strip()

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
                env = {"GIT_INDEX_FILE": str(Path(scratch) / "index"), **_author_env(author)}
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
                "author": _identity_json(author),
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
        pull = self.pull(number)
        if pull.merge_sha is not None:
            base = f"{pull.merge_sha}^1"  # the base as it was when merged
        else:
            base = self._rev(pull.base_ref) or pull.base_ref
        names = self._git("diff", "--name-only", "-z", f"{base}...{pull.head_sha}").stdout
        return sorted(_name(name) for name in filter(None, names.split(b"\0")))

    def file_changes(self, number: int) -> list[FileChange]:
        """Against the merge base, without rename detection (a rename is a removal and an
        addition); symbolic links and submodules at the head are ``special``."""
        pull = self.pull(number)
        if pull.merge_sha is not None:
            base = f"{pull.merge_sha}^1"
        else:
            base = self._rev(pull.base_ref) or pull.base_ref
        raw = self._git(
            "diff", "--raw", "--no-renames", "-z", "--no-abbrev", f"{base}...{pull.head_sha}"
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
            special = status is not FileStatus.REMOVED and new_mode in _SPECIAL_MODES
            changes.append(FileChange(_name(name), status, special=special))
        return sorted(changes, key=lambda change: change.path)

    # -- conversation --------------------------------------------------------------
    def reviews(self, number: int) -> list[Review]:
        return [_to_review(r) for r in self._load(number)["reviews"]]

    def dismiss_review(self, number: int, *, review_id: int, actor: Identity, message: str) -> None:
        """As GitHub: only an approval or a request for changes can be dismissed."""
        with self._locked():
            record = self._load(number)
            if record["state"] != "open":
                raise PermanentAdapterError(SERVICE, f"pull request #{number} is {record['state']}")
            review = next((r for r in record["reviews"] if r["id"] == review_id), None)
            if review is None:
                raise PermanentAdapterError(SERVICE, f"no review {review_id} on #{number}")
            if review["state"] not in (
                ReviewState.APPROVED.value,
                ReviewState.CHANGES_REQUESTED.value,
            ):
                raise PermanentAdapterError(
                    SERVICE, f"review {review_id} is {review['state'].lower()}: not dismissable"
                )
            review["dismissal"] = {
                "by": _identity_json(actor),
                "at": self._clock().isoformat(),
                "state": review["state"],
                "message": message,
            }
            review["state"] = ReviewState.DISMISSED.value
            self._save(record)

    def post_review(
        self, number: int, *, author: Identity, state: ReviewState, body: str, commit_id: str
    ) -> Review:
        with self._locked():
            record = self._load(number)
            if record["state"] != "open":
                raise PermanentAdapterError(SERVICE, f"pull request #{number} is {record['state']}")
            review = {
                "id": self._next_id("item"),
                "user": _identity_json(author),
                "state": state.value,
                "commit_id": commit_id,
                "submitted_at": self._clock().isoformat(),
                "body": body,
            }
            record["reviews"].append(review)
            self._save(record)
        return self.reviews(number)[-1]

    def comments(self, number: int) -> list[Comment]:
        return [_to_comment(c) for c in self._load(number)["comments"]]

    def post_comment(self, number: int, *, author: Identity, body: str) -> Comment:
        with self._locked():
            record = self._load(number)
            now = self._clock().isoformat()
            comment = {
                "id": self._next_id("item"),
                "user": _identity_json(author),
                "body": body,
                "created_at": now,
                "updated_at": now,
            }
            record["comments"].append(comment)
            self._save(record)
        return _to_comment(comment)

    def edit_comment(self, number: int, *, comment_id: int, body: str) -> Comment:
        with self._locked():
            record = self._load(number)
            for comment in record["comments"]:
                if comment["id"] == comment_id:
                    comment["body"] = body
                    comment["updated_at"] = self._clock().isoformat()
                    self._save(record)
                    return _to_comment(comment)
        raise PermanentAdapterError(SERVICE, f"no comment {comment_id} on #{number}")

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
            _write_json(path, statuses)

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
            env = _author_env(actor)
            merge_sha = (
                self._git("commit-tree", tree, "-p", base, "-p", sha, "-m", message, env=env)
                .stdout.decode()
                .strip()
            )
            self._move_branch(base_ref, merge_sha, base)
            record.update(
                state="merged",
                merged_by=_identity_json(actor),
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
                state="closed", closed_by=_identity_json(actor), closed_at=self._clock().isoformat()
            )
            self._save(record)

    def permission(self, user: Identity) -> Permission:
        if self._permissions is not None:
            return self._permissions.get(user.id, Permission.READ)
        return self._committed_permissions().get(user.id, Permission.READ)

    def _committed_permissions(self) -> dict[int, Permission]:
        """Roles from `org/org.yaml` on the base branch as committed (never the working
        tree): maintainers administer, agents' bots write; nobody, if it is unreadable."""
        sha = self._rev(f"refs/heads/{self._base}")
        if sha is None:
            return {}
        if self._base_permissions is not None and self._base_permissions[0] == sha:
            return self._base_permissions[1]
        content = self.read_tree(sha, prefixes=["org/org.yaml"]).get("org/org.yaml")
        found: dict[int, Permission] = {}
        if content is not None:
            try:
                data = yamlfiles.load_bytes(content, Path("org/org.yaml"))
                org = organization.OrgFile.model_validate(data)
            except (yamlfiles.YamlFileError, pydantic.ValidationError):
                org = None
            if org is not None:
                found = {bot.id: Permission.WRITE for bot in org.bots.values()}
                found |= {person.id: Permission.ADMIN for person in org.maintainers}
        self._base_permissions = (sha, found)
        return found

    # -- issues --------------------------------------------------------------------
    def open_issue(
        self, *, title: str, body: str, labels: Sequence[str], author: Identity
    ) -> Issue:
        with self._locked():
            record: dict[str, Any] = {
                "number": self._next_number(),
                "title": title,
                "body": body,
                "state": "open",
                "author": _identity_json(author),
                "labels": sorted(set(labels)),
                "created_at": self._clock().isoformat(),
                "closed_by": None,
                "closed_at": None,
            }
            _write_json(self._issue_path(int(record["number"])), record)
        return self._to_issue(record)

    def issues(self, *, state: str | None = "open", labels: Sequence[str] = ()) -> list[Issue]:
        if state is not None and state not in ISSUE_STATES:
            raise ValueError(f"an issue is open or closed, not {state!r}")
        paths = sorted((self.store / "issues").glob("*.json"), key=lambda p: int(p.stem))
        found = [self._to_issue(json.loads(path.read_text())) for path in paths]
        wanted = set(labels)
        return [
            issue
            for issue in found
            if (state is None or issue.state == state) and wanted <= issue.labels
        ]

    def close_issue(self, number: int, *, actor: Identity) -> None:
        with self._locked():
            path = self._issue_path(number)
            if not path.exists():
                raise PermanentAdapterError(SERVICE, f"no issue #{number} in {self.store}")
            record: dict[str, Any] = json.loads(path.read_text())
            if record["state"] != "open":
                return
            record.update(
                state="closed", closed_by=_identity_json(actor), closed_at=self._clock().isoformat()
            )
            _write_json(path, record)

    def _issue_path(self, number: int) -> Path:
        return self.store / "issues" / f"{number}.json"

    def _to_issue(self, record: dict[str, Any]) -> Issue:
        number = int(record["number"])
        return Issue(
            number=number,
            title=record["title"],
            body=record["body"],
            state=record["state"],
            author=Identity(**record["author"]),
            labels=frozenset(record["labels"]),
            created_at=dt.datetime.fromisoformat(record["created_at"]),
            url=self._issue_path(number).as_uri(),
        )

    # -- storage -------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.store / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _path(self, number: int) -> Path:
        return self.store / "pulls" / f"{number}.json"

    def _load(self, number: int) -> dict[str, Any]:
        path = self._path(number)
        if not path.exists():
            raise PermanentAdapterError(SERVICE, f"no pull request #{number} in {self.store}")
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def _save(self, record: dict[str, Any]) -> None:
        _write_json(self._path(int(record["number"])), record)

    def _records(self) -> list[dict[str, Any]]:
        paths = sorted((self.store / "pulls").glob("*.json"), key=lambda p: int(p.stem))
        return [json.loads(p.read_text()) for p in paths]

    def _next_id(self, kind: str) -> int:
        path = self.store / "counters.json"
        counters = json.loads(path.read_text()) if path.exists() else {}
        counters[kind] = counters.get(kind, 0) + 1
        _write_json(path, counters)
        return int(counters[kind])

    def _next_number(self) -> int:
        """The next issue or pull request number: one sequence for both, as on GitHub.
        (The counter keeps its first name, "pull", so existing stores number on.)"""
        return self._next_id("pull")

    def _observe_push(self, record: dict[str, Any], sha: str, by: int | None) -> None:
        if record["pushes"] and record["pushes"][-1]["sha"] == sha:
            return
        record["pushes"].append(
            {"sha": sha, "tree": self._tree_of(sha), "at": self._clock().isoformat(), "by": by}
        )

    def _sync_head(self, record: dict[str, Any]) -> bool:
        """Notice a head moved by plain git (outside this forge); True if it did."""
        tip = self._rev(f"refs/heads/{record['head_ref']}")
        if tip is None or (record["pushes"] and record["pushes"][-1]["sha"] == tip):
            return False
        self._observe_push(record, tip, None)
        return True

    def _to_pull(self, record: dict[str, Any]) -> PullRequest:
        return PullRequest(
            number=int(record["number"]),
            title=record["title"],
            body=record["body"],
            state=PullState(record["state"]),
            author=Identity(**record["author"]),
            head_ref=record["head_ref"],
            head_sha=record["pushes"][-1]["sha"],
            base_ref=record["base_ref"],
            labels=frozenset(record["labels"]),
            created_at=dt.datetime.fromisoformat(record["created_at"]),
            merged_by=Identity(**record["merged_by"]) if record["merged_by"] else None,
            closed_by=Identity(**record["closed_by"]) if record["closed_by"] else None,
            merge_sha=record["merge_sha"],
            url=self._path(int(record["number"])).as_uri(),
        )


def _name(raw: bytes) -> str:
    # git stores any bytes as a file name: one that is not UTF-8 is shown with U+FFFD,
    # which no plain path holds (aito.org.paths.unsafe_reason), so it is judged critical.
    return raw.decode("utf-8", errors="replace")


def _identity_json(identity: Identity) -> dict[str, Any]:
    return {"login": identity.login, "id": identity.id}


def _to_review(review: dict[str, Any]) -> Review:
    dismissal = review.get("dismissal")
    return Review(
        id=review["id"],
        user=Identity(**review["user"]),
        state=ReviewState(review["state"]),
        commit_id=review["commit_id"],
        submitted_at=dt.datetime.fromisoformat(review["submitted_at"]),
        body=review["body"],
        dismissed_by=Identity(**dismissal["by"]) if dismissal else None,
        dismissed_at=dt.datetime.fromisoformat(dismissal["at"]) if dismissal else None,
        dismissed_state=ReviewState(dismissal["state"]) if dismissal else None,
    )


def _to_comment(comment: dict[str, Any]) -> Comment:
    return Comment(
        id=comment["id"],
        user=Identity(**comment["user"]),
        body=comment["body"],
        created_at=dt.datetime.fromisoformat(comment["created_at"]),
        updated_at=dt.datetime.fromisoformat(comment["updated_at"]),
    )


def _author_env(identity: Identity) -> dict[str, str]:
    email = f"{identity.id}+{identity.login}@users.noreply.aito.local"
    return {
        "GIT_AUTHOR_NAME": identity.login,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": identity.login,
        "GIT_COMMITTER_EMAIL": email,
    }


def _write_json(path: Path, data: Any) -> None:
    # Write then rename: a crash never leaves half a file.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
