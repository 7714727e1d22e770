"""`GitHubForge`: the `Forge` port on GitHub, through PyGithub (the only module importing it).

Two kinds of token are used. The governance token (``AITO_GITHUB_TOKEN``) reads, labels,
sets statuses, comments for the tally, merges and closes. Each agent's bot token posts
that agent's reviews, comments, commits and pull requests, so a vote comes from the
voter's own account: ``agent_tokens`` maps the bot's numeric user id to its token, and an
``author`` without a token of its own falls back to the governance token (GitHub then
records the governance account as the author).

Errors are translated here: 5xx, timeouts and rate limits (403/429 with ``retry-after``
or ``x-ratelimit-remaining: 0``) are retried with exponential backoff, then raised as
:class:`~aito.errors.TemporaryAdapterError`; 401/403/404/422 raise
:class:`~aito.errors.PermanentAdapterError` with what to check. PyGithub's own retry
and throttling are off (``retry=None``) so they do not double ours. Tokens are never
logged or put in messages.

GitHub's REST API tells no push time, so `Commit.pushed_at` is the commit's committer
date (what a push of a fresh commit carries; a rebased or back-dated commit can lie).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import github
from github import Auth, GithubException, InputGitTreeElement
from github.Commit import Commit as GhCommit
from github.CommitStatus import CommitStatus
from github.GitRef import GitRef
from github.IssueComment import IssueComment
from github.NamedUser import NamedUser
from github.Organization import Organization
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest as GhPull
from github.PullRequestReview import PullRequestReview
from github.Repository import Repository
from pydantic import SecretStr

from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.forge.base import (
    CheckState,
    Comment,
    Commit,
    Identity,
    MergeConflict,
    Permission,
    PullRequest,
    PullState,
    Review,
    ReviewState,
    StatusCheck,
)

T = TypeVar("T")
SERVICE = "github"
_GOVERNANCE = "the governance token"
_SHA = re.compile(r"[0-9a-f]{40}")
_EVENTS = {
    ReviewState.APPROVED: "APPROVE",
    ReviewState.CHANGES_REQUESTED: "REQUEST_CHANGES",
    ReviewState.COMMENTED: "COMMENT",
}


class GitHubForge:
    """A governance repo on GitHub (or GitHub Enterprise: pass its ``api_url``)."""

    def __init__(
        self,
        *,
        repo: str,
        api_url: str,
        token: SecretStr,
        agent_tokens: Mapping[int, SecretStr],
        retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 120.0,
        timeout: int = 15,
        throttle: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``max_wait``: a rate limit asking for a longer pause is raised at once
        (TemporaryAdapterError with its ``retry_after``) rather than slept through.
        ``throttle`` keeps PyGithub's spacing of writes GitHub asks integrators for."""
        self.repo_name = repo
        self._api_url = api_url
        self._retries, self._backoff, self._max_wait = retries, backoff, max_wait
        self._timeout, self._throttle, self._sleep = timeout, throttle, sleep
        self._gov = self._connect(token)
        self._agent_tokens = dict(agent_tokens)
        self._clients: dict[int, tuple[github.Github, Repository, str]] = {}
        self._default_branch: str | None = None

    def _connect(self, token: SecretStr) -> tuple[github.Github, Repository, str]:
        client = github.Github(
            auth=Auth.Token(token.get_secret_value()),
            base_url=self._api_url,
            timeout=self._timeout,
            per_page=100,
            retry=None,
            lazy=True,
            seconds_between_requests=0.25 if self._throttle else None,
            seconds_between_writes=1.0 if self._throttle else None,
        )
        return client, client.get_repo(self.repo_name), _GOVERNANCE

    def _as(self, author: Identity) -> tuple[Repository, str]:
        """The repo as seen with ``author``'s token (the governance token if it has none)."""
        token = self._agent_tokens.get(author.id)
        if token is None:
            return self._gov[1], self._gov[2]
        if author.id not in self._clients:
            client, repo, _ = self._connect(token)
            self._clients[author.id] = (client, repo, f"the token of {author.login}")
        _, repo, name = self._clients[author.id]
        return repo, name

    def disconnect(self) -> None:
        """Close the HTTP sessions (one per token used); also on leaving a ``with`` block."""
        for client, _, _ in (self._gov, *self._clients.values()):
            client.close()

    def __enter__(self) -> GitHubForge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    # -- errors ----------------------------------------------------------------------
    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        credential: str = _GOVERNANCE,
        conflict: Iterable[int] = (),
    ) -> T:
        """Run ``fn`` (PyGithub calls), retrying temporary failures; translate errors."""
        conflicts = set(conflict)
        attempt = 0
        while True:
            try:
                return fn()
            except GithubException as exc:
                if exc.status in conflicts:
                    raise MergeConflict(f"{what}: {_message(exc)}") from exc
                error = self._translate(exc, what, credential, attempt)
                self._give_up_or_wait(error, attempt, exc)
            except OSError as exc:  # requests' ConnectionError and Timeout derive from OSError
                where = f"{what} on {self.repo_name}: {type(exc).__name__}"
                wait = self._backoff * 2**attempt
                error = TemporaryAdapterError(SERVICE, where, retry_after=wait)
                self._give_up_or_wait(error, attempt, exc)
            attempt += 1

    def _give_up_or_wait(
        self, error: TemporaryAdapterError | PermanentAdapterError, attempt: int, exc: Exception
    ) -> None:
        if isinstance(error, PermanentAdapterError) or attempt >= self._retries:
            raise error from exc
        if error.retry_after > self._max_wait:
            raise error from exc
        self._sleep(error.retry_after)

    def _translate(
        self, exc: GithubException, what: str, token: str, attempt: int
    ) -> TemporaryAdapterError | PermanentAdapterError:
        status, message = exc.status, _message(exc)
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        where = f"{what} on {self.repo_name}"
        wait = self._backoff * 2**attempt
        limited = headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers
        if status in (403, 429) and (limited or "rate limit" in message.lower()):
            if "retry-after" in headers:
                wait = _number(headers["retry-after"], wait)
            elif headers.get("x-ratelimit-remaining") == "0":
                reset = _number(headers.get("x-ratelimit-reset", ""), 0.0)
                wait = max(reset - time.time(), wait)
            return TemporaryAdapterError(
                SERVICE, f"{where}: rate limited ({status}: {message})", retry_after=wait
            )
        if status >= 500 or status in (408, 429):
            return TemporaryAdapterError(
                SERVICE, f"{where}: GitHub answered {status} ({message})", retry_after=wait
            )
        hint = {
            401: f"{token} was rejected (401 {message}); check that it is set, valid and "
            "not expired",
            403: f"forbidden (403: {message}); check that {token} has the needed scopes "
            "(contents, pull requests and statuses: write) and access to the repository",
            404: f"not found (404); check that the repository, branch or pull request exists "
            f"and that {token} can see it (GitHub answers 404 to tokens without access)",
            422: f"GitHub rejected the request (422: {message})",
        }.get(status, f"GitHub answered {status} ({message})")
        return PermanentAdapterError(SERVICE, f"{where}: {hint}")

    # -- content ---------------------------------------------------------------------
    @property
    def default_branch(self) -> str:
        if self._default_branch is None:
            repo = self._gov[1]
            self._default_branch = self._call("read the repository", lambda: repo.default_branch)
        return self._default_branch

    def read_tree(self, ref: str, *, prefixes: Sequence[str]) -> dict[str, bytes]:
        repo = self._gov[1]
        tree = self._call(f"read tree {ref}", lambda: repo.get_git_tree(ref, recursive=True))
        if tree.truncated:
            raise PermanentAdapterError(
                SERVICE, f"read tree {ref} on {self.repo_name}: GitHub truncated the tree"
            )
        wanted = [e for e in tree.tree if e.type == "blob" and _under(e.path, prefixes)]
        blobs: dict[str, bytes] = {}
        for entry in wanted:
            if entry.sha not in blobs:
                blob = self._call(
                    f"read {entry.path}", functools.partial(repo.get_git_blob, entry.sha)
                )
                raw = blob.content.encode()
                blobs[entry.sha] = base64.b64decode(raw) if blob.encoding == "base64" else raw
        return {entry.path: blobs[entry.sha] for entry in wanted}

    def commit_files(
        self,
        *,
        branch: str,
        base: str,
        files: Mapping[str, bytes | None],
        message: str,
        author: Identity,
    ) -> str:
        """One commit on ``branch`` through the git data API (blobs, tree, commit, ref).

        Nothing is committed when the files are already so; the head's sha is returned."""
        repo, token = self._as(author)

        def call(what: str, fn: Callable[[], T]) -> T:
            return self._call(f"{what} (commit to {branch})", fn, credential=token)

        ref = self._ref(repo, branch, token)
        head = None if ref is None else ref.object.sha
        if head is None and not _SHA.fullmatch(base):
            base_ref = self._ref(repo, base, token)
            base = "" if base_ref is None else base_ref.object.sha
        parent_sha = head or base
        if not parent_sha:
            raise PermanentAdapterError(
                SERVICE, f"commit to {branch} on {self.repo_name}: its base does not exist"
            )
        parent = call("read the parent commit", lambda: repo.get_git_commit(parent_sha))
        elements = []
        for path, content in files.items():
            if content is None:
                elements.append(InputGitTreeElement(path, "100644", "blob", sha=None))
                continue
            encoded = base64.b64encode(content).decode()
            blob = call(
                f"upload {path}", functools.partial(repo.create_git_blob, encoded, "base64")
            )
            elements.append(InputGitTreeElement(path, "100644", "blob", sha=blob.sha))
        tree = call("write the tree", lambda: repo.create_git_tree(elements, parent.tree))
        sha = parent_sha
        if tree.sha != parent.tree.sha:
            commit = call(
                "write the commit", lambda: repo.create_git_commit(message, tree, [parent])
            )
            sha = commit.sha
        if ref is None:
            call("create the branch", lambda: repo.create_git_ref(f"refs/heads/{branch}", sha))
        elif sha != head:
            call("move the branch", lambda: ref.edit(sha))
        return sha

    def _ref(self, repo: Repository, branch: str, token: str) -> GitRef | None:
        """The branch's ref, read (a lazy one would PATCH the wrong URL); None if absent."""
        ref = repo.get_git_ref(f"heads/{branch}")
        try:
            self._call(f"read branch {branch}", lambda: ref.object.sha, credential=token)
            return ref
        except PermanentAdapterError as exc:
            if _status(exc) == 404:
                return None
            raise

    # -- pull requests ---------------------------------------------------------------
    def open_pull(
        self, *, head: str, base: str, title: str, body: str, author: Identity
    ) -> PullRequest:
        """Open a pull request as ``author``; an open one for ``head`` already there is
        returned instead (so a re-run never opens a second one)."""
        repo, token = self._as(author)
        try:
            pull = self._call(
                f"open a pull request from {head}",
                lambda: repo.create_pull(base=base, head=head, title=title, body=body),
                credential=token,
            )
        except PermanentAdapterError as exc:
            if _status(exc) != 422 or "already exists" not in str(exc.__cause__):
                raise
            owner = self.repo_name.split("/")[0]
            found = self._call(
                f"find the pull request from {head}",
                lambda: list(repo.get_pulls(state="open", head=f"{owner}:{head}", base=base)),
            )
            if not found:
                raise
            pull = found[0]
        return self._call(f"read pull request from {head}", lambda: _pull(pull))

    def pull(self, number: int) -> PullRequest:
        """The pull request; for a closed, unmerged one ``closed_by`` costs one more call."""
        repo = self._gov[1]
        pr = repo.get_pull(number)
        dto = self._call(f"read pull request #{number}", lambda: _pull(pr))
        if dto.state is PullState.CLOSED:
            issue = repo.get_issue(number)
            closer = self._call(f"read issue #{number}", lambda: issue.closed_by)
            dto = dataclasses.replace(dto, closed_by=_identity(closer))
        return dto

    def pulls(self, *, state: PullState | None = PullState.OPEN) -> list[PullRequest]:
        """Pull requests in ``state`` (None: all), oldest first. One call per 100 open
        ones; each closed or merged one is read like :meth:`pull` (for who closed it)."""
        repo = self._gov[1]
        wanted = {PullState.OPEN: "open", None: "all"}.get(state, "closed")
        listing = repo.get_pulls(state=wanted, sort="created", direction="asc")
        found = self._call(
            "list pull requests",
            lambda: [(p.number, _pull(p) if p.state == "open" else None) for p in listing],
        )
        out = [dto or self.pull(number) for number, dto in found]
        return [p for p in out if state is None or p.state is state]

    def commits(self, number: int) -> list[Commit]:
        pr = self._gov[1].get_pull(number)
        return self._call(
            f"list commits of pull request #{number}",
            lambda: [
                Commit(
                    sha=c.sha,
                    tree_sha=c.commit.tree.sha,
                    author=_identity(c.author),
                    pushed_at=c.commit.committer.date,
                )
                for c in pr.get_commits()
            ],
        )

    def changed_files(self, number: int) -> list[str]:
        pr = self._gov[1].get_pull(number)
        return self._call(
            f"list files of pull request #{number}", lambda: [f.filename for f in pr.get_files()]
        )

    # -- conversation ----------------------------------------------------------------
    def reviews(self, number: int) -> list[Review]:
        """Submitted reviews, oldest first (pending drafts and deleted users are left out)."""
        pr = self._gov[1].get_pull(number)
        return self._call(
            f"list reviews of pull request #{number}",
            lambda: [r for r in map(_review, pr.get_reviews()) if r is not None],
        )

    def post_review(
        self, number: int, *, author: Identity, state: ReviewState, body: str, commit_id: str
    ) -> Review:
        if state not in _EVENTS:
            raise ValueError(f"cannot post a review in state {state}")
        repo, token = self._as(author)
        pr = repo.get_pull(number)
        commit = GhCommit(repo.requester, attributes={"sha": commit_id}, completed=True)
        posted = self._call(
            f"review pull request #{number} as {author.login}",
            lambda: pr.create_review(commit=commit, body=body, event=_EVENTS[state]),
            credential=token,
        )
        review = _review(posted)
        if review is None:
            raise PermanentAdapterError(SERVICE, f"review of #{number} was not submitted")
        return review

    def comments(self, number: int) -> list[Comment]:
        pr = self._gov[1].get_pull(number)
        return self._call(
            f"list comments of pull request #{number}",
            lambda: [_comment(c) for c in pr.get_issue_comments()],
        )

    def post_comment(self, number: int, *, author: Identity, body: str) -> Comment:
        repo, token = self._as(author)
        issue = repo.get_issue(number)
        return self._call(
            f"comment on pull request #{number} as {author.login}",
            lambda: _comment(issue.create_comment(body)),
            credential=token,
        )

    def edit_comment(self, number: int, *, comment_id: int, body: str) -> Comment:
        """Edit with the governance token (which must own the comment or administer the repo)."""
        repo = self._gov[1]
        url = f"{repo.url}/issues/comments/{comment_id}"
        comment = IssueComment(repo.requester, url=url)

        def edit() -> Comment:
            comment.edit(body)
            return _comment(comment)

        return self._call(f"edit comment {comment_id} on #{number}", edit)

    # -- state -----------------------------------------------------------------------
    def set_labels(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        """Add and remove labels (GitHub creates missing labels); removing an absent one is fine."""
        issue = self._gov[1].get_issue(number)
        if add:
            self._call(f"label pull request #{number}", lambda: issue.add_to_labels(*add))
        for name in remove:
            try:
                self._call(
                    f"unlabel pull request #{number}",
                    functools.partial(issue.remove_from_labels, name),
                )
            except PermanentAdapterError as exc:
                if _status(exc) != 404:
                    raise

    def set_status(self, *, sha: str, context: str, state: CheckState, description: str) -> None:
        repo = self._gov[1]
        payload = {"state": state.value, "context": context, "description": description[:140]}
        self._call(
            f"set status {context} on {sha[:12]}",
            lambda: repo.requester.requestJsonAndCheck(
                "POST", f"{repo.url}/statuses/{sha}", input=payload
            ),
        )

    def statuses(self, sha: str) -> list[StatusCheck]:
        """The latest status per context (GitHub lists them newest first)."""
        repo = self._gov[1]
        url = f"{repo.url}/commits/{sha}/statuses"
        listing = PaginatedList(CommitStatus, repo.requester, url, None)
        latest: dict[str, StatusCheck] = {}
        for status in self._call(f"list statuses of {sha[:12]}", lambda: list(listing)):
            latest.setdefault(
                status.context,
                StatusCheck(
                    context=status.context,
                    state=CheckState(status.state),
                    description=status.description or "",
                    sha=sha,
                ),
            )
        return sorted(latest.values(), key=lambda s: s.context)

    def request_reviewers(self, number: int, *, logins: Sequence[str]) -> None:
        if logins:
            pr = self._gov[1].get_pull(number)
            self._call(
                f"request reviewers on #{number}",
                lambda: pr.create_review_request(reviewers=list(logins)),
            )

    def requested_reviewers(self, number: int) -> list[str]:
        pr = self._gov[1].get_pull(number)
        return self._call(
            f"read pull request #{number}", lambda: [u.login for u in pr.requested_reviewers]
        )

    def merge(self, number: int, *, sha: str, actor: Identity, message: str) -> str:
        """Merge with the governance token (``actor`` is for the record; GitHub names the
        token's account). GitHub refuses when the head is no longer ``sha``."""
        pr = self._gov[1].get_pull(number)
        result = self._call(
            f"merge pull request #{number}",
            lambda: pr.merge(commit_message=message, sha=sha, merge_method="merge"),
            conflict=(405, 409),
        )
        if not result.merged:
            raise MergeConflict(f"merge pull request #{number}: {result.message}")
        return result.sha

    def close(self, number: int, *, actor: Identity) -> None:
        pr = self._gov[1].get_pull(number)
        self._call(f"close pull request #{number}", lambda: pr.edit(state="closed"))

    def permission(self, user: Identity) -> Permission:
        """The user's role on the repo (``role_name``, else the legacy ``permission``);
        NONE for an unknown user."""
        repo = self._gov[1]
        url = f"{repo.url}/collaborators/{urllib.parse.quote(user.login, safe='')}/permission"
        try:
            _, data = self._call(
                f"read the permission of {user.login}",
                lambda: repo.requester.requestJsonAndCheck("GET", url),
            )
        except PermanentAdapterError as exc:
            if _status(exc) == 404:
                return Permission.NONE
            raise
        for key in ("role_name", "permission"):
            try:
                return Permission(str(data.get(key, "")))
            except ValueError:
                continue
        return Permission.NONE


_GHOST = Identity(login="ghost", id=10137891)  # GitHub's stand-in for deleted accounts


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    text = str(data.get("message") or exc.message or "no message")
    details = [
        e.get("message") or e.get("code") for e in data.get("errors") or [] if isinstance(e, dict)
    ]
    return "; ".join([text, *(str(d) for d in details if d)])


def _status(exc: Exception) -> int | None:
    cause = exc.__cause__
    return cause.status if isinstance(cause, GithubException) else None


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def _under(path: str, prefixes: Sequence[str]) -> bool:
    for prefix in prefixes:
        stem = prefix.strip("/")
        if not stem or path == stem or path.startswith(f"{stem}/"):
            return True
    return False


def _identity(user: NamedUser | Organization | None) -> Identity | None:
    return None if user is None else Identity(login=user.login, id=user.id)


def _pull(pr: GhPull) -> PullRequest:
    merged = pr.merged_at is not None
    merged_by = _identity(pr.merged_by) if merged else None
    return PullRequest(
        number=pr.number,
        title=pr.title,
        body=pr.body or "",
        state=PullState.MERGED if merged else PullState(pr.state),
        author=_identity(pr.user) or _GHOST,
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
        base_ref=pr.base.ref,
        labels=frozenset(label.name for label in pr.labels),
        created_at=pr.created_at,
        merged_by=merged_by,
        closed_by=merged_by,
        merge_sha=pr.merge_commit_sha if merged else None,
        url=pr.html_url,
    )


def _review(review: PullRequestReview) -> Review | None:
    if review.state not in ReviewState.__members__ or review.user is None:
        return None  # PENDING (a draft) has no submitted_at; a deleted user votes for nobody
    return Review(
        id=review.id,
        user=Identity(login=review.user.login, id=review.user.id),
        state=ReviewState(review.state),
        commit_id=review.commit_id or "",
        submitted_at=review.submitted_at,
        body=review.body or "",
    )


def _comment(comment: IssueComment) -> Comment:
    return Comment(
        id=comment.id,
        user=_identity(comment.user) or _GHOST,
        body=comment.body,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
    )
