"""Maintainer sessions: who may write from the dashboard, and the proofs a write carries.

The dashboard reads without login. A write needs a session of one of org.yaml's
``maintainers`` (checked again at every write, against the organization as it is now):

- **local forge**: `aito dashboard --maintainer LOGIN` prints a one-time token bound to
  that one maintainer (named in org.yaml: their configured login and numeric id). The
  token opens one session, once; it is kept only as its SHA-256.
- **GitHub**: GitHub's OAuth device flow (:class:`DeviceFlow`). The user's token says
  who they are (``GET /user``); they get a session only if that numeric id is a
  maintainer's (a login or any other text from GitHub never widens who is one). Their
  writes go through a forge made with their token, so GitHub shows them as the author.

A session lives server-side (its GitHub token never leaves the process); the browser
holds a random session id, HMAC-signed with a key made at start, in a cookie that is
HttpOnly, SameSite=Strict and short-lived. Each session has its CSRF token, carried by
every form and checked on every POST.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from aito.errors import AitoError, ConfigError, PermissionDenied, TemporaryAdapterError
from aito.forge.base import Identity

COOKIE = "aito_session"
DEVICE_COOKIE = "aito_device"
SESSION_SECONDS = 3600
"""A session ends an hour after login (log in again: a new token, or the device flow)."""
DEVICE_SECONDS = 900
"""A device login not finished within 15 minutes is forgotten (GitHub's codes expire too)."""


@dataclasses.dataclass(frozen=True)
class Session:
    id: str
    maintainer: Identity
    csrf: str
    expires: float
    """time.time() when it ends."""
    token: SecretStr | None = None
    """The maintainer's own GitHub token (device flow); None on the local forge."""


@dataclasses.dataclass(frozen=True)
class DevicePending:
    id: str
    device_code: SecretStr
    user_code: str
    verification_uri: str
    interval: int
    expires: float


class Sessions:
    """Sessions, one-time login tokens and pending device logins of one dashboard process."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._key = secrets.token_bytes(32)
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._tokens: dict[str, Identity] = {}  # sha256 of a one-time token → its maintainer
        self._devices: dict[str, DevicePending] = {}

    # -- one-time tokens (the local forge) --------------------------------------------
    def one_time_token(self, maintainer: Identity) -> str:
        """A fresh token that opens one session as ``maintainer``, once."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[_digest(token)] = maintainer
        return token

    def redeem(self, token: str) -> Identity | None:
        """The maintainer a token was made for, the first time it is given; else None."""
        with self._lock:
            return self._tokens.pop(_digest(token), None)

    def token_is_live(self, token: str) -> Identity | None:
        """Whom a token would log in, without using it (the login page names them)."""
        with self._lock:
            return self._tokens.get(_digest(token))

    # -- sessions ------------------------------------------------------------------------
    def open(self, maintainer: Identity, *, token: SecretStr | None = None) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            maintainer=maintainer,
            csrf=secrets.token_urlsafe(32),
            expires=self._clock() + SESSION_SECONDS,
            token=token,
        )
        with self._lock:
            self._sessions[session.id] = session
        return session

    def close(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def cookie(self, session_id: str) -> str:
        """The cookie's value: the id and its signature."""
        return f"{session_id}.{self._sign(session_id)}"

    def find(self, cookie: str | None) -> Session | None:
        """The live session a cookie names (a forged, unknown or expired one: None)."""
        session_id = self._verified(cookie)
        if session_id is None:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
            if found is not None and found.expires <= self._clock():
                del self._sessions[session_id]
                return None
            return found

    # -- device logins (GitHub) ---------------------------------------------------------
    def hold_device(self, code: DeviceCode) -> DevicePending:
        pending = DevicePending(
            id=secrets.token_urlsafe(32),
            device_code=code.device_code,
            user_code=code.user_code,
            verification_uri=code.verification_uri,
            interval=code.interval,
            expires=self._clock() + min(code.expires_in, DEVICE_SECONDS),
        )
        with self._lock:
            self._devices[pending.id] = pending
        return pending

    def device(self, cookie: str | None) -> DevicePending | None:
        pending_id = self._verified(cookie)
        if pending_id is None:
            return None
        with self._lock:
            found = self._devices.get(pending_id)
            if found is not None and found.expires <= self._clock():
                del self._devices[pending_id]
                return None
            return found

    def drop_device(self, pending: DevicePending) -> None:
        with self._lock:
            self._devices.pop(pending.id, None)

    # -- proofs ---------------------------------------------------------------------------
    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(session.csrf.encode(), str(given).encode())

    def _sign(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def _verified(self, cookie: str | None) -> str | None:
        if not cookie or cookie.count(".") != 1:
            return None
        value, signature = cookie.split(".")
        if not hmac.compare_digest(self._sign(value).encode(), signature.encode()):
            return None
        return value


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def maintainer_by_login(maintainers: list[Identity], login: str) -> Identity:
    """The maintainer named ``login`` (ignoring case), with their configured login and id."""
    for person in maintainers:
        if person.login.lower() == login.lower():
            return person
    named = ", ".join(m.login for m in maintainers) or "none are listed"
    raise PermissionDenied(
        f"{login!r} is not a maintainer in org/org.yaml `maintainers` ({named}): only a "
        "maintainer may log in to the dashboard"
    )


def maintainer_by_id(maintainers: list[Identity], user_id: int) -> Identity | None:
    """The maintainer whose configured numeric id is ``user_id`` (the only proof taken)."""
    return next((m for m in maintainers if m.id == user_id), None)


# -- GitHub's OAuth device flow ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeviceCode:
    device_code: SecretStr
    user_code: str
    verification_uri: str
    interval: int
    expires_in: int


class DeviceLoginError(AitoError):
    """The device login failed for good (denied, expired, a bad client id)."""


class LoginRejected(AitoError):
    """GitHub no longer accepts a session's token as its maintainer's (revoked, expired):
    the session ends, and the maintainer logs in again."""


SCOPE = "repo"
"""What a maintainer's token may do: review, merge and close on the governance repo."""


class DeviceFlow:
    """GitHub's OAuth device flow for an OAuth App (or a GitHub App with it enabled):
    ``POST {web}/login/device/code``, then ``POST {web}/login/oauth/access_token`` until
    the user entered the code; ``GET {api}/user`` says who the token is."""

    def __init__(
        self, *, client_id: str, web_url: str, api_url: str, timeout: float = 15.0
    ) -> None:
        if not client_id.strip():
            raise ConfigError("AITO_DASHBOARD_GITHUB_CLIENT_ID is empty")
        self.client_id = client_id
        self.web_url, self.api_url = web_url.rstrip("/"), api_url.rstrip("/")
        self._timeout = timeout

    def start(self) -> DeviceCode:
        data = self._post("/login/device/code", {"client_id": self.client_id, "scope": SCOPE})
        try:
            uri = str(data["verification_uri"])
            if urllib.parse.urlsplit(uri).scheme not in ("https", "http"):
                raise ValueError(uri)
            return DeviceCode(
                device_code=SecretStr(str(data["device_code"])),
                user_code=str(data["user_code"])[:32],
                verification_uri=uri,
                interval=max(1, int(data.get("interval", 5))),
                expires_in=int(data.get("expires_in", DEVICE_SECONDS)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeviceLoginError(
                "GitHub did not start a device login: check AITO_DASHBOARD_GITHUB_CLIENT_ID "
                f"(an OAuth App's client id with the device flow enabled): {_said(data)}"
            ) from exc

    def poll(self, device_code: SecretStr) -> SecretStr | None:
        """The user's token once they entered the code; None while they have not."""
        data = self._post(
            "/login/oauth/access_token",
            {
                "client_id": self.client_id,
                "device_code": device_code.get_secret_value(),
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            },
        )
        if data.get("access_token"):
            return SecretStr(str(data["access_token"]))
        if data.get("error") in ("authorization_pending", "slow_down"):
            return None
        raise DeviceLoginError(f"GitHub refused the login: {_said(data)}; start again")

    def user(self, token: SecretStr) -> Identity:
        """Who the token is (GitHub's numeric id and login)."""
        try:
            response = httpx.get(
                f"{self.api_url}/user",
                headers={
                    "Authorization": f"token {token.get_secret_value()}",
                    "Accept": "application/vnd.github+json",
                },
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise TemporaryAdapterError(
                "github", f"GET /user failed: {type(exc).__name__}"
            ) from exc
        if response.status_code != 200:
            raise DeviceLoginError(
                f"GitHub did not say who the token is (HTTP {response.status_code})"
            )
        data = response.json()
        return Identity(str(data["login"]), int(data["id"]))

    def _post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            response = httpx.post(
                f"{self.web_url}{path}",
                data=form,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise TemporaryAdapterError(
                "github", f"POST {path} failed: {type(exc).__name__}"
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 500:
            raise TemporaryAdapterError("github", f"POST {path}: HTTP {response.status_code}")
        if not isinstance(data, dict) or (response.status_code != 200 and "error" not in data):
            raise DeviceLoginError(f"POST {path}: HTTP {response.status_code}")
        return data


def _said(data: dict[str, Any]) -> str:
    """GitHub's error code, short (its description may quote our request: no secret there)."""
    return str(data.get("error") or "no answer")[:80]
