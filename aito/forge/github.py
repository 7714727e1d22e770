"""`GitHubForge`: the `Forge` port on GitHub, through PyGithub (the only module importing it).

Two kinds of token are used. The governance token (``AITO_GITHUB_TOKEN``) reads, labels,
sets statuses, edits the tally's comments, merges and closes. Each agent's bot token
commits, opens pull requests and issues, reviews and comments as that agent
(`commit_files`, `open_pull`, `post_review`, `post_comment`, `open_issue` act as their
``author``), so a vote comes
from the voter's own account: ``agent_tokens`` maps a bot's numeric user id to its
token. An ``author`` with no token of its own falls back to the governance token, and
GitHub then records the governance account as the author.

Errors are translated here: 5xx, timeouts and rate limits (403/429 with ``retry-after``
or ``x-ratelimit-remaining: 0``) are retried with exponential backoff and then raised as
`TemporaryAdapterError`; 401/403/404/422 raise `PermanentAdapterError` saying what to
check. PyGithub's own retry is off (``retry=None``) so it does not double ours. Tokens
are never logged nor put in messages.

**Time is the server's.** GitHub's REST API tells no time for an ordinary push, and a
commit's author and committer dates are whatever the pusher wrote, so they are never
used. `Commit.pushed_at` is known only from server evidence: the pull request's
``created_at`` for its commit when it has exactly one and was never force-pushed (that
commit has been its head since it opened), and a ``head_ref_force_pushed`` issue event
that names its new head (``commit_id``) for that head. Otherwise it is None, and the
tally uses the time it first saw that head (kept in its own tally comment), which is
never earlier than the push: a deadline can only start late, never early. Dismissals
(who, when, what the review was) come from the ``review_dismissed`` issue events.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import re
import time
import urllib.parse
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import github
from github import Auth, GithubException, InputGitTreeElement
from github.Commit import Commit as GhCommit
from github.CommitStatus import CommitStatus
from github.GithubObject import NotSet
from github.GitRef import GitRef
from github.Issue import Issue as GhIssue
from github.IssueComment import IssueComment
from github.NamedUser import NamedUser
from github.Organization import Organization
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest as GhPull
from github.PullRequestReview import PullRequestReview
from github.Repository import Repository
from pydantic import SecretStr

from aito import errors, retrying
from aito.forge import base as port
from aito.forge import caching, gitobjects

T = TypeVar("T")
SERVICE = "github"
GOVERNANCE = "the governance token"
GHOST = port.Identity(login="ghost", id=10137891)  # GitHub's stand-in for deleted accounts
_SHA = re.compile(r"[0-9a-f]{40}")
_DISMISSABLE = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED")
# (event, actor, server time, commit id, dismissed review) of one issue event.
_Event = tuple[str, "port.Identity | None", "dt.datetime", "str | None", "dict[str, Any]"]
_EVENTS = {
    port.ReviewState.APPROVED: "APPROVE",
    port.ReviewState.CHANGES_REQUESTED: "REQUEST_CHANGES",
    port.ReviewState.COMMENTED: "COMMENT",
}


class _Account(NamedTuple):
    client: github.Github
    repo: Repository
    credential: str  # how messages name the token, e.g. "the token of ceo-bot"


class GitHubForge:
    """A governance repo on GitHub (or GitHub Enterprise: pass its ``api_url``).

    ``max_wait``: a rate limit asking for a longer pause is raised at once (with its
    ``retry_after``) instead of slept through. ``throttle`` keeps PyGithub's spacing of
    requests and writes, which GitHub asks integrators for; tests turn it off.
    ``local_objects``: a local clone (the tally's checkout of the base branch) whose
    object store is asked for a blob before GitHub is; only content whose git hash is
    the blob's sha is taken, so nothing checked out or doctored there is ever read as
    the repository's content.
    """

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
        local_objects: Path | None = None,
    ) -> None:
        self.repo_name = repo
        self._api_url, self._timeout, self._throttle = api_url, timeout, throttle
        self._backoff = backoff
        # The wait is what the translated error asks for: GitHub's retry-after or reset
        # time, else exponential backoff (see _translate); a longer one than max_wait is
        # raised at once for the caller to schedule.
        self._retry = retrying.Policy(
            budget_seconds=None, attempts=retries + 1, honour="exact", max_wait=max_wait
        )
        self._sleep = sleep
        self._gov = self._connect(token, GOVERNANCE)
        self._agent_tokens = dict(agent_tokens)
        self._agents: dict[int, _Account] = {}
        self._default_branch: str | None = None
        self._blobs = caching.blob_cache()  # blob sha → content
        self._local = None if local_objects is None else gitobjects.GitObjects(local_objects)
        self._trees: caching.Lru[list[tuple[str, str]]] = caching.listing_cache()
        # commit sha → (path, blob sha) of every file

    def _connect(self, token: SecretStr, credential: str) -> _Account:
        client = github.Github(
            auth=Auth.Token(token.get_secret_value()),
            base_url=self._api_url,
            timeout=self._timeout,
            per_page=100,
            retry=None,
            lazy=True,  # objects are fetched when read, so a write costs one request
            seconds_between_requests=0.25 if self._throttle else None,
            seconds_between_writes=1.0 if self._throttle else None,
        )
        return _Account(client, client.get_repo(self.repo_name), credential)

    def _as(self, author: port.Identity) -> _Account:
        """``author``'s own account, or the governance one when it has no token."""
        token = self._agent_tokens.get(author.id)
        if token is None:
            return self._gov
        if author.id not in self._agents:
            self._agents[author.id] = self._connect(token, f"the token of {author.login}")
        return self._agents[author.id]

    def disconnect(self) -> None:
        """Close the HTTP sessions (one per token used); also on leaving a ``with`` block."""
        for account in (self._gov, *self._agents.values()):
            account.client.close()
        if self._local is not None:
            self._local.close()

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
        credential: str = GOVERNANCE,
        conflict: Collection[int] = (),
    ) -> T:
        """Run ``fn`` (PyGithub calls), retrying temporary failures; translate errors."""
        attempt = 0

        def once() -> T:
            nonlocal attempt
            try:
                return fn()
            except (GithubException, OSError) as exc:  # requests' errors are OSErrors
                if isinstance(exc, GithubException) and exc.status in conflict:
                    raise port.MergeConflict(f"{what}: {_message(exc)}") from exc
                raise self._translate(
                    exc, f"{what} on {self.repo_name}", credential, attempt
                ) from exc
            finally:
                attempt += 1

        return retrying.call(once, policy=self._retry, sleep=self._sleep, what=what)

    def _maybe(self, what: str, fn: Callable[[], T], *, credential: str = GOVERNANCE) -> T | None:
        """Like :meth:`_call`, but None where GitHub answers 404."""
        try:
            return self._call(what, fn, credential=credential)
        except errors.PermanentAdapterError as exc:
            if _status(exc) == 404:
                return None
            raise

    def _translate(
        self, exc: GithubException | OSError, where: str, credential: str, attempt: int
    ) -> errors.TemporaryAdapterError | errors.PermanentAdapterError:
        wait = self._backoff * 2**attempt
        if isinstance(exc, OSError):  # timeouts, refused or reset connections
            return errors.TemporaryAdapterError(
                SERVICE, f"{where}: {type(exc).__name__}", retry_after=wait
            )
        status, message = exc.status, _message(exc)
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        spent = headers.get("x-ratelimit-remaining") == "0"
        if status in (403, 429) and (
            "retry-after" in headers or spent or "rate limit" in message.lower()
        ):
            if "retry-after" in headers:
                wait = _seconds(headers["retry-after"], wait)
            elif spent:
                wait = max(_seconds(headers.get("x-ratelimit-reset", ""), 0) - time.time(), wait)
            else:
                wait = max(wait, 60.0)  # GitHub: wait a minute after a secondary rate limit
            limited = f"{where}: rate limited ({status}: {message})"
            return errors.TemporaryAdapterError(SERVICE, limited, retry_after=wait)
        if status >= 500:
            failed = f"{where}: GitHub answered {status} ({message})"
            return errors.TemporaryAdapterError(SERVICE, failed, retry_after=wait)
        hint = {
            401: f"{credential} was rejected (401 {message}); check that it is set, valid "
            "and not expired",
            403: f"forbidden (403: {message}); check that {credential} has the scopes it needs "
            "(contents, pull requests, issues and statuses: write) and access to the repo",
            404: "not found (404); check that the repository, branch or pull request exists "
            f"and that {credential} can see it (GitHub answers 404 to tokens without access)",
        }.get(status, f"GitHub refused the request ({status}: {message})")
        return errors.PermanentAdapterError(SERVICE, f"{where}: {hint}")

    # -- content ---------------------------------------------------------------------
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
            (path, sha) for path, sha in self._tree_entries(ref) if caching.under(path, prefixes)
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

    def _tree_entries(self, ref: str) -> list[tuple[str, str]]:
        """(path, blob sha) of every file at ``ref``; kept when ``ref`` is a commit sha."""
        kept = self._trees.get(ref) if caching.is_object_id(ref) else None
        if kept is not None:
            return kept
        repo = self._gov.repo
        tree = self._call(f"read tree {ref}", lambda: repo.get_git_tree(ref, recursive=True))
        if tree.truncated:
            where = f"read tree {ref} on {self.repo_name}"
            raise errors.PermanentAdapterError(SERVICE, f"{where}: GitHub truncated the tree")
        entries = [(e.path, e.sha) for e in tree.tree if e.type == "blob"]
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

        def call(what: str, fn: Callable[[], T]) -> T:
            return self._call(f"{what} (commit to {branch})", fn, credential=account.credential)

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
            call("create the branch", lambda: repo.create_git_ref(f"refs/heads/{branch}", sha))
        elif sha != ref[1]:
            call("move the branch", lambda: ref[0].edit(sha))
        return sha

    def _ref(self, account: _Account, branch: str) -> tuple[GitRef, str] | None:
        """The branch's ref, read (a lazy one would PATCH the wrong URL), and its sha."""
        ref = account.repo.get_git_ref(f"heads/{branch}")
        what = f"read branch {branch}"
        sha = self._maybe(what, lambda: ref.object.sha, credential=account.credential)
        return None if sha is None else (ref, sha)

    # -- pull requests ---------------------------------------------------------------
    def open_pull(
        self, *, head: str, base: str, title: str, body: str, author: port.Identity
    ) -> port.PullRequest:
        """Open a pull request as ``author``; if one from ``head`` is already open, that one
        is returned (so a re-run never opens a second)."""
        account = self._as(author)
        what = f"open a pull request from {head}"
        create = functools.partial(account.repo.create_pull, base, head, title=title, body=body)
        try:
            pull = self._call(what, create, credential=account.credential)
        except errors.PermanentAdapterError as exc:
            if _status(exc) != 422 or "already exists" not in str(exc.__cause__):
                raise
            head_label = f"{self.repo_name.split('/')[0]}:{head}"
            listing = account.repo.get_pulls(state="open", head=head_label, base=base)
            found = self._call(f"find the pull request from {head}", lambda: list(listing))
            if not found:
                raise
            pull = found[0]
        return self._call(f"read the pull request from {head}", lambda: _pull(pull))

    def pull(self, number: int) -> port.PullRequest:
        """The pull request; for a closed, unmerged one ``closed_by`` costs one more call."""
        pr, issue = self._gov.repo.get_pull(number), self._gov.repo.get_issue(number)
        dto = self._call(f"read pull request #{number}", lambda: _pull(pr))
        if dto.state is port.PullState.CLOSED:
            closer = self._call(f"read issue #{number}", lambda: issue.closed_by)
            dto = dataclasses.replace(dto, closed_by=_identity(closer))
        return dto

    def pulls(
        self, *, state: port.PullState | None = port.PullState.OPEN
    ) -> list[port.PullRequest]:
        """Pull requests in ``state`` (None: all), oldest first: one call per 100 open ones,
        and each closed or merged one is read like :meth:`pull` (to know who closed it)."""
        wanted = {port.PullState.OPEN: "open", None: "all"}.get(state, "closed")
        listing = self._gov.repo.get_pulls(state=wanted, sort="created", direction="asc")
        found = self._call(
            "list pull requests",
            lambda: [(p.number, _pull(p) if p.state == "open" else None) for p in listing],
        )
        every = [dto or self.pull(number) for number, dto in found]
        return [p for p in every if state is None or p.state is state]

    def commits(self, number: int) -> list[port.Commit]:
        """The pull request's commits, oldest first, with push times from server evidence
        only (see the module docstring): one call, plus two when there is one commit."""
        pr = self._gov.repo.get_pull(number)
        what = f"list commits of pull request #{number}"
        found = self._call(
            what,
            lambda: [(c.sha, c.commit.tree.sha, _identity(c.author)) for c in pr.get_commits()],
        )
        events = self._events(number) if len(found) == 1 else []
        forced = [e for e in events if e[0] == "head_ref_force_pushed"]
        pushed: dict[str, dt.datetime] = {}
        if len(found) == 1 and not forced:
            pushed[found[0][0]] = self._call(f"read pull request #{number}", lambda: pr.created_at)
        for _, _, at, commit_id, _ in forced:
            if commit_id:
                pushed[commit_id] = at
        return [port.Commit(sha, tree, author, pushed.get(sha)) for sha, tree, author in found]

    def _events(self, number: int) -> list[_Event]:
        """The pull request's issue events that governance reads: force pushes and
        dismissals, with the server's time and the acting account."""
        issue = self._gov.repo.get_issue(number)
        wanted = ("head_ref_force_pushed", "review_dismissed")

        def read() -> list[_Event]:
            # Only attributes the listing carries: another one would cost a request each.
            return [
                (
                    e.event,
                    _identity(e.actor),
                    e.created_at,
                    e.commit_id,
                    (e.dismissed_review or {}) if e.event == "review_dismissed" else {},
                )
                for e in issue.get_events()
                if e.event in wanted
            ]

        return self._call(f"list events of pull request #{number}", read)

    def changed_files(self, number: int) -> list[str]:
        pr = self._gov.repo.get_pull(number)
        what = f"list files of pull request #{number}"
        return self._call(what, lambda: [f.filename for f in pr.get_files()])

    def file_changes(self, number: int) -> list[port.FileChange]:
        """The files (with GitHub's status and a rename's old name), and whether each is a
        symbolic link or submodule at the head (from the head's tree: one more call)."""
        pr = self._gov.repo.get_pull(number)
        head, total = self._call(
            f"read pull request #{number}", lambda: (pr.head.sha, pr.changed_files)
        )
        what = f"list files of pull request #{number}"
        files = self._call(
            what, lambda: [(f.filename, f.status, f.previous_filename) for f in pr.get_files()]
        )
        where = f"{what} on {self.repo_name}"
        if len(files) != total:
            # GitHub lists at most 3,000 files: a file it leaves out could not be judged.
            raise errors.PermanentAdapterError(
                SERVICE,
                f"{where}: GitHub listed {len(files)} of its {total} changed files (it lists "
                "at most 3,000, or the head moved); split the pull request, or tally again",
            )
        if not files:
            return []
        repo = self._gov.repo
        tree = self._call(f"read tree {head}", lambda: repo.get_git_tree(head, recursive=True))
        if tree.truncated:
            raise errors.PermanentAdapterError(
                SERVICE, f"{where}: GitHub truncated the tree of {head[:12]}"
            )
        special = {e.path for e in tree.tree if e.mode in ("120000", "160000")}
        statuses = {
            "added": port.FileStatus.ADDED,
            "removed": port.FileStatus.REMOVED,
            "renamed": port.FileStatus.RENAMED,
        }
        return [
            port.FileChange(
                path,
                statuses.get(status, port.FileStatus.MODIFIED),
                previous if status == "renamed" else None,
                path in special and status != "removed",
            )
            for path, status, previous in files
        ]

    # -- conversation ----------------------------------------------------------------
    def reviews(self, number: int) -> list[port.Review]:
        """Submitted reviews, oldest first (drafts and deleted users are left out); a
        dismissed one says who dismissed it, when and what it was (one more call)."""
        pr = self._gov.repo.get_pull(number)
        what = f"list reviews of pull request #{number}"
        found = self._call(what, lambda: [r for r in map(_review, pr.get_reviews()) if r])
        if not any(r.state is port.ReviewState.DISMISSED for r in found):
            return found
        dismissals = {}
        for kind, actor, at, _, dismissed in self._events(number):
            review_id = dismissed.get("review_id")
            if kind == "review_dismissed" and isinstance(review_id, int):
                state = str(dismissed.get("state", "")).upper()
                before = port.ReviewState(state) if state in _DISMISSABLE else None
                dismissals[review_id] = (actor, at, before)
        out = []
        for review in found:
            if review.state is port.ReviewState.DISMISSED and review.id in dismissals:
                actor, at, before = dismissals[review.id]
                review = dataclasses.replace(
                    review, dismissed_by=actor, dismissed_at=at, dismissed_state=before
                )
            out.append(review)
        return out

    def dismiss_review(
        self, number: int, *, review_id: int, actor: port.Identity, message: str
    ) -> None:
        """Dismiss as ``actor`` (its own token; GitHub requires write access)."""
        account = self._as(actor)
        repo = account.repo
        url = f"{repo.url}/pulls/{number}/reviews/{review_id}/dismissals"
        self._call(
            f"dismiss review {review_id} on pull request #{number} as {actor.login}",
            lambda: repo.requester.requestJsonAndCheck(
                "PUT", url, input={"message": message, "event": "DISMISS"}
            ),
            credential=account.credential,
        )

    def post_review(
        self,
        number: int,
        *,
        author: port.Identity,
        state: port.ReviewState,
        body: str,
        commit_id: str,
    ) -> port.Review:
        if state not in _EVENTS:
            raise ValueError(f"a review cannot be posted as {state}")
        account = self._as(author)
        pr = account.repo.get_pull(number)
        commit = GhCommit(account.repo.requester, attributes={"sha": commit_id}, completed=True)
        posted = self._call(
            f"review pull request #{number} as {author.login}",
            lambda: pr.create_review(commit=commit, body=body, event=_EVENTS[state]),
            credential=account.credential,
        )
        review = _review(posted)
        if review is None:
            where = f"review pull request #{number} on {self.repo_name}"
            raise errors.PermanentAdapterError(SERVICE, f"{where}: GitHub kept it as a draft")
        return review

    def comments(self, number: int) -> list[port.Comment]:
        pr = self._gov.repo.get_pull(number)
        what = f"list comments of pull request #{number}"
        return self._call(what, lambda: [_comment(c) for c in pr.get_issue_comments()])

    def post_comment(self, number: int, *, author: port.Identity, body: str) -> port.Comment:
        account = self._as(author)
        issue = account.repo.get_issue(number)
        return self._call(
            f"comment on pull request #{number} as {author.login}",
            lambda: _comment(issue.create_comment(body)),
            credential=account.credential,
        )

    def edit_comment(self, number: int, *, comment_id: int, body: str) -> port.Comment:
        """Edit with the governance token (it must own the comment or administer the repo)."""
        repo = self._gov.repo
        comment = IssueComment(repo.requester, url=f"{repo.url}/issues/comments/{comment_id}")

        def edit() -> port.Comment:
            comment.edit(body)
            return _comment(comment)

        return self._call(f"edit comment {comment_id} on pull request #{number}", edit)

    # -- state -----------------------------------------------------------------------
    def set_labels(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        """Add (GitHub creates missing labels) and remove (an absent one is no error)."""
        issue = self._gov.repo.get_issue(number)
        if add:
            self._call(f"label pull request #{number}", lambda: issue.add_to_labels(*add))
        for name in remove:
            unlabel = functools.partial(issue.remove_from_labels, name)
            self._maybe(f"remove label {name} from pull request #{number}", unlabel)

    def set_status(
        self, *, sha: str, context: str, state: port.CheckState, description: str
    ) -> None:
        repo = self._gov.repo
        payload = {"state": state.value, "context": context, "description": description[:140]}
        self._call(
            f"set status {context} on {sha[:12]}",
            lambda: repo.requester.requestJsonAndCheck(
                "POST", f"{repo.url}/statuses/{sha}", input=payload
            ),
        )

    def statuses(self, sha: str) -> list[port.StatusCheck]:
        """The latest status of each context, by context (GitHub lists newest first)."""
        repo = self._gov.repo
        url = f"{repo.url}/commits/{sha}/statuses"
        listing = PaginatedList(CommitStatus, repo.requester, url, None)
        latest: dict[str, port.StatusCheck] = {}
        for status in self._call(f"list statuses of {sha[:12]}", lambda: list(listing)):
            state = port.CheckState(status.state)
            check = port.StatusCheck(status.context, state, status.description or "", sha)
            latest.setdefault(status.context, check)
        return sorted(latest.values(), key=lambda check: check.context)

    def request_reviewers(self, number: int, *, logins: Sequence[str]) -> dict[str, str]:
        """One call; if GitHub refuses it (422: someone is not a collaborator, or is the
        author), each login is asked alone and those refused are returned with why."""
        if not logins:
            return {}
        pr = self._gov.repo.get_pull(number)
        what = f"request reviewers on pull request #{number}"
        try:
            self._call(what, functools.partial(pr.create_review_request, reviewers=list(logins)))
            return {}
        except errors.PermanentAdapterError as exc:
            if _status(exc) != 422:
                raise
        refused: dict[str, str] = {}
        for login in logins:
            request = functools.partial(pr.create_review_request, reviewers=[login])
            try:
                self._call(f"request {login} on pull request #{number}", request)
            except errors.PermanentAdapterError as exc:
                cause = exc.__cause__
                if _status(exc) != 422 or not isinstance(cause, GithubException):
                    raise
                refused[login] = _message(cause)
        return refused

    def requested_reviewers(self, number: int) -> list[str]:
        pr = self._gov.repo.get_pull(number)
        what = f"read pull request #{number}"
        return self._call(what, lambda: [user.login for user in pr.requested_reviewers])

    def merge(self, number: int, *, sha: str, actor: port.Identity, message: str) -> str:
        """Merge with the governance token (GitHub records its account; ``actor`` is for our
        records). GitHub refuses (409) when the head is no longer ``sha``: MergeConflict."""
        pr = self._gov.repo.get_pull(number)
        result = self._call(
            f"merge pull request #{number}",
            lambda: pr.merge(commit_message=message, sha=sha, merge_method="merge"),
            conflict=(405, 409),
        )
        if not result.merged:
            raise port.MergeConflict(f"merge pull request #{number}: {result.message}")
        return result.sha

    def close(self, number: int, *, actor: port.Identity) -> None:
        pr = self._gov.repo.get_pull(number)
        self._call(f"close pull request #{number}", lambda: pr.edit(state="closed"))

    # -- issues ----------------------------------------------------------------------
    def open_issue(
        self, *, title: str, body: str, labels: Sequence[str], author: port.Identity
    ) -> port.Issue:
        """Open an issue as ``author`` (GitHub creates missing labels; it silently drops
        them when the token has no push access)."""
        account = self._as(author)
        create = functools.partial(
            account.repo.create_issue, title=title, body=body, labels=list(labels)
        )
        return self._call(
            f"open issue {title!r} as {author.login}",
            lambda: _issue(create()),
            credential=account.credential,
        )

    def issues(self, *, state: str | None = "open", labels: Sequence[str] = ()) -> list[port.Issue]:
        """One call per 100 issues; GitHub lists pull requests among issues, left out here
        (a label filter applies to those too, so it keeps the pages short)."""
        if state is not None and state not in port.ISSUE_STATES:
            raise ValueError(f"an issue is open or closed, not {state!r}")
        listing = self._gov.repo.get_issues(
            state=state or "all",
            labels=list(labels) if labels else NotSet,
            sort="created",
            direction="asc",
        )
        return self._call(
            "list issues",
            lambda: [_issue(issue) for issue in listing if issue.pull_request is None],
        )

    def close_issue(self, number: int, *, actor: port.Identity) -> None:
        """Close with the governance token (``actor`` is for our records, as in
        :meth:`close`): one read (a pull request number is refused, a closed issue left
        alone), then one write."""
        issue = self._gov.repo.get_issue(number)
        found = self._call(f"read issue #{number}", lambda: (issue.pull_request, issue.state))
        if found[0] is not None:
            where = f"close issue #{number} on {self.repo_name}"
            raise errors.PermanentAdapterError(SERVICE, f"{where}: #{number} is a pull request")
        if found[1] != "open":
            return
        self._call(f"close issue #{number}", lambda: issue.edit(state="closed"))

    def permission(self, user: port.Identity) -> port.Permission:
        """The user's role (``role_name``, else the legacy ``permission``); NONE if unknown."""
        repo = self._gov.repo
        login = urllib.parse.quote(user.login, safe="")
        url = f"{repo.url}/collaborators/{login}/permission"
        read = functools.partial(repo.requester.requestJsonAndCheck, "GET", url)
        found = self._maybe(f"read the permission of {user.login}", read)
        data = found[1] if found else {}
        for key in ("role_name", "permission"):
            if data.get(key) in port.Permission.__members__.values():
                return port.Permission(data[key])
        return port.Permission.NONE


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    texts = [data.get("message") or exc.message or "no message"]
    for error in data.get("errors") or []:
        texts.append(
            error.get("message") or error.get("code") if isinstance(error, dict) else error
        )
    return "; ".join(str(text) for text in texts if text)


def _status(exc: Exception) -> int | None:
    cause = exc.__cause__
    return cause.status if isinstance(cause, GithubException) else None


def _seconds(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def _identity(user: NamedUser | Organization | None) -> port.Identity | None:
    return None if user is None else port.Identity(login=user.login, id=user.id)


def _pull(pr: GhPull) -> port.PullRequest:
    merged = pr.merged_at is not None
    merged_by = _identity(pr.merged_by) if merged else None  # merging closes it too
    return port.PullRequest(
        number=pr.number,
        title=pr.title,
        body=pr.body or "",
        state=port.PullState.MERGED if merged else port.PullState(pr.state),
        author=_identity(pr.user) or GHOST,
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


def _issue(issue: GhIssue) -> port.Issue:
    return port.Issue(
        number=issue.number,
        title=issue.title,
        body=issue.body or "",
        state=issue.state,
        author=_identity(issue.user) or GHOST,
        labels=frozenset(label.name for label in issue.labels),
        created_at=issue.created_at,
        url=issue.html_url,
    )


def _review(review: PullRequestReview) -> port.Review | None:
    if review.state not in port.ReviewState.__members__ or review.user is None:
        return None  # a PENDING draft (no submitted_at yet), or a deleted account
    return port.Review(
        id=review.id,
        user=port.Identity(login=review.user.login, id=review.user.id),
        state=port.ReviewState(review.state),
        commit_id=review.commit_id or "",
        submitted_at=review.submitted_at,
        body=review.body or "",
    )


def _comment(comment: IssueComment) -> port.Comment:
    user = _identity(comment.user) or GHOST
    return port.Comment(comment.id, user, comment.body, comment.created_at, comment.updated_at)
