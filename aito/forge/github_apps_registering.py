"""After the manifest flow: an App's id, slug, private key and its bot account's id.

``POST /app-manifests/{code}/conversions`` (no authentication: the one-hour code is the
credential) returns the new App's id, slug and PEM private key; the bot account that
acts for the App is the user ``<slug>[bot]``, whose numeric id comes from
``GET /users/<slug>[bot]`` (votes are matched on that id). The key is handed back as a
:class:`SecretStr` and never logged; the conversion's client and webhook secrets are
dropped (AITO uses neither).
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from typing import Any

import github
from github import Auth, GithubException
from pydantic import SecretStr

from aito import errors
from aito.forge import github_calling

SERVICE = "github"
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,33})")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")


@dataclasses.dataclass(frozen=True)
class CreatedApp:
    """What the manifest flow's code exchange returns (the key is never shown)."""

    app_id: int
    slug: str
    private_key: SecretStr | None = dataclasses.field(repr=False, default=None)


def bot_login(slug: str) -> str:
    return f"{slug}[bot]"


def check_slug(slug: str) -> str:
    """``slug`` if it can be a GitHub App's slug; a ConfigError otherwise."""
    slug = slug.removesuffix("[bot]")
    if not _SLUG.fullmatch(slug):
        raise errors.ConfigError(
            f"{slug[:40]!r} is not a GitHub App slug (lower-case letters, digits and -, at "
            "most 34; it is the App's page name: github.com/apps/<slug>)"
        )
    return slug


def _client(api_url: str, token: SecretStr | None) -> github.Github:
    auth = Auth.Token(token.get_secret_value()) if token else None
    return github.Github(
        auth=auth, base_url=api_url, timeout=30, retry=None, seconds_between_requests=None
    )


def _request(client: github.Github, verb: str, path: str, what: str) -> Any:
    try:
        _, data = client.requester.requestJsonAndCheck(verb, path)
    except GithubException as exc:
        message = github_calling.error_message(exc)
        if exc.status == 404:
            raise errors.PermanentAdapterError(SERVICE, f"{what}: not found (404)") from exc
        raise errors.PermanentAdapterError(
            SERVICE, f"{what}: GitHub answered {exc.status} ({message})"
        ) from exc
    except OSError as exc:
        raise errors.TemporaryAdapterError(SERVICE, f"{what}: {type(exc).__name__}") from exc
    return data


def bot_account(api_url: str, slug: str, *, token: SecretStr | None = None) -> tuple[str, int]:
    """The login and numeric id of App ``slug``'s bot account."""
    login = bot_login(check_slug(slug))
    path = f"/users/{urllib.parse.quote(login)}"
    data = _request(
        _client(api_url, token), "GET", path, f"looking up {login} (is the App created?)"
    )
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise errors.PermanentAdapterError(SERVICE, f"GET {path}: no numeric id in the answer")
    return str(data.get("login") or login), int(data["id"])


def convert_code(api_url: str, code: str) -> CreatedApp:
    """Exchange the manifest flow's ``code`` for the App's id, slug and private key.

    A code works once, for an hour (a second exchange gets 404), so the caller saves
    the key before anything else can fail; :func:`bot_account` then finds the bot.
    """
    if not _CODE.fullmatch(code):
        raise errors.ConfigError(
            "the code is the value after `code=` in the address GitHub "
            "sent you to (letters, digits, - and _)"
        )
    data = _request(
        _client(api_url, None),
        "POST",
        f"/app-manifests/{code}/conversions",
        "exchanging the manifest code (codes work once, for one hour; create the App again "
        "or use --slug if it exists)",
    )
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise errors.PermanentAdapterError(SERVICE, "the conversion answer has no App id")
    pem = data.get("pem")
    return CreatedApp(
        app_id=int(data["id"]),
        slug=check_slug(str(data.get("slug") or "")),
        private_key=SecretStr(pem) if isinstance(pem, str) and pem else None,
    )
