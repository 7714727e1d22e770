"""`notify:` in org/org.yaml: the channels that tell humans when something needs them.

Each channel names its kind; its secret (the SMTP server, the webhook URL, the bot token)
never appears here: it comes from the environment of the host that sends (see
:mod:`aito.settings`). The adapters are in :mod:`aito.notify`.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import Field

from aito.org.common import OrgModel, Slug


class Severity(enum.StrEnum):
    """How urgently a notification needs a human."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


EmailAddress = Annotated[
    str,
    Field(
        pattern=r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$",
        max_length=254,
        description="an e-mail address, e.g. `ops@example.org` (no display name)",
    ),
]


class _Channel(OrgModel):
    name: Slug | None = Field(
        None,
        description="what reports and `aito notify test --channel` call it; default: the "
        "kind. Names are unique",
    )
    on: list[Severity] = Field(
        default_factory=lambda: list(Severity),
        min_length=1,
        description="the severities sent on this channel (default: all of info, warning, critical)",
    )

    @property
    def channel_name(self) -> str:
        """The name given, or the kind."""
        return self.name or str(getattr(self, "kind", "channel"))


class EmailChannel(_Channel):
    """E-mail through the SMTP server in `AITO_SMTP_URL`."""

    kind: Literal["email"]
    to: list[EmailAddress] = Field(min_length=1, max_length=50, description="the recipients")
    from_: EmailAddress = Field(alias="from", description="the sender address")


class WebhookChannel(_Channel):
    """A JSON POST (a Slack-compatible payload) to the URL in `AITO_WEBHOOK_URL`."""

    kind: Literal["webhook"]


class TelegramChannel(_Channel):
    """A Telegram message from the bot whose token is `AITO_TELEGRAM_BOT_TOKEN`."""

    kind: Literal["telegram"]
    chat_id: str = Field(
        pattern=r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$",
        description="the chat: a numeric id (groups are negative) or a public `@channelname`; "
        "quote it in YAML",
    )


NotifyChannel = Annotated[
    EmailChannel | WebhookChannel | TelegramChannel, Field(discriminator="kind")
]


def duplicate_names(channels: list[NotifyChannel]) -> list[str]:
    """Channel names used more than once (each once, in order)."""
    seen: set[str] = set()
    repeated: list[str] = []
    for channel in channels:
        name = channel.channel_name
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated
