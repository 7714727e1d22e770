"""E-mail notifications, delivered through smtplib to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
from support import notify_servers

from aito import retrying
from aito.errors import ConfigError, PermanentAdapterError, TemporaryAdapterError
from aito.notify import base, email
from aito.org.channels import Severity

NOTE = base.Notification(
    subject="Decision 42 escalated to maintainers",
    cause="escalated:decision:42",
    body="No majority after round 3.\nA maintainer's review decides.",
    link="https://github.com/og-shibaclassic/governance/pull/42",
    severity=Severity.CRITICAL,
)
FAST = retrying.Policy(budget_seconds=5.0, base_delay=0.0, max_delay=0.0, attempts=3)


def notifier(url: str, **options: object) -> email.EmailNotifier:
    return email.EmailNotifier(
        name="ops-mail",
        server=email.SmtpServer.from_url(url),
        sender="aito@example.org",
        recipients=["ops@example.org", "cto@example.org"],
        policy=FAST,
        timeout=5.0,
        **options,  # type: ignore[arg-type]
    )


def test_a_notification_arrives_with_subject_body_and_link() -> None:
    with notify_servers.smtp_server() as (port, mails):
        notifier(f"smtp://127.0.0.1:{port}").send(NOTE)
    [mail] = mails
    assert mail.sender == "aito@example.org"
    assert mail.recipients == ["ops@example.org", "cto@example.org"]
    assert mail.message["Subject"] == "[critical] Decision 42 escalated to maintainers"
    text = mail.message.get_content().replace("\r\n", "\n")
    assert "No majority after round 3.\nA maintainer's review decides." in text
    assert "https://github.com/og-shibaclassic/governance/pull/42" in text
    assert mail.message["Message-ID"] == f"<{NOTE.key()}@aito.notify>"
    assert mail.message["X-AITO-Cause"] == "escalated:decision:42"
    assert not mail.tls  # plain smtp:// never upgrades


def test_starttls_is_used_when_the_url_asks_for_it(tmp_path: Path) -> None:
    certificate = notify_servers.self_signed()
    server_tls = certificate.server_context(tmp_path)
    with notify_servers.smtp_server(starttls=server_tls) as (port, mails):
        sender = notifier(
            f"smtp+starttls://localhost:{port}", tls_context=certificate.client_context()
        )
        sender.send(NOTE)
    [mail] = mails
    assert mail.tls
    assert "maintainer's review" in mail.message.get_content()


def test_a_server_that_requires_starttls_refuses_plain_smtp(tmp_path: Path) -> None:
    server_tls = notify_servers.self_signed().server_context(tmp_path)
    with (
        notify_servers.smtp_server(starttls=server_tls) as (port, mails),
        pytest.raises(PermanentAdapterError, match="530"),
    ):
        notifier(f"smtp://127.0.0.1:{port}").send(NOTE)
    assert mails == []


def test_starttls_with_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    server_tls = notify_servers.self_signed().server_context(tmp_path)
    with (
        notify_servers.smtp_server(starttls=server_tls) as (port, mails),
        pytest.raises(PermanentAdapterError, match="TLS"),
    ):
        notifier(f"smtp+starttls://localhost:{port}").send(NOTE)  # the system's CAs
    assert mails == []


def test_smtps_speaks_tls_from_the_first_byte(tmp_path: Path) -> None:
    certificate = notify_servers.self_signed()
    server_tls = certificate.server_context(tmp_path)
    with notify_servers.smtp_server(implicit_tls=server_tls) as (port, mails):
        notifier(f"smtps://localhost:{port}", tls_context=certificate.client_context()).send(NOTE)
    [mail] = mails
    assert mail.message["Subject"].endswith("Decision 42 escalated to maintainers")


def test_login_with_the_urls_user_and_password(tmp_path: Path) -> None:
    certificate = notify_servers.self_signed()
    server_tls = certificate.server_context(tmp_path)
    password = "p@ss/w:rd"  # percent-encoded in the URL
    with notify_servers.smtp_server(starttls=server_tls, login=("aito", password)) as (
        port,
        mails,
    ):
        quoted = urllib.parse.quote(password, safe="")
        url = f"smtp+starttls://aito:{quoted}@localhost:{port}"
        notifier(url, tls_context=certificate.client_context()).send(NOTE)
    assert len(mails) == 1


def test_a_wrong_password_is_permanent_and_never_quoted(tmp_path: Path) -> None:
    certificate = notify_servers.self_signed()
    server_tls = certificate.server_context(tmp_path)
    with notify_servers.smtp_server(starttls=server_tls, login=("aito", "right-one")) as (
        port,
        mails,
    ):
        url = f"smtp+starttls://aito:Wr0ngSecret@localhost:{port}"
        with pytest.raises(PermanentAdapterError) as raised:
            notifier(url, tls_context=certificate.client_context()).send(NOTE)
    assert "AITO_SMTP_URL" in str(raised.value)
    assert "Wr0ngSecret" not in str(raised.value)
    assert mails == []


def test_an_unreachable_server_is_temporary_after_the_retries() -> None:
    port = notify_servers.free_port()  # nothing listens there
    waits: list[float] = []
    with pytest.raises(TemporaryAdapterError, match=f"127.0.0.1:{port}"):
        notifier(f"smtp://127.0.0.1:{port}", sleep=waits.append).send(NOTE)
    assert len(waits) == FAST.attempts - 1  # tried three times


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "smtp+starttls:///no-host"])
def test_a_url_that_is_not_an_smtp_server_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="AITO_SMTP_URL"):
        email.SmtpServer.from_url(url)


def test_a_line_break_in_the_subject_cannot_add_a_header() -> None:
    hostile = NOTE.model_copy(update={"subject": "Decision 7\r\nBcc: attacker@evil.example"})
    with notify_servers.smtp_server() as (port, mails):
        notifier(f"smtp://127.0.0.1:{port}").send(hostile)
    [mail] = mails
    assert mail.message["Bcc"] is None
    assert mail.recipients == ["ops@example.org", "cto@example.org"]
    assert mail.message["Subject"] == "[critical] Decision 7 Bcc: attacker@evil.example"
