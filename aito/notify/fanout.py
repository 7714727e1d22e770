"""The channels configured in org/org.yaml (`notify:`), and one notification sent on each.

:func:`notifiers` builds an adapter per channel with its secret from the settings (a
ConfigError naming every missing variable); :func:`send_all` sends one notification on
every channel that takes its severity, and a channel that fails never stops the others.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from aito.errors import AitoError, ConfigError
from aito.notify import base, email, telegram, webhook
from aito.org import channels, loading, organization
from aito.org.channels import Severity
from aito.settings import Settings

log = logging.getLogger(__name__)

SECRET_OF = {
    "email": "AITO_SMTP_URL",
    "webhook": "AITO_WEBHOOK_URL",
    "telegram": "AITO_TELEGRAM_BOT_TOKEN",
}


@dataclasses.dataclass
class Channel:
    """A configured channel: its adapter and the severities it takes (org.yaml's `on`)."""

    name: str
    notifier: base.Notifier
    kind: str
    severities: frozenset[Severity]

    def accepts(self, severity: Severity) -> bool:
        return severity in self.severities

    def send(self, notification: base.Notification) -> None:
        self.notifier.send(notification)


def notifiers(
    settings: Settings,
    org: loading.Organization | organization.OrgFile,
    *,
    only: str | None = None,
) -> list[base.Notifier]:
    """A notifier per channel in `notify:`, in file order (empty when there is none);
    with ``only``, just the channel of that name (so only its secret is needed)."""
    org_file = org.org if isinstance(org, loading.Organization) else org
    chosen = [c for c in org_file.notify if only in (None, c.channel_name)]
    missing = [
        f"channel {c.channel_name!r} ({c.kind}) needs {SECRET_OF[c.kind]}"
        for c in chosen
        if _secret(settings, c.kind) is None
    ]
    if missing:
        raise ConfigError(
            "notification secrets are missing: "
            + "; ".join(missing)
            + " (set them in the orchestrator's environment, e.g. runner/.env)"
        )
    return [
        Channel(
            name=c.channel_name,
            notifier=_build(settings, c),
            kind=c.kind,
            severities=frozenset(c.on),
        )
        for c in chosen
    ]


def send_all(
    notifiers: Sequence[base.Notifier],
    notification: base.Notification,
    *,
    everywhere: bool = False,
) -> list[tuple[str, Exception | None]]:
    """Send ``notification`` on each notifier that takes its severity (every one with
    ``everywhere``); per channel sent, its name and its error (None when delivered)."""
    results: list[tuple[str, Exception | None]] = []
    for notifier in notifiers:
        if (
            not everywhere
            and isinstance(notifier, Channel)
            and not notifier.accepts(notification.severity)
        ):
            continue
        try:
            notifier.send(notification)
        except AitoError as exc:
            log.warning("notify %s failed: %s", notifier.name, exc)
            results.append((notifier.name, exc))
        except Exception as exc:
            # A bug in one adapter must not silence the others. No traceback in the log:
            # a library's exception can quote a URL that holds a token.
            log.error("notify %s failed with an unexpected %s", notifier.name, type(exc).__name__)
            results.append((notifier.name, exc))
        else:
            results.append((notifier.name, None))
    return results


def _secret(settings: Settings, kind: str) -> str | None:
    value = {
        "email": settings.smtp_url,
        "webhook": settings.webhook_url,
        "telegram": settings.telegram_bot_token,
    }[kind]
    return value.get_secret_value() if value is not None else None


def _build(settings: Settings, channel: channels.NotifyChannel) -> base.Notifier:
    name = channel.channel_name
    secret = _secret(settings, channel.kind)
    assert secret is not None, "checked by notifiers()"
    if isinstance(channel, channels.EmailChannel):
        return email.EmailNotifier(
            name=name,
            server=email.SmtpServer.from_url(secret),
            sender=channel.from_,
            recipients=channel.to,
        )
    if isinstance(channel, channels.WebhookChannel):
        return webhook.WebhookNotifier(name=name, url=secret)
    return telegram.TelegramNotifier(
        name=name, token=secret, chat_id=channel.chat_id, api_url=settings.telegram_api_url
    )
