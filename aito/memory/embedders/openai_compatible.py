"""Embeddings from an OpenAI-compatible ``POST {url}/embeddings`` endpoint.

The wire format is OpenAI's, which most embedding servers also speak (Azure OpenAI,
vLLM, llama.cpp's server, Ollama's ``/v1``, LiteLLM, text-embeddings-inference, …)::

    POST {url}/embeddings
    Authorization: Bearer <api key>            (left out when no key is set)
    {"model": "<model>", "input": ["text", …], "dimensions": 384}

    200 {"data": [{"embedding": [384 floats], "index": 0}, …], …}

Vectors come back in input order (by ``index``) and are L2-normalised here, whatever
the server did. Errors are translated at this boundary:

- 408, 425, 429, 5xx, timeouts and lost connections: retried with exponential backoff
  (or after the server's ``Retry-After``), then raised as
  :class:`~aito.errors.TemporaryAdapterError` with ``retry_after``;
- any other 4xx, a redirect, or an answer that is not an embeddings list:
  :class:`~aito.errors.PermanentAdapterError`, never retried;
- vectors that are not 384 long: :class:`~aito.errors.ConfigError` (the endpoint
  ignored ``dimensions``; configure it, or pick a model that gives 384).

The API key is sent only in the ``Authorization`` header, to the configured host
(redirects are refused), and never appears in a message.
"""

from __future__ import annotations

import email.message
import email.utils
import http.client
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import SecretStr

from aito import retrying
from aito.errors import ConfigError, PermanentAdapterError, TemporaryAdapterError
from aito.memory import embedding

SERVICE = "embeddings"

_RETRIED_STATUSES = frozenset({408, 425, 429})


