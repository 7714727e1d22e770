"""`notify:` in org/org.yaml and the notification secrets in the environment."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aito.errors import ConfigError
from aito.notify import base, fanout
from aito.org import loading
from aito.org.channels import EmailChannel, Severity, TelegramChannel, WebhookChannel
from aito.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, notify: str) -> loading.LoadResult:
    for part in ("org", "profiles"):
        shutil.copytree(REPO / part, tmp_path / part)
    org_yaml = tmp_path / "org/org.yaml"
    org_yaml.write_text(org_yaml.read_text() + "\n" + notify)
    return loading.load(tmp_path)


def line_of(tmp_path: Path, text: str) -> int:
    """The line of the last occurrence (the example org.yaml mentions channels in comments)."""
    lines = (tmp_path / "org/org.yaml").read_text().splitlines()
    return max(n for n, line in enumerate(lines, 1) if text in line)


def test_every_kind_of_channel_is_read(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        "notify:\n"
        "  - {kind: email, to: [ops@example.org], from: aito@example.org, on: [critical]}\n"
        "  - {kind: webhook, name: slack}\n"
        "  - {kind: telegram, chat_id: '-100123'}\n",
    )
    assert result.problems == []
    assert result.organization is not None
    mail, hook, chat = result.organization.org.notify
    assert isinstance(mail, EmailChannel) and mail.from_ == "aito@example.org"
    assert (mail.channel_name, mail.on) == ("email", [Severity.CRITICAL])
    assert isinstance(hook, WebhookChannel) and hook.channel_name == "slack"
    assert hook.on == [Severity.INFO, Severity.WARNING, Severity.CRITICAL]  # default: all
    assert isinstance(chat, TelegramChannel) and chat.chat_id == "-100123"


def test_the_example_organization_has_no_channel(tmp_path: Path) -> None:
    result = load(tmp_path, "")
    assert result.organization is not None and result.organization.org.notify == []


@pytest.mark.parametrize(
    ("entry", "marker", "says"),
    [
        ("  - {kind: pigeon}\n", "pigeon", "kind"),
        ("  - {kind: telegram}\n", "kind: telegram", "chat_id"),
        ("  - {kind: telegram, chat_id: 'x; rm'}\n", "chat_id", "chat_id"),
        ("  - {kind: email, to: ['a@b.org\\nBcc: x@y.org'], from: c@d.org}\n", "Bcc", "to"),
        ("  - {kind: email, to: [], from: c@d.org}\n", "to: []", "to"),
        ("  - {kind: webhook, on: [loud]}\n", "loud", "on"),
        ("  - {kind: webhook, token: abc}\n", "token: abc", "token"),
    ],
)
def test_a_bad_channel_is_reported_at_its_line(
    tmp_path: Path, entry: str, marker: str, says: str
) -> None:
    result = load(tmp_path, "notify:\n  - {kind: webhook}\n" + entry)
    assert result.organization is None
    [problem] = result.problems
    assert problem.file.name == "org.yaml"
    assert problem.line == line_of(tmp_path, marker)
    assert says in problem.message


def test_two_channels_with_one_name_are_refused(tmp_path: Path) -> None:
    result = load(tmp_path, "notify:\n  - {kind: webhook}\n  - {kind: webhook}\n")
    assert result.organization is None
    [problem] = result.problems
    assert problem.file.name == "org.yaml"
    assert problem.line == line_of(tmp_path, "notify:")
    assert "webhook" in problem.message and "name" in problem.message


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(env, repo=tmp_path)


def test_a_configured_channel_without_its_secret_names_the_variable(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        "notify:\n  - {kind: telegram, name: ops, chat_id: '42'}\n  - {kind: webhook}\n",
    )
    assert result.organization is not None
    with pytest.raises(ConfigError) as raised:
        fanout.notifiers(
            settings(tmp_path, AITO_WEBHOOK_URL="https://h.example/x"), result.organization
        )
    assert "AITO_TELEGRAM_BOT_TOKEN" in str(raised.value)
    assert "'ops'" in str(raised.value)
    assert "AITO_WEBHOOK_URL" not in str(raised.value)  # that one is set


def test_no_channel_needs_no_secret(tmp_path: Path) -> None:
    result = load(tmp_path, "")
    assert result.organization is not None
    assert fanout.notifiers(settings(tmp_path), result.organization) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AITO_SMTP_URL", "http://user:hunter2@mail.example.org"),
        ("AITO_SMTP_URL", "smtp://user:hunter2@mail.example.org:99999"),
        ("AITO_WEBHOOK_URL", "ftp://hooks.example/hunter2"),
        ("AITO_TELEGRAM_API_URL", "api.telegram.org/hunter2"),
        ("AITO_TELEGRAM_BOT_TOKEN", "123:hunter2/../x"),
        ("AITO_TELEGRAM_BOT_TOKEN", "123:hunter2\nx"),
    ],
)
def test_an_unusable_secret_is_a_config_error_that_never_echoes_it(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(tmp_path, **{name: value})
    assert name in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_the_secrets_are_read_and_never_shown_in_the_settings(tmp_path: Path) -> None:
    found = settings(
        tmp_path,
        AITO_SMTP_URL="smtp+starttls://u:hunter2@mail.example.org:587",
        AITO_WEBHOOK_URL="https://hooks.example/T/hunter2",
        AITO_TELEGRAM_BOT_TOKEN="123:hunter2",
    )
    assert found.telegram_api_url == "https://api.telegram.org"
    assert found.telegram_bot_token is not None
    assert found.telegram_bot_token.get_secret_value() == "123:hunter2"
    assert "hunter2" not in repr(found) and "hunter2" not in str(found)


def test_the_key_names_subject_and_cause() -> None:
    one = base.Notification(subject="Agent cto down", cause="down:cto:1")
    assert (
        one.key()
        == base.Notification(subject="Agent cto down", cause="down:cto:1", body="other text").key()
    )
    assert len(one.key()) == 32 and int(one.key(), 16) >= 0
    assert one.key() != base.Notification(subject="Agent cto down", cause="down:cto:2").key()
    assert one.key() != base.Notification(subject="Agent cto dow", cause="ndown:cto:1").key()
