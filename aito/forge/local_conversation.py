"""Reviews and comments on the local forge's pull requests, kept in their JSON records.

:class:`ConversationMethods` is the part of :class:`aito.forge.local.LocalForge` that
posts, lists and dismisses reviews and posts, lists and edits comments; each carries
the time this forge made it (its own clock), never a time a caller gives.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aito.errors import PermanentAdapterError
from aito.forge import local_git, local_store
from aito.forge.base import Comment, Identity, Review, ReviewState
from aito.forge.local_store import LocalStore

SERVICE = local_git.SERVICE


class ConversationMethods(LocalStore):
    """Reviews and comments of :class:`aito.forge.local.LocalForge`."""

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
                "by": local_store.identity_json(actor),
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
                "user": local_store.identity_json(author),
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
                "user": local_store.identity_json(author),
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
