"""Real local servers for the notification channels: SMTP (aiosmtpd), a webhook receiver
and one speaking Telegram's Bot API (`sendMessage`), each on its own port.

The adapters talk to them through the same clients they use in production (smtplib,
httpx). Each server records what it received and can be told how to answer next.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.message
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, and contexts trusting it."""

    cert_pem: bytes
    key_pem: bytes

    def server_context(self, tmp: Any) -> ssl.SSLContext:
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        cert.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem.decode())


def self_signed() -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Certificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


# --- SMTP -------------------------------------------------------------------------------


@dataclasses.dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage
    tls: bool


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        tls = session.ssl is not None
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed, tls))
        return "250 OK"


class _Passwords:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
            self.user,
            self.password,
        )
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself


@contextmanager
def smtp_server(
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[tuple[int, list[Mail]]]:
    """An aiosmtpd server on 127.0.0.1: (port, the mails it accepted).

    ``starttls``: offers STARTTLS and requires it before MAIL; ``implicit_tls``: TLS
    from the first byte (smtps); ``login``: requires AUTH, after STARTTLS, with this user
    and password."""
    inbox = _Inbox()
    port = free_port()
    options: dict[str, Any] = {}
    if starttls is not None:
        options.update(tls_context=starttls, require_starttls=True)
    if login is not None:
        # AUTH after STARTTLS only (aiosmtpd's default, and what real servers do).
        options.update(authenticator=_Passwords(*login), auth_required=True)
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        ssl_context=implicit_tls,
        server_hostname="localhost",
        **options,
    )
    controller.start()
    try:
        yield port, inbox.mails
    finally:
        controller.stop()


# --- HTTP: the webhook receiver and the Telegram Bot API ---------------------------------


@dataclasses.dataclass
class Received:
    path: str
    body: Any
    headers: dict[str, str]


@dataclasses.dataclass
class HttpServer:
    """What a local HTTP server received, and the answers queued for its next requests
    (status, JSON body, headers); once the queue is empty it answers ``default``."""

    url: str
    received: list[Received] = dataclasses.field(default_factory=list)
    answers: list[tuple[int, Any, dict[str, str]]] = dataclasses.field(default_factory=list)
    default: tuple[int, Any, dict[str, str]] = (200, {"ok": True}, {})
    delay_seconds: float = 0.0
    """How long it takes to answer (the request is recorded before)."""


def _handler(state: HttpServer, route: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            state.received.append(Received(self.path, body, dict(self.headers)))
            time.sleep(state.delay_seconds)
            status, answer, headers = route(self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads `received`

    return Handler


@contextmanager
def _serve(state: HttpServer, route: Any) -> Iterator[HttpServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, route))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _next_answer(state: HttpServer) -> tuple[int, Any, dict[str, str]]:
    return state.answers.pop(0) if state.answers else state.default


@contextmanager
def webhook_receiver() -> Iterator[HttpServer]:
    """A webhook endpoint: any path; answers what is queued, else 200 `{"ok": true}`."""
    state = HttpServer(url="")
    with _serve(state, lambda path, body: _next_answer(state)) as served:
        yield served


@contextmanager
def telegram_api(token: str) -> Iterator[HttpServer]:
    """Telegram's Bot API as far as `sendMessage` goes: `/bot<token>/sendMessage` with
    chat_id and text; a wrong token gets 401 (as Telegram answers, `{"ok": false,
    "error_code": 401, "description": "Unauthorized"}`); queued answers (e.g. a 429 with
    `parameters.retry_after`) come first."""
    state = HttpServer(url="")
    message_ids = iter(range(1, 1_000_000))

    def route(path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if path != f"/bot{token}/sendMessage":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, {}
        if not isinstance(body, dict) or "chat_id" not in body or not body.get("text"):
            bad = "Bad Request: message text is empty"
            return 400, {"ok": False, "error_code": 400, "description": bad}, {}
        if state.answers:
            return state.answers.pop(0)
        result = {
            "message_id": next(message_ids),
            "date": 1_767_225_600,
            "chat": {"id": body["chat_id"], "type": "group"},
            "text": body["text"],
        }
        return 200, {"ok": True, "result": result}, {}

    with _serve(state, route) as served:
        yield served


def too_many_requests(retry_after: int) -> tuple[int, Any, dict[str, str]]:
    """Telegram's flood-control answer."""
    return (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        },
        {"Retry-After": str(retry_after)},
    )
