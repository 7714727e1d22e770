"""The `Forge` port: what governance and agents need from a code forge.

Everything is our own DTOs (never SDK objects). Two implementations sit beside
this file: `local.py` (a real local git repo, PR data stored beside it; its parts in
`local_*.py`) and `github.py` (PyGithub; its parts in `github_*.py`). Identities are
numeric user ids, as GitHub has them; logins are for display only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Protocol

from aito import errors


@dataclasses.dataclass(frozen=True)
class Identity:
    """A forge account: a bot (agent) or a human."""

    login: str
    id: int


class ReviewState(enum.StrEnum):
    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    COMMENTED = "COMMENTED"
    DISMISSED = "DISMISSED"


class PullState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class Permission(enum.StrEnum):
    NONE = "none"
    READ = "read"
    TRIAGE = "triage"
    WRITE = "write"
    MAINTAIN = "maintain"
    ADMIN = "admin"


class CheckState(enum.StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class Review:
    """A submitted review. A dismissed one has ``state`` DISMISSED and says, when the
    forge tells, who dismissed it, when (server time) and what it was before."""

    id: int
    user: Identity
    state: ReviewState
    commit_id: str
    submitted_at: dt.datetime
    body: str = ""
    dismissed_by: Identity | None = None
    dismissed_at: dt.datetime | None = None
    dismissed_state: ReviewState | None = None


@dataclasses.dataclass(frozen=True)
class Comment:
    id: int
    user: Identity
    body: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Commit:
    """A commit of a pull request, in order.

    ``pushed_at`` is when it became the pull request's head, by the forge **server's**
    clock, or None when the forge cannot tell (never a commit's author or committer
    date, which whoever pushes can set to anything)."""

    sha: str
    tree_sha: str
    author: Identity | None
    pushed_at: dt.datetime | None


class FileStatus(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    RENAMED = "renamed"


@dataclasses.dataclass(frozen=True)
class FileChange:
    """One file a pull request changes, against the base it branched from.

    ``previous_path``: a renamed file's old name. ``special``: at the head it is a
    symbolic link or a submodule, not a regular file."""

    path: str
    status: FileStatus
    previous_path: str | None = None
    special: bool = False


@dataclasses.dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    state: PullState
    author: Identity
    head_ref: str
    head_sha: str
    base_ref: str
    labels: frozenset[str]
    created_at: dt.datetime
    merged_by: Identity | None = None
    closed_by: Identity | None = None
    merge_sha: str | None = None
    url: str | None = None
    closed_at: dt.datetime | None = None  # when it was merged or closed (server time)


@dataclasses.dataclass(frozen=True)
class StatusCheck:
    context: str
    state: CheckState
    description: str
    sha: str


@dataclasses.dataclass(frozen=True)
class Issue:
    """An issue (never a pull request): how agents ask humans to act and raise alerts.

    Issues and pull requests share one number sequence, as on GitHub. ``state`` is
    ``"open"`` or ``"closed"``."""

    number: int
    title: str
    body: str
    state: str
    author: Identity
    labels: frozenset[str]
    created_at: dt.datetime
    url: str | None = None


ISSUE_STATES = ("open", "closed")


class MergeConflict(Exception):
    """The merge was refused: the head moved, checks fail, or the branches conflict."""


class GovernanceOnly(errors.ConfigError):
    """A write only the governance bot makes (a status, labels, the tally's comment, a
    merge or close), asked of a forge that holds no governance key: on GitHub an agent's
    job carries its own App's key only."""


class Forge(Protocol):
    """A governance repo and its pull requests. Every method is keyword-only past the first."""

    @property
    def default_branch(self) -> str: ...

    # -- content -------------------------------------------------------------------
    def read_tree(self, ref: str, *, prefixes: Sequence[str]) -> dict[str, bytes]:
        """Every file under ``prefixes`` at ``ref`` (a branch or a sha): path → content."""
        ...

    def commit_files(
        self,
        *,
        branch: str,
        base: str,
        files: Mapping[str, bytes | None],
        message: str,
        author: Identity,
    ) -> str:
        """Commit ``files`` (None deletes) on ``branch``, creating it from ``base`` if new."""
        ...

    # -- pull requests -------------------------------------------------------------
    def open_pull(
        self, *, head: str, base: str, title: str, body: str, author: Identity
    ) -> PullRequest: ...

    def pull(self, number: int) -> PullRequest: ...

    def pulls(self, *, state: PullState | None = PullState.OPEN) -> list[PullRequest]: ...

    def pull_from(self, branch: str) -> PullRequest | None:
        """The newest pull request (in any state) from ``branch`` of this repository, or
        None: a lookup whose cost does not grow with the repository's history."""
        ...

    def commits(self, number: int) -> list[Commit]: ...

    def changed_files(self, number: int) -> list[str]: ...

    def file_changes(self, number: int, *, head: str | None = None) -> list[FileChange]:
        """Every file the pull request adds, modifies, removes or renames, with how: as of
        commit ``head`` (what a caller read and will judge and merge), else its head now."""
        ...

    # -- conversation --------------------------------------------------------------
    def reviews(self, number: int) -> list[Review]: ...

    def post_review(
        self, number: int, *, author: Identity, state: ReviewState, body: str, commit_id: str
    ) -> Review: ...

    def dismiss_review(self, number: int, *, review_id: int, actor: Identity, message: str) -> None:
        """Dismiss a review as ``actor`` (the forge records who and when)."""
        ...

    def comments(self, number: int) -> list[Comment]: ...

    def post_comment(self, number: int, *, author: Identity, body: str) -> Comment: ...

    def edit_comment(self, number: int, *, comment_id: int, body: str) -> Comment: ...

    # -- state ---------------------------------------------------------------------
    def set_labels(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None: ...

    def set_status(
        self, *, sha: str, context: str, state: CheckState, description: str
    ) -> None: ...

    def statuses(self, sha: str) -> list[StatusCheck]: ...

    def request_reviewers(self, number: int, *, logins: Sequence[str]) -> dict[str, str]:
        """Ask ``logins`` for a review; returns those that cannot be asked, with why
        (not a collaborator, the author), instead of failing for all."""
        ...

    def requested_reviewers(self, number: int) -> list[str]: ...

    def merge(self, number: int, *, sha: str, actor: Identity, message: str) -> str:
        """Merge if the head is still ``sha`` (else :class:`MergeConflict`); the merge sha."""
        ...

    def close(self, number: int, *, actor: Identity) -> None: ...

    def permission(self, user: Identity) -> Permission:
        """The user's permission on the repo (maintainers are recognised by this)."""
        ...

    # -- issues --------------------------------------------------------------------
    def open_issue(
        self, *, title: str, body: str, labels: Sequence[str], author: Identity
    ) -> Issue:
        """Open an issue as ``author`` (mentions in ``body`` are how GitHub notifies people)."""
        ...

    def issues(self, *, state: str | None = "open", labels: Sequence[str] = ()) -> list[Issue]:
        """Issues (never pull requests) in ``state`` (None: all) carrying every one of
        ``labels``, oldest first."""
        ...

    def close_issue(self, number: int, *, actor: Identity) -> None:
        """Close the issue (closing a closed one is no error; a pull request number is)."""
        ...