class HttpEmbedder:
    """Embeds through ``POST {url}/embeddings``; see the module docstring for the format.

    ``timeout`` bounds connecting and each read, in seconds. A batch is tried up to
    ``attempts`` times, waiting ``backoff * 2**n`` seconds (or the server's
    ``Retry-After``) in between; a wait longer than ``max_wait`` is not slept here but
    raised at once, for the caller to schedule. ``batch_size`` texts go in one request.
    """

    def __init__(
        self,
        *,
        url: str,
        model: str,
        api_key: SecretStr | None = None,
        timeout: float = 30.0,
        batch_size: int = 64,
        attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(
                f"AITO_EMBEDDINGS_URL={url!r}: use an http(s) URL of the API base that "
                "serves POST /embeddings, e.g. https://api.openai.com/v1"
            )
        if batch_size < 1 or attempts < 1:
            raise ConfigError("HttpEmbedder: batch_size and attempts must be at least 1")
        self._endpoint = url.rstrip("/") + "/embeddings"
        self._model = model
        self._api_key = api_key
        self._timeout = timeout
        self._batch_size = batch_size
        # Waits: the server's Retry-After, else backoff * 2**n; a longer wait than
        # max_wait is not slept but raised at once, for the caller to schedule.
        self._retry = retrying.Policy(
            budget_seconds=None,
            attempts=attempts,
            base_delay=backoff,
            max_delay=float("inf"),
            jitter="none",
            honour="exact",
            max_wait=max_wait,
        )
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_RefuseRedirects())

    @property
    def dimension(self) -> int:
        return embedding.DIMENSION

    @property
    def model(self) -> str:
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            # OpenAI rejects an empty string; a single space says the same.
            batch = [text or " " for text in texts[start : start + self._batch_size]]
            vectors.extend(self._embed_batch(batch))
        return vectors

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        tries = 0

        def once() -> list[list[float]]:
            nonlocal tries
            tries += 1
            return self._post(batch)

        try:
            return retrying.call(
                once,
                policy=self._retry,
                retry_if=lambda exc: isinstance(exc, _Retryable),
                asked=lambda exc: exc.retry_after if isinstance(exc, _Retryable) else None,
                sleep=self._sleep,
                what="embeddings",
            )
        except _Retryable as exc:
            wait = (
                exc.retry_after if exc.retry_after is not None else self._retry.backoff(tries - 1)
            )
            gave_up = f"{tries} attempt{'s' if tries > 1 else ''}"
            raise TemporaryAdapterError(
                SERVICE, f"{exc} (gave up after {gave_up})", retry_after=wait
            ) from exc

    def _post(self, batch: list[str]) -> list[list[float]]:
        body = {"model": self._model, "input": batch, "dimensions": embedding.DIMENSION}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers["User-Agent"] = "aito"
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self._endpoint, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = self._detail(exc)
            if exc.code in _RETRIED_STATUSES or exc.code >= 500:
                raise _Retryable(
                    f"HTTP {exc.code} from {self._endpoint}{detail}", _retry_after(exc.headers)
                ) from exc
            raise PermanentAdapterError(SERVICE, self._refusal(exc, detail)) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise _Retryable(f"cannot reach {self._endpoint}: {reason}", None) from exc
        return self._vectors(payload, expected=len(batch))

    def _vectors(self, payload: bytes, *, expected: int) -> list[list[float]]:
        try:
            items = json.loads(payload)["data"]
            if not isinstance(items, list):
                raise TypeError("data is not a list")
            ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
            raw = [item["embedding"] for item in ordered]
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise PermanentAdapterError(
                SERVICE,
                f"{self._endpoint} did not answer with an OpenAI-style embeddings list "
                f'({{"data": [{{"embedding": [...], "index": 0}}]}}): {exc}',
            ) from exc
        if len(raw) != expected:
            raise PermanentAdapterError(
                SERVICE, f"{self._endpoint} returned {len(raw)} vectors for {expected} texts"
            )
        return [self._unit(vector) for vector in raw]

    def _unit(self, vector: Any) -> list[float]:
        if isinstance(vector, str):
            raise PermanentAdapterError(
                SERVICE, f"{self._endpoint} returned base64 vectors; AITO needs floats"
            )
        if not isinstance(vector, list) or not all(_is_number(x) for x in vector):
            raise PermanentAdapterError(
                SERVICE, f"{self._endpoint} returned an embedding that is not a list of numbers"
            )
        if len(vector) != embedding.DIMENSION:
            raise ConfigError(
                f"the embeddings endpoint {self._endpoint} (model {self._model!r}) returned "
                f"{len(vector)} dimensions, but AITO stores {embedding.DIMENSION}: set the "
                f"endpoint's dimensions to {embedding.DIMENSION} (AITO sends "
                f'"dimensions": {embedding.DIMENSION}, which this server ignored), choose a '
                f"{embedding.DIMENSION}-dimension model in AITO_EMBEDDINGS_MODEL, or set "
                "AITO_EMBEDDINGS=offline"
            )
        norm = math.hypot(*vector)
        if not math.isfinite(norm) or norm == 0.0:
            raise PermanentAdapterError(
                SERVICE, f"{self._endpoint} returned a zero or non-finite vector"
            )
        return [float(x) / norm for x in vector]

    def _detail(self, error: urllib.error.HTTPError) -> str:
        """The server's own error message, short, with the API key masked."""
        try:
            text = error.read(65536).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            return ""
        try:
            document = json.loads(text)
            message = document.get("error", document) if isinstance(document, dict) else text
            if isinstance(message, dict):
                message = message.get("message") or message.get("detail") or message
            text = str(message)
        except ValueError:
            pass
        if self._api_key is not None and self._api_key.get_secret_value():
            text = text.replace(self._api_key.get_secret_value(), "***")
        text = " ".join(text.split())
        return f": {text[:300]}" if text else ""

    def _refusal(self, error: urllib.error.HTTPError, detail: str) -> str:
        status = f"HTTP {error.code} from {self._endpoint}{detail}"
        if error.code in (401, 403):
            if self._api_key is None:
                return f"{status}; set AITO_EMBEDDINGS_API_KEY"
            return f"{status}; check AITO_EMBEDDINGS_API_KEY (the endpoint refused it)"
        if error.code == 404:
            return (
                f"{status}; check AITO_EMBEDDINGS_URL (the API base that serves POST "
                f"/embeddings, e.g. https://api.openai.com/v1) and AITO_EMBEDDINGS_MODEL"
            )
        if 300 <= error.code < 400:
            location = error.headers.get("Location", "elsewhere")
            return f"{status}: redirected to {location}; set AITO_EMBEDDINGS_URL to the final URL"
        return (
            f"{status}; the endpoint rejected the request (does model {self._model!r} "
            f"support {embedding.DIMENSION} dimensions?)"
        )


class _Retryable(Exception):
    """A failure worth another attempt, after ``retry_after`` seconds if the server said."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Turns a redirect into an HTTPError, so the API key never goes to another URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _retry_after(headers: email.message.Message | None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
