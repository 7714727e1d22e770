"""Telegram notifications through the Bot API's `sendMessage`.

``POST {api}/bot<token>/sendMessage`` with ``chat_id``, ``text`` (plain: no parse mode, so
nothing in a subject or body is read as markup) and ``disable_web_page_preview``. The API
answers ``{"ok": true, …}`` on delivery; otherwise ``{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}``: a 429 is retried after ``retry_after``
seconds (when that is longer than the policy's ``max_wait``, the TemporaryAdapterError is
raised with it, for the caller to schedule), 5xx are retried, anything else (401 a bad
token, 400 an unknown chat, 403 the bot was blocked) is permanent.

The token is in the URL's path: it is masked in every message, never chained in an
exception, and kept out of httpx's request log.
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

TEXT_MAX = 4096  # Telegram's limit on one message
POLICY = retrying.Policy(
    budget_seconds=30.0, base_delay=0.5, max_delay=5.0, attempts=4, honour="exact", max_wait=30.0
)


class TelegramNotifier:
    """Sends each notification as one message to one chat."""

    def __init__(
        self,
        *,
        name: str,
        token: str,
        chat_id: str,
        api_url: str = "https://api.telegram.org",
        timeout: float = 10.0,
        policy: retrying.Policy = POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._token = token
        self._chat_id = chat_id
        self._endpoint = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self._timeout = timeout
        self._policy = policy
        self._sleep = sleep
        base.redact_in_logs(token)

    def send(self, notification: base.Notification) -> None:
        text = notification.as_text()
        if len(text) > TEXT_MAX:
            text = text[: TEXT_MAX - 1] + "…"
        body = {"chat_id": self._chat_id, "text": text, "disable_web_page_preview": True}
        with httpx.Client(timeout=self._timeout) as client:
            retrying.call(
                lambda: self._post(client, body),
                policy=self._policy,
                sleep=self._sleep,
                what=f"notify {self.name}",
            )
        log.info("sent %r to Telegram chat %s", self.name, self._chat_id)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> None:
        service = f"notify {self.name} (telegram)"
        secrets = [self._token]
        response = posting.post_json(
            client, url=self._endpoint, payload=body, service=service, secrets=secrets
        )
        answer = _json(response)
        if answer.get("ok") is True and 200 <= response.status_code < 300:
            return
        code = answer.get("error_code", response.status_code)
        code = code if isinstance(code, int) else response.status_code
        described = answer.get("description")
        said = base.masked(
            " ".join(str(described).split())[:200]
            if described is not None
            else posting.short_text(response),
            secrets,
        )
        if code == 429 or code >= 500:
            raise TemporaryAdapterError(
                service,
                f"Telegram answered {code}: {said}",
                retry_after=_retry_after(answer, response),
            )
        hint = {
            401: " (check AITO_TELEGRAM_BOT_TOKEN)",
            404: " (check AITO_TELEGRAM_BOT_TOKEN and AITO_TELEGRAM_API_URL)",
            400: " (check the channel's chat_id in org/org.yaml)",
            403: " (add the bot to the chat, or unblock it)",
        }.get(code, "")
        raise PermanentAdapterError(service, f"Telegram answered {code}: {said}{hint}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _retry_after(answer: dict[str, Any], response: httpx.Response) -> float:
    parameters = answer.get("parameters")
    if isinstance(parameters, dict):
        wait = parameters.get("retry_after")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0:
            return float(wait)
    return posting.retry_after_header(response)
