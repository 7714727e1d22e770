"""The notification DTO and the `Notifier` port every channel implements."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from aito.org.channels import Severity

SUBJECT_MAX = 200
BODY_MAX = 20_000


class Notification(BaseModel):
    """One thing a human should know, and the link that resolves it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(min_length=1, max_length=SUBJECT_MAX, description="one short line")
    cause: str = Field(
        min_length=1,
        max_length=500,
        description="a stable key naming why, e.g. `escalated:decision:42`",
    )
    body: str = Field("", max_length=BODY_MAX, description="plain text, may span lines")
    link: str | None = Field(None, max_length=2000, description="the URL that resolves it")
    severity: Severity = Severity.WARNING

    def key(self) -> str:
        """A stable name of this notification for deduplication: sha256 of subject and
        cause (NUL-separated, so no two pairs collide by concatenation), hex, 32 chars."""
        digest = hashlib.sha256(f"{self.subject}\0{self.cause}".encode())
        return digest.hexdigest()[:32]

    def one_line_subject(self) -> str:
        """The subject with line breaks turned to spaces (a header or a title line)."""
        return " ".join(self.subject.split())

    def as_text(self) -> str:
        """Subject, body and link as plain text (what chat channels send)."""
        parts = [f"[{self.severity.value}] {self.one_line_subject()}"]
        if self.body.strip():
            parts.append(self.body.strip())
        if self.link:
            parts.append(self.link)
        return "\n\n".join(parts)


class Notifier(Protocol):
    """A channel that delivers notifications.

    ``send`` raises :class:`~aito.errors.TemporaryAdapterError` when trying again later may
    work (the server is down, rate limits) and :class:`~aito.errors.PermanentAdapterError`
    when it will not (bad credentials, an unknown chat). Its messages never hold a secret.
    """

    name: str

    def send(self, notification: Notification) -> None: ...


def masked(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret in it replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class _Redactor(logging.Filter):
    """Masks registered secrets in the records of an HTTP library's logger.

    httpx logs every request's URL at INFO (`aito -v`): the Telegram token is in that URL's
    path, and a webhook URL is itself a secret."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = masked(message, sorted(self.secrets, key=len, reverse=True))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTOR = _Redactor()
# A logger filter sees only its own logger's records, not its children's: name each.
_REDACTED_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2")


def redact_in_logs(*secrets: str) -> None:
    """Keep ``secrets`` out of what the HTTP client libraries log (idempotent)."""
    _REDACTOR.secrets.update(s for s in secrets if s)
    for name in _REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
