"""PyGithub's objects as the port's DTOs: pull requests, issues, reviews, comments, users.

Every part of :class:`aito.forge.github.GitHubForge` hands back only what these build,
so no SDK object leaves the GitHub forge. A deleted account is GitHub's ``ghost``. Bodies
lose the operation marker the forge wrote (:mod:`aito.forge.github_markers`).
"""

from __future__ import annotations

from github.Issue import Issue as GhIssue
from github.IssueComment import IssueComment
from github.NamedUser import NamedUser
from github.Organization import Organization
from github.PullRequest import PullRequest as GhPull
from github.PullRequestReview import PullRequestReview

from aito.forge import base as port
from aito.forge import github_markers

GHOST = port.Identity(login="ghost", id=10137891)  # GitHub's stand-in for deleted accounts


def identity(user: NamedUser | Organization | None) -> port.Identity | None:
    return None if user is None else port.Identity(login=user.login, id=user.id)


def pull(pr: GhPull) -> port.PullRequest:
    merged = pr.merged_at is not None
    merged_by = identity(pr.merged_by) if merged else None  # merging closes it too
    return port.PullRequest(
        number=pr.number,
        title=pr.title,
        body=github_markers.strip(pr.body),
        state=port.PullState.MERGED if merged else port.PullState(pr.state),
        author=identity(pr.user) or GHOST,
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
        base_ref=pr.base.ref,
        labels=frozenset(label.name for label in pr.labels),
        created_at=pr.created_at,
        merged_by=merged_by,
        closed_by=merged_by,
        merge_sha=pr.merge_commit_sha if merged else None,
        url=pr.html_url,
        closed_at=pr.closed_at if pr.state == "closed" else None,
    )


def issue(issue: GhIssue) -> port.Issue:
    return port.Issue(
        number=issue.number,
        title=issue.title,
        body=github_markers.strip(issue.body),
        state=issue.state,
        author=identity(issue.user) or GHOST,
        labels=frozenset(label.name for label in issue.labels),
        created_at=issue.created_at,
        url=issue.html_url,
    )


def review(review: PullRequestReview) -> port.Review | None:
    if review.state not in port.ReviewState.__members__ or review.user is None:
        return None  # a PENDING draft (no submitted_at yet), or a deleted account
    return port.Review(
        id=review.id,
        user=port.Identity(login=review.user.login, id=review.user.id),
        state=port.ReviewState(review.state),
        commit_id=review.commit_id or "",
        submitted_at=review.submitted_at,
        body=github_markers.strip(review.body),
    )


def comment(comment: IssueComment) -> port.Comment:
    user = identity(comment.user) or GHOST
    body = github_markers.strip(comment.body)
    return port.Comment(comment.id, user, body, comment.created_at, comment.updated_at)
