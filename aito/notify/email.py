"""E-mail notifications through SMTP (the standard library's `smtplib`).

`AITO_SMTP_URL` picks the transport by its scheme: `smtp://` (plain; a relay on the same
host), `smtp+starttls://` (upgraded with STARTTLS before logging in; STARTTLS is then
required, never skipped) or `smtps://` (TLS from the first byte). User and password in the
URL (percent-encoded) log in; without them no login is tried. Certificates are checked
against the system's store unless a test hands in its own TLS context.
"""

from __future__ import annotations

import dataclasses
import email.message
import email.utils
import logging
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Callable

from aito import retrying
from aito.errors import AdapterError, ConfigError, PermanentAdapterError, TemporaryAdapterError
from aito.notify.base import Notification

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
POLICY = retrying.Policy(budget_seconds=20.0, base_delay=0.5, max_delay=5.0, attempts=3)


@dataclasses.dataclass(frozen=True)
class SmtpServer:
    """Where and how to reach the SMTP server (parsed from `AITO_SMTP_URL`)."""

    scheme: str
    host: str
    port: int
    user: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Parse ``url``; a ConfigError that never quotes it (it holds the password)."""
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError(
                "AITO_SMTP_URL must be smtp://, smtp+starttls:// or smtps:// with a host, "
                "e.g. smtp+starttls://user:password@mail.example.org:587"
            )
        return cls(
            scheme=scheme,
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[scheme],
            user=urllib.parse.unquote(parts.username) if parts.username else None,
            password=urllib.parse.unquote(parts.password) if parts.password else None,
        )

    @property
    def where(self) -> str:
        """Host and port, for messages (no user, no password)."""
        return f"{self.scheme}://{self.host}:{self.port}"


class EmailNotifier:
    """Sends each notification as one plain-text e-mail to the channel's recipients."""

    def __init__(
        self,
        *,
        name: str,
        server: SmtpServer,
        sender: str,
        recipients: list[str],
        tls_context: ssl.SSLContext | None = None,
        timeout: float = 20.0,
        policy: retrying.Policy = POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._server = server
        self._sender = sender
        self._recipients = list(recipients)
        self._tls = tls_context or ssl.create_default_context()
        self._timeout = timeout
        self._policy = policy
        self._sleep = sleep

    def send(self, notification: Notification) -> None:
        message = self._message(notification)
        retrying.call(
            lambda: self._deliver(message),
            policy=self._policy,
            sleep=self._sleep,
            what=f"notify {self.name}",
        )
        log.info(
            "e-mailed %r to %d recipient(s) via %s",
            self.name,
            len(self._recipients),
            self._server.where,
        )

    def _message(self, notification: Notification) -> email.message.EmailMessage:
        message = email.message.EmailMessage()
        message["Subject"] = f"[{notification.severity.value}] {notification.one_line_subject()}"
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Date"] = email.utils.formatdate(localtime=False)
        # Derived from the cause: a retried send carries the same id, so a mail system that
        # sees both can tell they are one message.
        message["Message-ID"] = f"<{notification.key()}@aito.notify>"
        message["X-AITO-Cause"] = " ".join(notification.cause.split())
        text = notification.body.strip()
        if notification.link:
            text = f"{text}\n\n{notification.link}" if text else notification.link
        message.set_content(text + "\n")
        return message

    def _deliver(self, message: email.message.EmailMessage) -> None:
        server = self._server
        try:
            client: smtplib.SMTP
            if server.scheme == "smtps":
                client = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=self._timeout, context=self._tls
                )
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=self._timeout)
            with client:
                if server.scheme == "smtp+starttls":
                    client.starttls(context=self._tls)
                if server.user is not None:
                    client.login(server.user, server.password or "")
                client.send_message(message)
        except AdapterError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentAdapterError(
                self._service,
                f"{server.where} refused the login ({exc.smtp_code}); check "
                "the user and password in AITO_SMTP_URL",
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentAdapterError(
                self._service,
                f"{server.where} does not offer STARTTLS (or login); use "
                "smtps:// or a server that does",
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            failure = (
                TemporaryAdapterError
                if all(400 <= c < 500 for c in codes)
                else (PermanentAdapterError)
            )
            raise failure(
                self._service, f"{server.where} refused every recipient (codes {codes})"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            failure = (
                TemporaryAdapterError if 400 <= exc.smtp_code < 500 else (PermanentAdapterError)
            )
            raise failure(
                self._service, f"{server.where} answered {exc.smtp_code}: {_said(exc.smtp_error)}"
            ) from exc
        except ssl.SSLError as exc:
            raise PermanentAdapterError(
                self._service, f"TLS with {server.where} failed ({exc.reason or 'handshake'})"
            ) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TemporaryAdapterError(
                self._service, f"cannot reach {server.where}: {type(exc).__name__}"
            ) from exc

    @property
    def _service(self) -> str:
        return f"notify {self.name} (email)"


def _said(raw: bytes | str) -> str:
    """What the server said, one line, bounded."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:200] + "…"
