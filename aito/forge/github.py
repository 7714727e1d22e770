"""`GitHubForge`: the `Forge` port on GitHub, through PyGithub (imported only here and in
the ``github_*`` modules beside it, which hold the forge's other parts).

Two kinds of token are used. The governance token (the governance App's installation
token, or ``AITO_GITHUB_TOKEN``) reads, labels, sets statuses, edits the tally's
comments, merges and closes. Each agent's bot token commits, opens pull requests and
issues, reviews and comments as that agent (`commit_files`, `open_pull`, `post_review`,
`post_comment`, `open_issue` act as their ``author``), so a vote comes from the voter's
own account: ``agent_tokens`` maps a bot's numeric user id to its token (a
:class:`~aito.forge.github_apps.TokenSource` or a fixed ``SecretStr``). An ``author``
with no token of its own is refused with a ConfigError naming what to set
(``token_hints``, by bot id); the governance bot (``governance_id``) acts with the
governance token. In an agent's job, which holds no governance key, ``token`` is the
agent's own token (for reading) and ``governs=False``: governance writes are refused.

Errors are translated, and temporary ones retried, in :mod:`aito.forge.github_calling`.
Tokens are never logged nor put in messages.

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

import dataclasses
import datetime as dt
import functools
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from github import GithubException
from github.CommitStatus import CommitStatus
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest
from pydantic import SecretStr

from aito import errors, retrying
from aito.forge import base as port
from aito.forge import (
    caching,
    github_apps,
    github_calling,
    github_markers,
    github_pacing,
    gitobjects,
)
from aito.forge import github_converting as convert
from aito.forge.github_calling import GOVERNANCE, SERVICE, Account
from aito.forge.github_content import ContentMethods, TreeEntry
from aito.forge.github_conversation import ConversationMethods
from aito.forge.github_issues import IssueMethods
from aito.forge.github_waking import DispatchMethods

_COMPARE_FILES = 300
"""GitHub's compare lists at most this many files: a pull request with more is refused."""


