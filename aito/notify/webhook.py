"""A generic JSON webhook with a Slack-compatible payload.

POSTs ``{"text": …, "aito": {"subject", "cause", "severity", "link", "key"}}`` to
`AITO_WEBHOOK_URL`: Slack's (and Mattermost's, Rocket.Chat's, Discord's `/slack`)
incoming webhooks show ``text``; anything else can read the ``aito`` object. A 2xx answer
is delivery; 408, 425, 429 and 5xx are worth retrying (after `Retry-After` when given);
any other answer is permanent. The URL is a secret and never appears in a message or a log.

A subject or body can quote text someone else wrote (a decision's title): in ``text``,
``&``, ``<`` and ``>`` are escaped as Slack asks, so such text cannot ping `<!channel>`,
mention a user or hide a link behind other words. The ``aito`` object holds the raw values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from aito import retrying
from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.notify import base, posting

log = logging.getLogger(__name__)

POLICY = retrying.Policy(
    budget_seconds=30.0, base_delay=0.5, max_delay=5.0, attempts=4, honour="exact", max_wait=30.0
)
RETRIED_STATUSES = frozenset({408, 425, 429})


def payload(notification: base.Notification) -> dict[str, Any]:
    """The JSON body for ``notification``."""
    return {
        "text": slack_escaped(notification.as_text()),
        "aito": {
            "subject": notification.subject,
            "cause": notification.cause,
            "severity": notification.severity.value,
            "link": notification.link,
            "key": notification.key(),
        },
    }


def slack_escaped(text: str) -> str:
    """``text`` with Slack's three control characters escaped (shown as typed)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class WebhookNotifier:
    """POSTs each notification to one URL."""

    def __init__(
        self,
        *,
        name: str,
        url: str,
        timeout: float = 10.0,
        policy: retrying.Policy = POLICY,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._timeout = timeout
        self._policy = policy
        self._sleep = sleep
        self._transport = transport
        base.redact_in_logs(url)

    def send(self, notification: base.Notification) -> None:
        body = payload(notification)
        with httpx.Client(timeout=self._timeout, transport=self._transport) as client:
            retrying.call(
                lambda: self._post(client, body),
                policy=self._policy,
                sleep=self._sleep,
                what=f"notify {self.name}",
            )
        log.info("posted %r to the webhook", self.name)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> None:
        service = f"notify {self.name} (webhook)"
        response = posting.post_json(
            client, url=self._url, payload=body, service=service, secrets=[]
        )
        status = response.status_code
        if 200 <= status < 300:
            return
        said = base.masked(posting.short_text(response), [self._url])
        if status in RETRIED_STATUSES or status >= 500:
            raise TemporaryAdapterError(
                service,
                f"the webhook answered {status}: {said}",
                retry_after=posting.retry_after_header(response),
            )
        raise PermanentAdapterError(
            service, f"the webhook answered {status}: {said} (check AITO_WEBHOOK_URL)"
        )
