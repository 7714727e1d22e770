"""The JSON webhook (Slack-compatible payload), posted through httpx to a local server."""

from __future__ import annotations

import logging

import pytest
from support import notify_servers

from aito import retrying
from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.notify import base, webhook
from aito.org.channels import Severity

NOTE = base.Notification(
    subject="Budget exhausted: cmo",
    cause="budget:cmo:2026-03-02",
    body="The CMO spent its daily 5.00 USD; its runs wait until tomorrow.",
    link="https://github.com/og-shibaclassic/governance/issues/7",
    severity=Severity.WARNING,
)
FAST = retrying.Policy(
    budget_seconds=5.0, base_delay=0.0, max_delay=0.0, attempts=3, honour="exact", max_wait=10
)
SECRET_PATH = "/services/T000/B000/XXXXsecretXXXX"


def notifier(url: str, waits: list[float] | None = None) -> webhook.WebhookNotifier:
    sleep = waits.append if waits is not None else (lambda _: None)
    return webhook.WebhookNotifier(name="slack", url=url, policy=FAST, sleep=sleep, timeout=5)


def test_the_payload_has_slacks_text_and_the_aito_fields() -> None:
    with notify_servers.webhook_receiver() as server:
        notifier(server.url + SECRET_PATH).send(NOTE)
    [received] = server.received
    assert received.path == SECRET_PATH
    assert received.headers["Content-Type"] == "application/json"
    text = received.body["text"]
    assert text.startswith("[warning] Budget exhausted: cmo")
    assert "its runs wait until tomorrow" in text
    assert text.endswith("https://github.com/og-shibaclassic/governance/issues/7")
    assert received.body["aito"] == {
        "subject": "Budget exhausted: cmo",
        "cause": "budget:cmo:2026-03-02",
        "severity": "warning",
        "link": "https://github.com/og-shibaclassic/governance/issues/7",
        "key": NOTE.key(),
    }


def test_a_server_error_is_retried_after_its_retry_after() -> None:
    waits: list[float] = []
    with notify_servers.webhook_receiver() as server:
        server.answers.append((503, {"error": "busy"}, {"Retry-After": "3"}))
        notifier(server.url + SECRET_PATH, waits).send(NOTE)
    assert waits == [3.0]
    assert len(server.received) == 2  # one refused, one delivered


def test_a_refusal_is_permanent_and_never_shows_the_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with notify_servers.webhook_receiver() as server:
        server.default = (404, {"error": "no_service"}, {})
        with pytest.raises(PermanentAdapterError) as raised:
            notifier(server.url + SECRET_PATH).send(NOTE)
    assert "404" in str(raised.value)
    assert "AITO_WEBHOOK_URL" in str(raised.value)
    assert len(server.received) == 1  # not retried
    assert "secret" not in str(raised.value)
    assert "XXXXsecretXXXX" not in caplog.text


def test_a_server_that_keeps_failing_is_temporary() -> None:
    waits: list[float] = []
    with notify_servers.webhook_receiver() as server:
        server.default = (500, {"error": "down"}, {})
        with pytest.raises(TemporaryAdapterError, match="500"):
            notifier(server.url + SECRET_PATH, waits).send(NOTE)
    assert len(server.received) == FAST.attempts


def test_nobody_listening_is_temporary_and_never_shows_the_url() -> None:
    url = f"http://127.0.0.1:{notify_servers.free_port()}{SECRET_PATH}"
    with pytest.raises(TemporaryAdapterError) as raised:
        notifier(url).send(NOTE)
    assert "XXXXsecretXXXX" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_quoted_text_cannot_ping_the_channel_or_hide_a_link() -> None:
    hostile = NOTE.model_copy(
        update={
            "subject": "Decision <!channel> escalated",
            "body": "<https://evil.example|docs> & more",
        }
    )
    with notify_servers.webhook_receiver() as server:
        notifier(server.url + SECRET_PATH).send(hostile)
    [received] = server.received
    text = received.body["text"]
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "&amp; more" in text
    assert received.body["aito"]["subject"] == "Decision <!channel> escalated"  # raw, as data
