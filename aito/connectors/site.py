"""The site connector: is a website up — its status, latency and TLS certificate.

Certificates are verified the way the system verifies them (Python's default context:
the system's trust store, or `SSL_CERT_FILE`); a certificate that does not verify, or
expires soon, is a finding, not something to look past. Each figure is also a fact.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
import urllib.parse
from typing import Any

import httpx
from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from aito.connectors import fetching, tooling
from aito.errors import TemporaryAdapterError

READS = ToolAnnotations(read_only_hint=True)
TLS_TIMEOUT_SECONDS = 10.0


def server(allowed: list[str]) -> MCPServer:
    mcp = MCPServer("aito-site", instructions="Checks websites: status, latency, certificate.")

    @mcp.tool(annotations=READS)
    def check(url: str, warn_days: int = 14) -> dict[str, Any]:
        """A website's HTTP status and latency, and for https its certificate: who issued
        it, when it expires, in how many days, and whether it verifies. ``ok`` is false
        when the status is not 2xx/3xx, the certificate does not verify, or it expires
        within ``warn_days``."""
        with tooling.foreseen():
            host = fetching.check_url(url, allowed)
            parts = urllib.parse.urlsplit(url)
            problems: list[str] = []
            certificate: dict[str, Any] | None = None
            if parts.scheme == "https":
                certificate = _certificate(host, parts.port or 443)
                if certificate.get("error"):
                    problems.append(f"certificate: {certificate['error']}")
                elif certificate["days_left"] < warn_days:
                    problems.append(f"certificate expires in {certificate['days_left']} day(s)")
            status, latency_ms, final = _status(url, allowed)
            if status is None:
                problems.append("no answer")
            elif not 200 <= status < 400:
                problems.append(f"HTTP {status}")
            at = dt.datetime.now(dt.UTC).isoformat()
            facts = [
                {
                    "id": f"latency_ms.{host}",
                    "statement": f"{host} answered in (ms)",
                    "value": round(latency_ms, 1),
                    "source": url,
                    "at": at,
                }
            ]
            if status is not None:
                facts.append(
                    {
                        "id": f"status.{host}",
                        "statement": f"{host} HTTP status",
                        "value": status,
                        "source": url,
                        "at": at,
                    }
                )
            if certificate and "days_left" in certificate:
                facts.append(
                    {
                        "id": f"certificate_days_left.{host}",
                        "statement": f"days until {host}'s certificate expires",
                        "value": certificate["days_left"],
                        "source": url,
                        "at": at,
                    }
                )
            return {
                "url": url,
                "final_url": final,
                "status": status,
                "latency_ms": round(latency_ms, 1),
                "certificate": certificate,
                "ok": not problems,
                "problems": problems,
                "checked_at": at,
                "facts": facts,
            }

    return mcp


def _status(url: str, allowed: list[str]) -> tuple[int | None, float, str]:
    """(status, latency in ms, the final URL) of a GET, following allowed redirects."""
    started = time.perf_counter()
    with httpx.Client(
        timeout=fetching.TIMEOUT_SECONDS,
        follow_redirects=False,
        verify=ssl.create_default_context(),
        headers={"User-Agent": fetching.USER_AGENT},
    ) as client:
        try:
            fetched = fetching.fetch(url, allowed=allowed, client=client, max_bytes=5_000_000)
        except TemporaryAdapterError:
            return None, (time.perf_counter() - started) * 1000, url
    return fetched.status, fetched.elapsed_ms, fetched.url


def _certificate(host: str, port: int) -> dict[str, Any]:
    """The server's certificate as the default context verifies it (or why it does not)."""
    context = ssl.create_default_context()
    try:
        with (
            socket.create_connection((host, port), timeout=TLS_TIMEOUT_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            peer = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        return {"verified": False, "error": exc.verify_message or str(exc)}
    except (OSError, ssl.SSLError) as exc:
        return {"verified": False, "error": f"no TLS connection: {exc}"}
    if not peer:
        return {"verified": False, "error": "no certificate"}
    expires = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(str(peer["notAfter"])), dt.UTC)
    issuer: dict[str, str] = {}
    for rdn in peer.get("issuer", ()):
        for pair in rdn:
            if isinstance(pair, tuple) and len(pair) == 2:
                issuer[str(pair[0])] = str(pair[1])
    return {
        "verified": True,
        "issuer": str(issuer.get("organizationName") or issuer.get("commonName") or ""),
        "expires_at": expires.isoformat(),
        "days_left": (expires - dt.datetime.now(dt.UTC)).days,
    }
