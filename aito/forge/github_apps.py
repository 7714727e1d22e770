"""Tokens for GitHubForge: a static token, or installation tokens a GitHub App mints.

Each bot is a GitHub App. :class:`InstallationTokens` holds one App's id and private
key and the repository it acts on; it asks GitHub (PyGithub's App authentication: an
RS256 JWT signed with the key) for the App's installation on that repository, mints an
installation token (valid one hour) and keeps it until ``refresh_before`` (5 minutes)
before it expires, so a long run never sends an expired token. It is thread-safe: one
mint at a time, every other caller waits for it and shares the token. :class:`StaticToken`
is the alternative (``AITO_GITHUB_TOKEN``, ``AITO_GITHUB_TOKEN_<AGENT>``: a personal access
token, tests).

:func:`check_permissions` is the preflight: it mints (or reuses) the token and compares
the permissions GitHub granted it with those the work needs, so a run fails before the
model is called, naming the missing permission.

Tokens and keys are held as ``SecretStr`` and never logged or put in a message; the
PyGithub client reads the current token per request through :class:`SourceAuth`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

import jwt
from github import Auth, GithubException, GithubIntegration
from pydantic import SecretStr

from aito import errors, retrying

T = TypeVar("T")
log = logging.getLogger(__name__)
SERVICE = "github"
REFRESH_BEFORE = dt.timedelta(minutes=5)
"""A cached installation token is replaced this long before GitHub's ``expires_at``, so
no request of a run (a tally, a wake-up) is sent with a token about to lapse."""
_LEVELS = ("read", "write")
_MINT_RETRY = retrying.Policy(budget_seconds=30.0, base_delay=0.5, max_delay=5.0, attempts=4)
"""A 5xx, a rate limit or a dropped connection while minting is tried again (within 30 s)."""


class TokenSource(Protocol):
    """Where a GitHubForge account gets its token; ``description`` names it in messages
    (a secret's name, never its value)."""

    @property
    def description(self) -> str: ...

    def token(self) -> SecretStr: ...


@dataclasses.dataclass(frozen=True)
class StaticToken:
    """A token that does not change (a personal access token, or one a test registered)."""

    value: SecretStr
    description: str = "the governance token"

    def token(self) -> SecretStr:
        return self.value


@dataclasses.dataclass(frozen=True)
class Minted:
    """One installation token, what GitHub granted it, and when it lapses."""

    token: SecretStr
    expires_at: dt.datetime
    permissions: Mapping[str, str]


class InstallationTokens:
    """Installation tokens of the App ``app_id`` for its installation on ``repo``.

    ``id_name`` and ``key_name`` are the variable and secret the id and key came from
    (e.g. ``AITO_APP_ID_CMO``, ``AITO_APP_KEY_CMO``): messages name them. ``clock`` is
    injectable (tests move it past the refresh point).
    """

    def __init__(
        self,
        *,
        app_id: int,
        private_key: SecretStr,
        repo: str,
        api_url: str,
        id_name: str,
        key_name: str,
        clock: Callable[[], dt.datetime] | None = None,
        refresh_before: dt.timedelta = REFRESH_BEFORE,
        timeout: int = 15,
    ) -> None:
        self.app_id, self.repo = app_id, repo
        self.id_name, self.key_name = id_name, key_name
        self._key, self._api_url, self._timeout = private_key, api_url, timeout
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._refresh_before = refresh_before
        self._lock = threading.Lock()
        self._minted: Minted | None = None
        self._installation: int | None = None
        self.mints = 0  # how many tokens were minted (for tests and benchmarks)

    @property
    def description(self) -> str:
        return f"the installation token of the GitHub App {self.id_name}={self.app_id}"

    def token(self) -> SecretStr:
        return self.current().token

    def current(self) -> Minted:
        """The cached token, or a new one when none is cached or it lapses within
        ``refresh_before``."""
        with self._lock:
            minted = self._minted
            if minted is None or minted.expires_at - self._refresh_before <= self._clock():
                minted = self._minted = retrying.call(
                    self._mint, policy=_MINT_RETRY, what=f"mint a token of App {self.app_id}"
                )
            return minted

    def _mint(self) -> Minted:
        owner, _, name = self.repo.partition("/")
        try:
            auth = Auth.AppAuth(self.app_id, _pem(self._key))
            auth.create_jwt()  # a key that is not an RSA private key fails here
        except (ValueError, TypeError, AssertionError, jwt.PyJWTError) as exc:
            raise errors.ConfigError(
                f"{self.key_name} is not the PEM private key of a GitHub App (the .pem file "
                "GitHub downloads: -----BEGIN RSA PRIVATE KEY----- …)"
            ) from exc  # the underlying message may quote the key: not kept
        integration = GithubIntegration(
            auth=auth,
            base_url=self._api_url,
            timeout=self._timeout,
            retry=None,
            seconds_between_requests=None,  # two requests an hour: nothing to pace
            seconds_between_writes=None,
        )
        try:
            installation = self._installation
            if installation is None:
                found = self._call(
                    "find its installation", lambda: integration.get_repo_installation(owner, name)
                )
                installation = self._installation = found.id
            granted = self._call(
                "mint an installation token", lambda: integration.get_access_token(installation)
            )
            minted = Minted(
                SecretStr(granted.token), granted.expires_at, dict(granted.permissions or {})
            )
        finally:
            integration.close()
        self.mints += 1
        log.info(
            "minted an installation token of App %s on %s (expires %s)",
            self.app_id,
            self.repo,
            minted.expires_at.isoformat(),
        )
        return minted

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        where = f"GitHub App {self.id_name}={self.app_id}: {what} on {self.repo}"
        try:
            return fn()
        except GithubException as exc:
            if exc.status == 404:
                raise errors.ConfigError(
                    f"{where}: the App is not installed on {self.repo}; install it there "
                    "(the App's page → Install App → choose the repository)"
                ) from None
            if exc.status == 401:
                raise errors.ConfigError(
                    f"{where}: GitHub refused the App's key (401); check that {self.key_name} "
                    f"is a current private key of the App whose id is {self.id_name}"
                ) from None
            if exc.status >= 500 or exc.status in (403, 429):
                raise errors.TemporaryAdapterError(
                    SERVICE, f"{where}: GitHub answered {exc.status}", retry_after=1.0
                ) from None
            raise errors.PermanentAdapterError(
                SERVICE, f"{where}: GitHub refused ({exc.status})"
            ) from None
        except OSError as exc:
            raise errors.TemporaryAdapterError(
                SERVICE, f"{where}: {type(exc).__name__}", retry_after=1.0
            ) from None


def check_permissions(source: TokenSource, required: Mapping[str, str], *, purpose: str) -> None:
    """Raise a ConfigError naming each permission ``required`` (name → ``read``/``write``)
    that ``source``'s token lacks (mints it when none is cached). A static token is not
    checked: GitHub does not say what a personal access token may do."""
    if not isinstance(source, InstallationTokens):
        return
    granted = source.current().permissions
    missing = [
        f"{name}: {level}"
        for name, level in sorted(required.items())
        if granted.get(name) not in _LEVELS[_LEVELS.index(level) :]
    ]
    if missing:
        raise errors.ConfigError(
            f"{source.description} lacks the permission{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} that {purpose} needs; grant "
            f"{'them' if len(missing) > 1 else 'it'} in the App's settings (Permissions & "
            "events) and accept the new permissions on the installation"
        )


class SourceAuth(Auth.Auth):
    """PyGithub authentication that asks ``source`` for the token on every request (so a
    refreshed installation token is used as soon as it is minted)."""

    def __init__(self, source: TokenSource) -> None:
        self._source = source

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._source.token().get_secret_value()

    @property
    def _masked_token(self) -> str:
        return "token (oauth token removed)"  # as PyGithub masks its own tokens


class RedactTokens(logging.Filter):
    """Removes tokens from PyGithub's DEBUG log of responses: the body of a minted
    installation token (``"token": "ghs_…"``) would otherwise be logged whole."""

    _TOKEN = re.compile(r"""(["']token["']\s*:\s*["'])[^"']*(["'])""")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            text = record.getMessage()
            redacted = self._TOKEN.sub(r"\1(token removed)\2", text)
            if redacted != text:
                record.msg, record.args = redacted, ()
        return True


def _install_redaction() -> None:
    """Once per process, on PyGithub's request logger (a filter on the logger itself
    applies to every record it makes, whatever handler a user configures)."""
    requester_log = logging.getLogger("github.Requester")
    if not any(isinstance(f, RedactTokens) for f in requester_log.filters):
        requester_log.addFilter(RedactTokens())


_install_redaction()


def _pem(key: SecretStr) -> str:
    """The key as PEM text; a key stored with literal ``\\n`` (one line) is unfolded."""
    text = key.get_secret_value().strip()
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    return text + "\n"
