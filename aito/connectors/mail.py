"""Mail servers for the email connector: a server from its URL (its host an allowed one,
the password never shown), and a mailbox read over IMAP (imaplib) without marking
anything seen: the folder opened read-only (EXAMINE), each message fetched with
BODY.PEEK[] and parsed with the standard library's email package."""

from __future__ import annotations

import contextlib
import dataclasses
import email.message
import email.policy
import email.utils
import imaplib
import os
import re
import ssl
import urllib.parse
from typing import Any

from aito.connectors.text import html_text
from aito.errors import PermanentAdapterError, PermissionDenied, TemporaryAdapterError
from aito.org.mcp_servers import host_allowed

TIMEOUT_SECONDS = 20.0
MAX_TEXT = 20_000
Fetched = tuple[int, list[str], bytes]
"""A message as fetched: its UID, its flags, its bytes."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A mail server from its URL (the password never shown)."""

    scheme: str
    host: str
    port: int
    user: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def endpoint(env: str, ports: dict[str, int], allowed: list[str]) -> Endpoint:
    """The server ``env`` names, if its host is allowed; errors never quote the URL."""
    parts = urllib.parse.urlsplit(os.environ.get(env, ""))
    scheme = parts.scheme.lower()
    try:
        port = parts.port or ports.get(scheme, 0)
    except ValueError:  # not a number, or out of range
        port = 0
    if scheme not in ports or not parts.hostname or not port:
        schemes = " or ".join(f"{s}://" for s in ports)
        raise ValueError(f"{env} must be a URL of {schemes} with a host (and a valid port)")
    host = parts.hostname.lower()
    if not host_allowed(host, allowed):
        raise PermissionDenied(
            f"{host} ({env}) is not an allowed domain of this server (allowed: "
            f"{', '.join(allowed) or 'none'}); a maintainer adds it to the server's `domains`"
        )
    return Endpoint(
        scheme=scheme,
        host=host,
        port=port,
        user=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
    )


def read(imap: Endpoint, folder: str, criteria: list[str], count: int) -> list[Fetched]:
    """The newest ``count`` messages of ``folder`` matching ``criteria``, newest first,
    the folder opened read-only (EXAMINE) and each fetched with BODY.PEEK[]."""
    if not folder or len(folder) > 200 or any(ord(c) < 32 or c in '"\\' for c in folder):
        raise ValueError("name a folder such as INBOX")
    try:
        client = (
            imaplib.IMAP4_SSL(
                imap.host,
                imap.port,
                ssl_context=ssl.create_default_context(),
                timeout=TIMEOUT_SECONDS,
            )
            if imap.scheme == "imaps"
            else imaplib.IMAP4(imap.host, imap.port, timeout=TIMEOUT_SECONDS)
        )
        try:
            if imap.user is not None:
                try:
                    client.login(_quoted(imap.user), imap.password or "")
                except imaplib.IMAP4.error as exc:
                    raise PermanentAdapterError(
                        "email",
                        f"{imap.where} refused the login; check the user and "
                        "password in AITO_MCP_IMAP_URL",
                    ) from exc
            if client.select(_quoted(folder), readonly=True)[0] != "OK":
                raise ValueError(f"there is no folder {folder!r} on {imap.where}")
            status, found = client.uid("SEARCH", *criteria)
            if status != "OK":
                raise PermanentAdapterError("email", f"{imap.where} refused the search")
            uids = sorted(int(u) for u in b" ".join(f for f in found if f).split())
            chosen = uids[::-1][:count]
            if not chosen:
                return []
            status, data = client.uid("FETCH", ",".join(map(str, chosen)), "(BODY.PEEK[] FLAGS)")
            if status != "OK":
                raise PermanentAdapterError("email", f"{imap.where} refused to fetch")
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
    except imaplib.IMAP4.error as exc:
        raise PermanentAdapterError("email", f"{imap.where}: {_said(str(exc))}") from exc
    except ssl.SSLError as exc:
        reason = exc.reason or "handshake"
        raise PermanentAdapterError("email", f"TLS with {imap.where} failed ({reason})") from exc
    except OSError as exc:
        raise TemporaryAdapterError(
            "email", f"cannot reach {imap.where}: {type(exc).__name__}"
        ) from exc
    return sorted(_fetched(data), key=lambda f: -f[0])


def _fetched(data: list[Any]) -> list[Fetched]:
    """(uid, flags, message) from a UID FETCH answer as imaplib gives it: a (prefix,
    literal) pair per message, then what follows the literal (FLAGS may come there)."""
    pieces: list[list[bytes]] = []
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            pieces.append([bytes(item[0]), bytes(item[1])])
        elif isinstance(item, bytes) and pieces:
            pieces[-1][0] += b" " + item
    out: list[Fetched] = []
    for head, raw in pieces:
        uid = re.search(rb"UID (\d+)", head)
        flags = re.search(rb"FLAGS \(([^)]*)\)", head)
        if uid is not None:
            out.append(
                (int(uid.group(1)), (flags.group(1) if flags else b"").decode().split(), raw)
            )
    return out


def message_of(raw: bytes) -> email.message.EmailMessage:
    found = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(found, email.message.EmailMessage)
    return found


def summary(uid: int, flags: list[str], message: email.message.EmailMessage) -> dict[str, Any]:
    """Who sent it to whom, its subject, date (ISO 8601), Message-ID, whether seen."""
    try:
        date: str | None = email.utils.parsedate_to_datetime(str(message["Date"])).isoformat()
    except (TypeError, ValueError):
        date = None
    return {
        "uid": uid,
        "message_id": str(message.get("Message-ID", "")).strip(),
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "subject": str(message.get("Subject", "")),
        "date": date,
        "seen": "\\Seen" in flags,
    }


def attachments(message: email.message.EmailMessage) -> list[dict[str, Any]]:
    """Each attachment's name, type and size (never its content)."""
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        found.append(
            {"filename": part.get_filename(), "content_type": part.get_content_type(), "size": size}
        )
    return found


def plain_text(message: email.message.EmailMessage) -> str:
    """The message's plain text (its HTML as text when it has no plain part)."""
    body = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(body, email.message.EmailMessage):
        return ""
    try:
        content = str(body.get_content())
    except (LookupError, ValueError):
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if body.get_content_type() == "text/html":
        return html_text(content, limit=MAX_TEXT)[1]
    return content.replace("\r\n", "\n").strip()


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(raw: bytes | str) -> str:
    said = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(said.split())[:200]
