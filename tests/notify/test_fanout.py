"""Every configured channel gets the notification, one failing never stops the others;
`aito notify test` says how each went. Real local SMTP, webhook and Telegram servers."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import notify_servers

from aito.notify import base, fanout
from aito.org import loading
from aito.org.channels import Severity
from aito.settings import Settings

TOKEN = "4242:fanout-secret-token"
CHANNELS = (
    "notify:\n"
    "  - {kind: email, name: ops-mail, to: [ops@example.org], from: aito@example.org}\n"
    "  - {kind: webhook, name: hook, on: [warning, critical]}\n"
    "  - {kind: telegram, name: chat, chat_id: '-1001', on: [critical]}\n"
)
NOTE = base.Notification(
    subject="Loop stopped: cmo",
    cause="loop:cmo:run-17",
    body="The same action five times in a row.",
    link="https://github.com/og-shibaclassic/governance/issues/3",
    severity=Severity.CRITICAL,
)


@pytest.fixture
def servers(
    example_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[
    tuple[list[notify_servers.Mail], notify_servers.HttpServer, notify_servers.HttpServer]
]:
    org_yaml = example_repo / "org/org.yaml"
    org_yaml.write_text(org_yaml.read_text() + "\n" + CHANNELS)
    with (
        notify_servers.smtp_server() as (port, mails),
        notify_servers.webhook_receiver() as hook,
        notify_servers.telegram_api(TOKEN) as api,
    ):
        monkeypatch.setenv("AITO_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("AITO_WEBHOOK_URL", f"{hook.url}/hooks/secret-path")
        monkeypatch.setenv("AITO_TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("AITO_TELEGRAM_API_URL", api.url)
        yield mails, hook, api


def built(repo: Path) -> list[base.Notifier]:
    return fanout.notifiers(Settings.from_env(repo=repo), loading.load_valid(repo))


def test_every_channel_that_takes_the_severity_gets_it(example_repo: Path, servers) -> None:  # type: ignore[no-untyped-def]
    mails, hook, api = servers
    assert fanout.send_all(built(example_repo), NOTE) == [
        ("ops-mail", None),
        ("hook", None),
        ("chat", None),
    ]
    [mail] = mails
    assert mail.message["Subject"] == "[critical] Loop stopped: cmo"
    assert [r.body["aito"]["cause"] for r in hook.received] == ["loop:cmo:run-17"]
    assert [r.body["chat_id"] for r in api.received] == ["-1001"]


def test_a_channel_gets_only_the_severities_in_its_on(example_repo: Path, servers) -> None:  # type: ignore[no-untyped-def]
    mails, hook, api = servers
    info = NOTE.model_copy(update={"severity": Severity.INFO, "cause": "info:1"})
    assert fanout.send_all(built(example_repo), info) == [("ops-mail", None)]
    assert len(mails) == 1 and hook.received == [] and api.received == []


def test_a_failing_channel_does_not_stop_the_others(
    example_repo: Path,
    servers,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.DEBUG)
    mails, hook, api = servers
    hook.default = (403, {"error": "invalid_token"}, {})  # the webhook refuses, permanently
    results = dict(fanout.send_all(built(example_repo), NOTE))
    assert results["ops-mail"] is None and results["chat"] is None
    assert "403" in str(results["hook"])
    assert len(mails) == 1 and len(api.received) == 1
    assert "secret-path" not in caplog.text and TOKEN not in caplog.text


def test_notify_test_reports_each_channel(example_repo: Path, servers, run_aito) -> None:  # type: ignore[no-untyped-def]
    mails, hook, api = servers
    done = run_aito("--repo", str(example_repo), "notify", "test")
    assert done.code == 0, done.err
    assert done.out.splitlines() == ["ops-mail: ok", "hook: ok", "chat: ok"]
    # a test notification is `info`, yet every channel gets it, whatever its `on`
    assert len(mails) == 1 and len(hook.received) == 1 and len(api.received) == 1
    assert "test" in mails[0].message["Subject"]


def test_notify_test_exits_6_when_a_channel_fails(example_repo: Path, servers, run_aito) -> None:  # type: ignore[no-untyped-def]
    mails, hook, api = servers
    api.answers.append((401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, {}))
    done = run_aito("--repo", str(example_repo), "notify", "test", "--json")
    assert done.code == 6
    report = json.loads(done.out)
    assert report["failed"] == 1
    by_name = {c["name"]: c for c in report["channels"]}
    assert by_name["ops-mail"]["ok"] and by_name["hook"]["ok"]
    assert not by_name["chat"]["ok"] and "401" in by_name["chat"]["error"]
    assert TOKEN not in done.out + done.err
    assert len(mails) == 1 and len(hook.received) == 1  # the others were still sent


def test_notify_test_one_channel(example_repo: Path, servers, run_aito) -> None:  # type: ignore[no-untyped-def]
    mails, hook, api = servers
    done = run_aito("--repo", str(example_repo), "notify", "test", "--channel", "hook")
    assert done.code == 0, done.err
    assert done.out.strip() == "hook: ok"
    assert mails == [] and api.received == [] and len(hook.received) == 1


def test_notify_test_an_unknown_channel_is_a_usage_error(
    example_repo: Path, servers, run_aito
) -> None:  # type: ignore[no-untyped-def]
    done = run_aito("--repo", str(example_repo), "notify", "test", "--channel", "pager")
    assert done.code == 2
    assert "pager" in done.err and "ops-mail, hook, chat" in done.err


def test_notify_test_a_missing_secret_exits_3_naming_it(
    example_repo: Path,
    servers,
    run_aito,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    mails, hook, api = servers
    monkeypatch.delenv("AITO_SMTP_URL")
    done = run_aito("--repo", str(example_repo), "notify", "test")
    assert done.code == 3
    assert "AITO_SMTP_URL" in done.err
    assert mails == [] and hook.received == [] and api.received == []  # nothing half-sent


def test_notify_test_without_channels_says_how_to_add_one(example_repo: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    done = run_aito("--repo", str(example_repo), "notify", "test")
    assert done.code == 3
    assert "notify:" in done.err


def test_notify_test_one_channel_needs_only_its_own_secret(
    example_repo: Path,
    servers,
    run_aito,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    mails, hook, api = servers
    monkeypatch.delenv("AITO_SMTP_URL")
    monkeypatch.delenv("AITO_TELEGRAM_BOT_TOKEN")
    done = run_aito("--repo", str(example_repo), "notify", "test", "--channel", "hook")
    assert done.code == 0, done.err
    assert len(hook.received) == 1 and mails == [] and api.received == []
