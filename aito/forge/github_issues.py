"""Issues on GitHub: how agents ask humans to act and raise alerts.

:class:`IssueMethods` is the part of :class:`aito.forge.github.GitHubForge` that opens
(as the ``author``), lists (leaving out the pull requests GitHub lists among issues)
and closes issues. An issue is opened with an operation marker
(:mod:`aito.forge.github_markers`): a retry after a lost reply finds it among the
account's newest issues instead of opening a second.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from github.GithubObject import NotSet

from aito import errors
from aito.forge import base as port
from aito.forge import github_converting as convert
from aito.forge import github_markers
from aito.forge.github_calling import SERVICE, GitHubCalls

_RECENT = 100  # a retry looks among the account's newest issues (one page) for its marker


class IssueMethods(GitHubCalls):
    """Issues of :class:`aito.forge.github.GitHubForge`."""

    def open_issue(
        self, *, title: str, body: str, labels: Sequence[str], author: port.Identity
    ) -> port.Issue:
        """Open an issue as ``author`` (GitHub creates missing labels; it silently drops
        them when the token has no push access)."""
        account = self._as(author)
        me = self._me(account, author)
        key = github_markers.new_key("issue", self.repo_name, me.id, title, body, *labels)
        create = functools.partial(
            account.repo.create_issue,
            title=title,
            body=github_markers.marked(body, key),
            labels=list(labels),
        )

        def recover() -> port.Issue | None:
            # the account's newest issues (labels may have been dropped: not a filter)
            listing = account.repo.get_issues(
                state="all",
                creator=account.client.get_user(me.login, lazy=True),  # no request of its own
                sort="created",
                direction="desc",
            )
            for index, issue in enumerate(listing):
                if index >= _RECENT:
                    return None
                if (
                    issue.pull_request is None
                    and issue.user is not None
                    and issue.user.id == me.id
                    and github_markers.carries(issue.body, key)
                ):
                    return convert.issue(issue)
            return None

        return self._call(
            f"open issue {title!r} as {author.login}",
            lambda: convert.issue(create()),
            credential=account.credential,
            paced=account,
            recover=recover,
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
            lambda: [convert.issue(issue) for issue in listing if issue.pull_request is None],
        )

    def close_issue(self, number: int, *, actor: port.Identity) -> None:
        """Close with the governance token (``actor`` is for our records, as in
        :meth:`close`): one read (a pull request number is refused, a closed issue left
        alone), then one write."""
        issue = self._governance().repo.get_issue(number)
        found = self._call(f"read issue #{number}", lambda: (issue.pull_request, issue.state))
        if found[0] is not None:
            where = f"close issue #{number} on {self.repo_name}"
            raise errors.PermanentAdapterError(SERVICE, f"{where}: #{number} is a pull request")
        if found[1] != "open":
            return
        close = functools.partial(issue.edit, state="closed")
        self._call(f"close issue #{number}", close, paced=self._gov)