class GitHubForge(ContentMethods, ConversationMethods, IssueMethods, DispatchMethods):
    """A governance repo on GitHub (or GitHub Enterprise: pass its ``api_url``).

    ``max_wait``: a rate limit (or the pacer) asking for a longer pause is raised at once
    (with its ``retry_after``) instead of slept through. ``throttle`` keeps PyGithub's
    spacing of requests and writes, which GitHub asks integrators for; tests turn it off.
    ``pacing``: each token's writes stay under these per-minute and per-hour limits
    (GitHub's secondary limits by default, :mod:`aito.forge.github_pacing`); ``clock``
    (epoch seconds) and ``sleep`` are injectable for tests.
    ``local_objects``: a local clone (the tally's checkout of the base branch) whose
    object store is asked for a blob before GitHub is; only content whose git hash is
    the blob's sha is taken, so nothing checked out or doctored there is ever read as
    the repository's content.

    Its methods are grouped by job: accounts, retries and errors in
    :mod:`aito.forge.github_calling`, content in :mod:`aito.forge.github_content`,
    reviews, comments and events in :mod:`aito.forge.github_conversation`, issues in
    :mod:`aito.forge.github_issues`, wake-ups (repository_dispatch) in
    :mod:`aito.forge.github_waking` (PyGithub's objects become the port's DTOs in
    :mod:`aito.forge.github_converting`); pull requests and their state here.
    """

    def __init__(
        self,
        *,
        repo: str,
        api_url: str,
        token: SecretStr | github_apps.TokenSource,
        agent_tokens: Mapping[int, SecretStr | github_apps.TokenSource],
        governance_id: int | None = None,
        governs: bool = True,
        token_hints: Mapping[int, str] | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 120.0,
        timeout: int = 15,
        throttle: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        local_objects: Path | None = None,
        clock: Callable[[], float] = time.time,
        pacing: github_pacing.Limits = github_pacing.GITHUB_LIMITS,
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
        self._sleep, self._clock = sleep, clock
        self._limits, self._max_wait = pacing, max_wait  # each token's writes are paced
        self._gov = self._connect(_source(token, GOVERNANCE), GOVERNANCE)
        self._governs, self._governance_id = governs, governance_id
        self._agent_tokens = {
            bot: _source(value, f"the token of bot {bot}") for bot, value in agent_tokens.items()
        }
        self._token_hints = dict(token_hints or {})
        self._agents: dict[int, Account] = {}
        self._default_branch: str | None = None
        self._blobs = caching.blob_cache()  # blob sha → content, from GitHub or the clone
        self._local = (
            None
            if local_objects is None
            else gitobjects.GitObjects(local_objects, blobs=self._blobs)
        )
        self._trees: caching.Lru[list[TreeEntry]] = caching.listing_cache()  # by commit sha
        # pull request number → when it opened (GitHub never changes a created_at)
        self._opened: caching.Lru[dt.datetime] = caching.Lru(max_weight=caching.ENTRIES)

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

    # -- pull requests ---------------------------------------------------------------
    def open_pull(
        self, *, head: str, base: str, title: str, body: str, author: port.Identity
    ) -> port.PullRequest:
        """Open a pull request as ``author``; if one of ``author``'s from ``head`` is already
        open, that one is returned (so a re-run never opens a second, nor does a retry after
        a lost reply: it finds the first by its marker)."""
        account = self._as(author)
        me = self._me(account, author)
        what = f"open a pull request from {head}"
        key = github_markers.new_key("pull", self.repo_name, head, base, me.id, title, body)
        create = functools.partial(
            account.repo.create_pull, base, head, title=title, body=github_markers.marked(body, key)
        )
        head_label = f"{self.repo_name.split('/')[0]}:{head}"

        def own_open() -> list[PullRequest]:
            listing = account.repo.get_pulls(state="open", head=head_label, base=base)
            return [p for p in listing if p.user is not None and p.user.id == me.id]

        def recover() -> PullRequest | None:
            return next((p for p in own_open() if github_markers.carries(p.body, key)), None)

        try:
            pull = self._call(
                what, create, credential=account.credential, paced=account, recover=recover
            )
        except errors.PermanentAdapterError as exc:
            if github_calling.http_status(exc) != 422 or "already exists" not in str(exc.__cause__):
                raise
            found = self._call(f"find the pull request from {head}", own_open)
            if not found:
                raise
            pull = found[0]
        return self._call(f"read the pull request from {head}", lambda: convert.pull(pull))

    def pull(self, number: int) -> port.PullRequest:
        """The pull request; for a closed, unmerged one ``closed_by`` costs one more call."""
        pr, issue = self._gov.repo.get_pull(number), self._gov.repo.get_issue(number)
        dto = self._call(f"read pull request #{number}", lambda: convert.pull(pr))
        self._opened.put(str(number), dto.created_at)
        if dto.state is port.PullState.CLOSED:
            closer = self._call(f"read issue #{number}", lambda: issue.closed_by)
            dto = dataclasses.replace(dto, closed_by=convert.identity(closer))
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
            lambda: [(p.number, convert.pull(p) if p.state == "open" else None) for p in listing],
        )
        every = [dto or self.pull(number) for number, dto in found]
        return [p for p in every if state is None or p.state is state]

    def pull_from(self, branch: str) -> port.PullRequest | None:
        """One listing filtered by head branch (GitHub's ``head=owner:branch``), however
        many pull requests the repository has had; a closed one is read like :meth:`pull`."""
        head = f"{self.repo_name.split('/')[0]}:{branch}"
        listing = self._gov.repo.get_pulls(state="all", head=head, sort="created", direction="desc")
        found = self._call(
            f"find the pull request from {branch}",
            lambda: [(p.number, convert.pull(p) if p.state == "open" else None) for p in listing],
        )
        if not found:
            return None
        number, dto = found[0]
        return dto or self.pull(number)

    def commits(self, number: int) -> list[port.Commit]:
        """The pull request's commits, oldest first, with push times from server evidence
        only (see the module docstring): one call, plus one when there is one commit (and
        one more for when the pull request opened, unless :meth:`pull` read it before)."""
        pr = self._gov.repo.get_pull(number)
        what = f"list commits of pull request #{number}"
        found = self._call(
            what,
            lambda: [
                (c.sha, c.commit.tree.sha, convert.identity(c.author)) for c in pr.get_commits()
            ],
        )
        events = self._events(number) if len(found) == 1 else []
        forced = [e for e in events if e[0] == "head_ref_force_pushed"]
        pushed: dict[str, dt.datetime] = {}
        if len(found) == 1 and not forced:
            opened = self._opened.get(str(number))
            if opened is None:
                opened = self._call(f"read pull request #{number}", lambda: pr.created_at)
            pushed[found[0][0]] = opened
        for _, _, at, commit_id, _ in forced:
            if commit_id:
                pushed[commit_id] = at
        return [port.Commit(sha, tree, author, pushed.get(sha)) for sha, tree, author in found]

    def changed_files(self, number: int) -> list[str]:
        pr = self._gov.repo.get_pull(number)
        what = f"list files of pull request #{number}"
        return self._call(what, lambda: [f.filename for f in pr.get_files()])

    def file_changes(self, number: int, *, head: str | None = None) -> list[port.FileChange]:
        """The files (with GitHub's status and a rename's old name), and whether each is a
        symbolic link or submodule at the head (from the head's tree: one more call, kept by
        its sha for reading the head's content).

        An open pull request's files are listed by comparing its base branch with ``head``
        (default: the head it has now), so they are that commit's, however often the branch
        moves meanwhile: GitHub's own file list is whatever the head is when it is read.
        Compare lists at most 300 files."""
        pr = self._gov.repo.get_pull(number)
        current, base, total, state = self._call(
            f"read pull request #{number}",
            lambda: (pr.head.sha, pr.base.ref, pr.changed_files, pr.state),
        )
        what = f"list files of pull request #{number}"
        where = f"{what} on {self.repo_name}"
        if state == "open":
            head = head or current
            pinned = functools.partial(self._gov.repo.compare, base, head)
            files = self._call(
                what,
                lambda: [(f.filename, f.status, f.previous_filename) for f in pinned().files],
            )
            if len(files) >= _COMPARE_FILES:
                raise errors.PermanentAdapterError(
                    SERVICE,
                    f"{where}: {_COMPARE_FILES} changed files or more (GitHub compares no "
                    "more); split the pull request",
                )
            total = len(files)
        else:  # merged or closed: its head no longer moves, and compare shows no change
            head = current
            files = self._call(
                what, lambda: [(f.filename, f.status, f.previous_filename) for f in pr.get_files()]
            )
        if len(files) != total:
            # GitHub lists at most 3,000 files: a file it leaves out could not be judged.
            raise errors.PermanentAdapterError(
                SERVICE,
                f"{where}: GitHub listed {len(files)} of its {total} changed files (it lists "
                "at most 3,000, or the head moved); split the pull request, or tally again",
            )
        if not files:
            return []
        special = {entry.path for entry in self._tree_entries(head) if entry.special}
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

    # -- state -----------------------------------------------------------------------
    def set_labels(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        """Add (GitHub creates missing labels) and remove (an absent one is no error)."""
        issue = self._governance().repo.get_issue(number)
        if add:
            label = functools.partial(issue.add_to_labels, *add)
            self._call(f"label pull request #{number}", label, paced=self._gov)
        for name in remove:
            unlabel = functools.partial(issue.remove_from_labels, name)
            what = f"remove label {name} from pull request #{number}"
            self._maybe(what, unlabel, paced=self._gov)

    def set_status(
        self, *, sha: str, context: str, state: port.CheckState, description: str
    ) -> None:
        repo = self._governance().repo
        payload = {"state": state.value, "context": context, "description": description[:140]}
        self._call(
            f"set status {context} on {sha[:12]}",
            lambda: repo.requester.requestJsonAndCheck(
                "POST", f"{repo.url}/statuses/{sha}", input=payload
            ),
            paced=self._gov,
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
        pr = self._governance().repo.get_pull(number)
        what = f"request reviewers on pull request #{number}"
        try:
            request = functools.partial(pr.create_review_request, reviewers=list(logins))
            self._call(what, request, paced=self._gov)
            return {}
        except errors.PermanentAdapterError as exc:
            if github_calling.http_status(exc) != 422:
                raise
        refused: dict[str, str] = {}
        for login in logins:
            request = functools.partial(pr.create_review_request, reviewers=[login])
            try:
                self._call(f"request {login} on pull request #{number}", request, paced=self._gov)
            except errors.PermanentAdapterError as exc:
                cause = exc.__cause__
                if github_calling.http_status(exc) != 422 or not isinstance(cause, GithubException):
                    raise
                refused[login] = github_calling.error_message(cause)
        return refused

    def requested_reviewers(self, number: int) -> list[str]:
        pr = self._gov.repo.get_pull(number)
        what = f"read pull request #{number}"
        return self._call(what, lambda: [user.login for user in pr.requested_reviewers])

    def merge(self, number: int, *, sha: str, actor: port.Identity, message: str) -> str:
        """Merge with the governance token (GitHub records its account; ``actor`` is for our
        records). GitHub refuses (409) when the head is no longer ``sha``: MergeConflict.
        A merge retried after a lost reply first reads whether the first one merged."""
        pr = self._governance().repo.get_pull(number)

        def merge() -> tuple[bool, str, str]:
            result = pr.merge(commit_message=message, sha=sha, merge_method="merge")
            return result.merged, result.sha, result.message

        def recover() -> tuple[bool, str, str] | None:
            now = self._gov.repo.get_pull(number)
            if now.merged and now.head.sha == sha:
                return True, now.merge_commit_sha, "merged"
            return None

        merged, merge_sha, said = self._call(
            f"merge pull request #{number}",
            merge,
            conflict=(405, 409),
            paced=self._gov,
            recover=recover,
        )
        if not merged:
            raise port.MergeConflict(f"merge pull request #{number}: {said}")
        return merge_sha

    def close(self, number: int, *, actor: port.Identity) -> None:
        pr = self._governance().repo.get_pull(number)
        close = functools.partial(pr.edit, state="closed")
        self._call(f"close pull request #{number}", close, paced=self._gov)

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


def _source(
    value: SecretStr | github_apps.TokenSource, description: str
) -> github_apps.TokenSource:
    if isinstance(value, SecretStr):
        return github_apps.StaticToken(value, description)
    return value
