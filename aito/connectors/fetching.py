"""HTTP for connectors: only to allowed hosts (each redirect checked too), bounded in size
and time, over httpx."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from aito.errors import PermanentAdapterError, PermissionDenied, TemporaryAdapterError
from aito.org.mcp_servers import host_allowed

DOMAINS_ENV = "AITO_MCP_DOMAINS"
MAX_BYTES = 2_000_000
TIMEOUT_SECONDS = 15.0
MAX_REDIRECTS = 5
USER_AGENT = "aito-connector (+https://github.com/aito)"


@dataclasses.dataclass(frozen=True)
class Fetched:
    url: str
    """Where the body came from (after redirects)."""
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: float
    at: dt.datetime

    def text(self) -> str:
        charset = httpx.Headers(dict(self.headers)).get("content-type", "")
        encoding = "utf-8"
        if "charset=" in charset:
            encoding = charset.split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
        try:
            return self.body.decode(encoding, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")


def allowed_hosts(environ: Mapping[str, str] | None = None) -> list[str]:
    """The hosts this connector may reach (``AITO_MCP_DOMAINS``)."""
    raw = (environ if environ is not None else os.environ).get(DOMAINS_ENV, "")
    return [part.strip().lower() for part in raw.split(",") if part.strip()]


def check_url(url: str, allowed: list[str]) -> str:
    """The URL's host, if it may be fetched; else PermissionDenied saying why."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise PermissionDenied(f"only http and https URLs are fetched, not {parts.scheme!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise PermissionDenied(f"{url!r} has no host")
    if not host_allowed(host, allowed):
        listed = ", ".join(allowed) or "none"
        raise PermissionDenied(
            f"{host} is not an allowed domain of this server (allowed: {listed}); "
            "a maintainer adds it to the server's `domains` in org.yaml"
        )
    return host


def fetch(
    url: str,
    *,
    allowed: list[str],
    max_bytes: int = MAX_BYTES,
    timeout_seconds: float = TIMEOUT_SECONDS,
    client: httpx.Client | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> Fetched:
    """GET ``url`` (and its redirects, each to an allowed host), at most ``max_bytes``.
    ``headers`` (a connector's key, say) go to the first host only, never to a redirect's."""
    owned = client is None
    http = client or httpx.Client(
        timeout=timeout_seconds, follow_redirects=False, headers={"User-Agent": USER_AGENT}
    )
    started = time.perf_counter()
    try:
        # the URL's own query is kept; ``params`` are added to it
        first = url if not params else str(httpx.URL(url).copy_merge_params(dict(params)))
        url = first
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, allowed)
            sent = dict(headers or {}) if _same_host(url, first) else {}
            with http.stream("GET", url, headers=sent) as response:
                if response.is_redirect and "location" in response.headers:
                    url = str(response.url.join(response.headers["location"]))
                    continue
                body = _read(response, max_bytes, url)
                return Fetched(
                    url=url,
                    status=response.status_code,
                    headers=dict(response.headers),
                    body=body,
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                    at=dt.datetime.now(dt.UTC),
                )
        raise PermanentAdapterError("web", f"more than {MAX_REDIRECTS} redirects from {url}")
    except httpx.TimeoutException as exc:
        raise TemporaryAdapterError("web", f"{url} did not answer in time: {exc}") from exc
    except httpx.HTTPError as exc:
        raise TemporaryAdapterError("web", f"{url} could not be fetched: {exc}") from exc
    finally:
        if owned:
            http.close()


def fetch_json(url: str, *, allowed: list[str], **options: Any) -> tuple[Any, Fetched]:
    """GET JSON: (the decoded body, what was fetched); an HTTP error or a body that is
    not JSON is an adapter error naming the URL."""
    fetched = fetch(url, allowed=allowed, **options)
    return decoded(fetched, fetched.url, empty=False), fetched


def send(
    method: str,
    url: str,
    *,
    allowed: list[str],
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> Fetched:
    """A JSON request (POST, PATCH, PUT, DELETE) to an allowed host, no redirect followed
    (a write goes where it was sent or nowhere): what came back, whatever its status (for
    a connector that reads the service's own error bodies). ``params`` are added to the
    URL's own query."""
    check_url(url, allowed)
    started = time.perf_counter()
    sent = {"User-Agent": USER_AGENT, **dict(headers or {})}
    target = str(httpx.URL(url).copy_merge_params(dict(params))) if params else url
    try:
        with (
            httpx.Client(timeout=timeout_seconds, follow_redirects=False) as http,
            http.stream(method, target, json=body, headers=sent) as response,
        ):
            raw = _read(response, max_bytes, url)
            return Fetched(
                url=str(response.url),
                status=response.status_code,
                headers=dict(response.headers),
                body=raw,
                elapsed_ms=(time.perf_counter() - started) * 1000,
                at=dt.datetime.now(dt.UTC),
            )
    except httpx.TimeoutException as exc:
        raise TemporaryAdapterError("web", f"{url} did not answer in time: {exc}") from exc
    except httpx.HTTPError as exc:
        raise TemporaryAdapterError("web", f"{url} could not be reached: {exc}") from exc


def send_json(
    method: str,
    url: str,
    *,
    allowed: list[str],
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> tuple[Any, Fetched]:
    """:func:`send`, its reply decoded: (the decoded reply, what came back); an HTTP error
    or a reply that is not JSON is an adapter error naming the URL. An empty reply decodes
    as None."""
    fetched = send(
        method,
        url,
        allowed=allowed,
        body=body,
        headers=headers,
        params=params,
        max_bytes=max_bytes,
        timeout_seconds=timeout_seconds,
    )
    return decoded(fetched, url, empty=True), fetched


def decoded(fetched: Fetched, url: str, *, empty: bool) -> Any:
    """The JSON a reply carries; an HTTP error (429 and 5xx temporary) or a body that is not
    JSON is an adapter error naming ``url``; an empty body is None when ``empty``."""
    if fetched.status >= 400:
        kind = (
            TemporaryAdapterError
            if fetched.status in (429, 500, 502, 503, 504)
            else PermanentAdapterError
        )
        raise kind("web", f"{url} answered HTTP {fetched.status}: {fetched.text()[:300]}")
    if empty and not fetched.body.strip():
        return None
    try:
        return json.loads(fetched.body)
    except ValueError as exc:
        raise PermanentAdapterError("web", f"{url} did not answer JSON: {exc}") from exc


def _same_host(url: str, other: str) -> bool:
    return urllib.parse.urlsplit(url).netloc == urllib.parse.urlsplit(other).netloc


def _read(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise PermanentAdapterError("web", f"{url} is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
