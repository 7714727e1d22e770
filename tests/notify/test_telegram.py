"""Telegram's Bot API `sendMessage`, through httpx, against a local server speaking it."""

from __future__ import annotations

import logging

import pytest
from support import notify_servers

from aito import retrying
from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.notify import base, telegram
from aito.org.channels import Severity

TOKEN = "123456:AAH-secret-bot-token_xyz"
NOTE = base.Notification(
    subject="Agent cto is down past its restart budget",
    cause="down:cto:2026-03-02T10:00",
    body="3 restarts in 60 minutes; marked error.",
    link="https://github.com/og-shibaclassic/governance/issues/9",
    severity=Severity.CRITICAL,
)
FAST = retrying.Policy(
    budget_seconds=60.0, base_delay=0.0, max_delay=0.0, attempts=4, honour="exact", max_wait=30
)


def notifier(
    api_url: str, *, token: str = TOKEN, waits: list[float] | None = None
) -> telegram.TelegramNotifier:
    return telegram.TelegramNotifier(
        name="ops-chat",
        token=token,
        chat_id="-1001234567890",
        api_url=api_url,
        policy=FAST,
        sleep=waits.append if waits is not None else (lambda _: None),
        timeout=5,
    )


def test_a_message_is_sent_to_the_chat_as_plain_text() -> None:
    with notify_servers.telegram_api(TOKEN) as api:
        notifier(api.url).send(NOTE)
    [received] = api.received
    assert received.path == f"/bot{TOKEN}/sendMessage"
    assert received.body["chat_id"] == "-1001234567890"
    assert received.body["disable_web_page_preview"] is True
    assert "parse_mode" not in received.body  # nothing in a subject is read as markup
    text = received.body["text"]
    assert text.startswith("[critical] Agent cto is down past its restart budget")
    assert "3 restarts in 60 minutes" in text
    assert "https://github.com/og-shibaclassic/governance/issues/9" in text


def test_flood_control_is_honoured_with_its_retry_after() -> None:
    waits: list[float] = []
    with notify_servers.telegram_api(TOKEN) as api:
        api.answers.append(notify_servers.too_many_requests(7))
        notifier(api.url, waits=waits).send(NOTE)
    assert waits == [7.0]
    assert len(api.received) == 2


def test_a_long_flood_wait_is_handed_to_the_caller() -> None:
    waits: list[float] = []
    with notify_servers.telegram_api(TOKEN) as api:
        api.answers.append(notify_servers.too_many_requests(120))
        with pytest.raises(TemporaryAdapterError) as raised:
            notifier(api.url, waits=waits).send(NOTE)
    assert raised.value.retry_after == 120.0
    assert waits == []  # not slept here: longer than the policy's max_wait
    assert len(api.received) == 1


def test_a_bad_token_is_permanent_and_the_token_appears_nowhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "999999:WRONG-token-never-shown"
    with (
        notify_servers.telegram_api(TOKEN) as api,
        pytest.raises(PermanentAdapterError) as raised,
    ):
        notifier(api.url, token=wrong).send(NOTE)
    message = str(raised.value)
    assert "401" in message and "AITO_TELEGRAM_BOT_TOKEN" in message
    assert len(api.received) == 1  # not retried
    assert "WRONG-token" not in message
    assert raised.value.__cause__ is None
    assert "WRONG-token" not in caplog.text
    assert any("sendMessage" in r.getMessage() for r in caplog.records)  # httpx did log it


def test_an_unreachable_api_is_temporary_and_never_shows_the_token() -> None:
    url = f"http://127.0.0.1:{notify_servers.free_port()}"
    with pytest.raises(TemporaryAdapterError) as raised:
        notifier(url).send(NOTE)
    assert TOKEN not in str(raised.value)
    assert "secret-bot-token" not in str(raised.value)


def test_an_unknown_chat_is_permanent() -> None:
    with notify_servers.telegram_api(TOKEN) as api:
        api.answers.append(
            (
                400,
                {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
                {},
            )
        )
        with pytest.raises(PermanentAdapterError, match=r"chat not found.*chat_id"):
            notifier(api.url).send(NOTE)


def test_a_long_body_is_cut_to_telegrams_limit() -> None:
    long_note = NOTE.model_copy(update={"body": "x" * 10_000})
    with notify_servers.telegram_api(TOKEN) as api:
        notifier(api.url).send(long_note)
    [received] = api.received
    assert len(received.body["text"]) == telegram.TEXT_MAX
