"""The conversation on a GitHub pull request: reviews, comments and the issue events
(force pushes, dismissals) that say when and by whom, by the server's clock.

:class:`ConversationMethods` is the part of :class:`aito.forge.github.GitHubForge` that
lists, posts and dismisses reviews and lists, posts and edits comments. Reviews and
comments are posted with their ``author``'s own token, so a vote comes from the voter's
own account. Dismissals (who, when, what the review was) come from the
``review_dismissed`` issue events.

A review or comment is posted with an operation marker (:mod:`aito.forge.github_markers`):
a retry after a lost reply finds it among the account's own instead of posting twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from github.Commit import Commit as GhCommit
from github.IssueComment import IssueComment
from github.PullRequestReview import PullRequestReview

from aito import errors
from aito.forge import base as port
from aito.forge import github_converting as convert
from aito.forge import github_markers
from aito.forge.github_calling import SERVICE, GitHubCalls

_DISMISSABLE = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED")
# (event, actor, server time, commit id, dismissed review) of one issue event.
_Event = tuple[str, "port.Identity | None", "dt.datetime", "str | None", "dict[str, Any]"]
_EVENTS = {
    port.ReviewState.APPROVED: "APPROVE",
    port.ReviewState.CHANGES_REQUESTED: "REQUEST_CHANGES",
    port.ReviewState.COMMENTED: "COMMENT",
}


class ConversationMethods(GitHubCalls):
    """Reviews, comments and events of :class:`aito.forge.github.GitHubForge`."""

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
                    convert.identity(e.actor),
                    e.created_at,
                    e.commit_id,
                    (e.dismissed_review or {}) if e.event == "review_dismissed" else {},
                )
                for e in issue.get_events()
                if e.event in wanted
            ]

        return self._call(f"list events of pull request #{number}", read)

    def reviews(self, number: int) -> list[port.Review]:
        """Submitted reviews, oldest first (drafts and deleted users are left out); a
        dismissed one says who dismissed it, when and what it was (one more call)."""
        pr = self._gov.repo.get_pull(number)
        what = f"list reviews of pull request #{number}"
        found = self._call(what, lambda: [r for r in map(convert.review, pr.get_reviews()) if r])
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
            paced=account,
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
        me = self._me(account, author)
        pr = account.repo.get_pull(number)
        commit = GhCommit(account.repo.requester, attributes={"sha": commit_id}, completed=True)
        key = github_markers.new_key(
            "review", self.repo_name, number, me.id, commit_id, state, body
        )
        text = github_markers.marked(body, key)

        def recover() -> PullRequestReview | None:
            # this account's reviews of this commit carrying this call's marker
            return next(
                (
                    r
                    for r in pr.get_reviews()
                    if r.user is not None
                    and r.user.id == me.id
                    and r.commit_id == commit_id
                    and github_markers.carries(r.body, key)
                ),
                None,
            )

        posted = self._call(
            f"review pull request #{number} as {author.login}",
            lambda: pr.create_review(commit=commit, body=text, event=_EVENTS[state]),
            credential=account.credential,
            paced=account,
            recover=recover,
        )
        review = convert.review(posted)
        if review is None:
            where = f"review pull request #{number} on {self.repo_name}"
            raise errors.PermanentAdapterError(SERVICE, f"{where}: GitHub kept it as a draft")
        return review

    def comments(self, number: int) -> list[port.Comment]:
        """Listed from the pull request's issue (``/issues/{n}/comments``, as posting is): a
        pull request's own listing first reads the whole pull request for that address."""
        issue = self._gov.repo.get_issue(number)
        what = f"list comments of pull request #{number}"
        return self._call(what, lambda: [convert.comment(c) for c in issue.get_comments()])

    def post_comment(self, number: int, *, author: port.Identity, body: str) -> port.Comment:
        account = self._as(author)
        me = self._me(account, author)
        issue = account.repo.get_issue(number)
        key = github_markers.new_key("comment", self.repo_name, number, me.id, body)
        text = github_markers.marked(body, key)

        def recover() -> port.Comment | None:
            # this account's comments on the issue carrying this call's marker
            return next(
                (
                    convert.comment(c)
                    for c in issue.get_comments()
                    if c.user is not None
                    and c.user.id == me.id
                    and github_markers.carries(c.body, key)
                ),
                None,
            )

        return self._call(
            f"comment on pull request #{number} as {author.login}",
            lambda: convert.comment(issue.create_comment(text)),
            credential=account.credential,
            paced=account,
            recover=recover,
        )

    def edit_comment(self, number: int, *, comment_id: int, body: str) -> port.Comment:
        """Edit with the governance token (it must own the comment or administer the repo)."""
        repo = self._governance().repo
        comment = IssueComment(repo.requester, url=f"{repo.url}/issues/comments/{comment_id}")

        def edit() -> port.Comment:
            comment.edit(body)
            return convert.comment(comment)

        what = f"edit comment {comment_id} on pull request #{number}"
        return self._call(what, edit, paced=self._gov)
