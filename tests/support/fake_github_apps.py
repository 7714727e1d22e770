"""GitHub Apps on the fake GitHub: Apps, their installations and installation tokens.

``gh.add_app(slug, permissions=…)`` makes an App with a generated RSA key and its bot
account (``<slug>[bot]``, type ``Bot``, a numeric id of its own); ``gh.install_app(app,
owner, repos)`` installs it on some (or, with None, all) repositories of ``owner`` and
returns the installation id.

Authentication is GitHub's (docs: "Authenticating as a GitHub App"):

- App endpoints (``/app…``, ``/repos/{owner}/{repo}/installation``,
  ``/orgs/{org}/installation``) take ``Authorization: Bearer <JWT>``: an RS256 JWT whose
  ``iss`` is the App id, verified against the App's public key, with ``iat`` not in the
  future (60 s of clock drift allowed), ``exp`` not passed and at most 10 minutes ahead.
  Anything else there gets 401 "A JSON web token could not be decoded"; a JWT anywhere
  else gets 403.
- ``POST /app/installations/{id}/access_tokens`` mints an installation token (``ghs_…``,
  valid one hour), optionally narrowed to some repositories and permissions (never
  widened: 422). The token authenticates as the App's bot; it sees only the
  installation's repositories (404 for the others, as GitHub hides them) and a request
  needing a permission the token lacks gets 403 "Resource not accessible by integration".
  An expired token gets 401 "Bad credentials".

Which permission a repository endpoint needs is :func:`needed_permission` (GitHub's
"Permissions required for GitHub Apps" table, for the endpoints the fake serves): a read
needs that permission at ``read`` or ``write``, any other method at ``write``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import threading
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from support.fake_github import (
    AUTHENTICATORS,
    GUARDS,
    ApiError,
    Context,
    FakeGitHub,
    Json,
    Response,
    User,
    _iso,
    _node_id,
    _not_found,
    _now,
    route,
)

TOKEN_LIFETIME = dt.timedelta(hours=1)  # GitHub's installation tokens live one hour
MAX_JWT_LIFETIME = 600  # seconds: GitHub refuses an exp further than 10 minutes ahead
CLOCK_DRIFT = 60  # seconds GitHub tolerates for iat in the future
NOT_ACCESSIBLE = "Resource not accessible by integration"


def is_app_endpoint(template: str) -> bool:
    """An endpoint only an App's JWT may call: ``/app…`` and ``…/installation`` (of a
    repository, an organization or a user), as GitHub's "Apps" reference lists them."""
    return template == "/app" or template.startswith("/app/") or template.endswith("/installation")


_REQUEST = threading.local()  # the token of the request being handled (handlers run in its thread)


@dataclasses.dataclass(frozen=True)
class FakeApp:
    """A GitHub App: its numeric id, slug, bot account and private key (PEM)."""

    id: int
    slug: str
    bot: User
    private_key_pem: str
    permissions: dict[str, str]
    events: list[str]
    owner: User
    created_at: dt.datetime
    public_key: Any  # cryptography's RSAPublicKey, for verifying the App's JWTs


@dataclasses.dataclass
class Installation:
    id: int
    app: FakeApp
    account: User
    repos: list[str] | None  # full names; None: every repository of the account
    created_at: dt.datetime

    def covers(self, gh: FakeGitHub, full_name: str) -> bool:
        owner = full_name.split("/")[0]
        if owner != self.account.login or full_name not in gh.repos:
            return False
        return self.repos is None or full_name in self.repos


@dataclasses.dataclass(frozen=True)
class InstallationToken:
    installation: Installation
    permissions: dict[str, str]
    repos: list[str] | None  # narrowed at minting; None: the installation's
    expires_at: dt.datetime


@dataclasses.dataclass
class AppState:
    apps: dict[int, FakeApp] = dataclasses.field(default_factory=dict)
    installations: dict[int, Installation] = dataclasses.field(default_factory=dict)
    tokens: dict[str, InstallationToken] = dataclasses.field(default_factory=dict)
    minted: int = 0  # installation tokens minted, for tests of caching


def app_state(gh: FakeGitHub) -> AppState:
    state: AppState | None = getattr(gh, "app_state", None)
    if state is None:
        with gh.lock:
            state = gh.__dict__.setdefault("app_state", AppState())
    assert state is not None
    return state


def add_app(
    gh: FakeGitHub,
    slug: str,
    *,
    permissions: dict[str, str],
    events: list[str] | None = None,
    owner: str = "aito-maintainer",
    bot_id: int | None = None,
) -> FakeApp:
    """Register an App (and its bot account) with ``permissions`` (e.g. ``{"contents":
    "write"}``; ``metadata: read`` is added, as GitHub always grants it). ``bot_id``
    gives the bot a known id (as an org.yaml records it); default: a new one."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # what GitHub's .pem download holds
        serialization.NoEncryption(),
    ).decode()
    bot = User(f"{slug}[bot]", bot_id or gh.next_id(), "Bot")
    app = FakeApp(
        id=gh.next_id(),
        slug=slug,
        bot=bot,
        private_key_pem=pem,
        permissions={"metadata": "read", **permissions},
        events=list(events or []),
        owner=gh.users.get(owner) or User(owner, gh.next_id(), "User"),
        created_at=_now(),
        public_key=key.public_key(),
    )
    with gh.lock:
        gh.users[bot.login] = bot
        app_state(gh).apps[app.id] = app
    return app


def install_app(gh: FakeGitHub, app: FakeApp, owner: str, repos: list[str] | None = None) -> int:
    """Install ``app`` on ``repos`` (names, with or without ``owner/``) of ``owner``, or on
    all its repositories (None, also those created later); the installation id."""
    chosen = None if repos is None else [r if "/" in r else f"{owner}/{r}" for r in repos]
    account = next((r.owner for n, r in gh.repos.items() if n.startswith(f"{owner}/")), None)
    installation = Installation(
        gh.next_id(),
        app,
        account or gh.users.get(owner) or User(owner, gh.next_id(), "Organization"),
        chosen,
        _now(),
    )
    with gh.lock:
        app_state(gh).installations[installation.id] = installation
    return installation.id


FakeGitHub.add_app = add_app  # type: ignore[attr-defined]
FakeGitHub.install_app = install_app  # type: ignore[attr-defined]


# -- authentication -------------------------------------------------------------------
def _authenticate(gh: FakeGitHub, token: str) -> User | None:
    """An App's JWT (the App, as a caller of type ``App``) or an installation token (the
    App's bot); None for other tokens."""
    state = app_state(gh)
    if token.count(".") == 2:
        return _verify_jwt(state, token)
    minted = state.tokens.get(token)
    if minted is None:
        return None
    if minted.expires_at <= _now():
        raise ApiError(401, "Bad credentials")
    return minted.installation.app.bot


def _verify_jwt(state: AppState, token: str) -> User:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        app = state.apps.get(int(claims.get("iss")))
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise ApiError(401, "A JSON web token could not be decoded") from exc
    if app is None:
        raise ApiError(401, "Integration not found")
    try:
        claims = jwt.decode(
            token,
            app.public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"]},
            leeway=CLOCK_DRIFT,
        )
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the "
            "future time at which the assertion expires",
        ) from exc
    except jwt.PyJWTError as exc:
        raise ApiError(401, "A JSON web token could not be decoded") from exc
    now = time.time()
    if claims["exp"] - now > MAX_JWT_LIFETIME:
        raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
    if claims["iat"] > now + CLOCK_DRIFT:
        raise ApiError(401, "'Issued at' claim ('iat') must be an Integer representing the time")
    return User(app.slug, app.id, "App")


def needed_permission(method: str, template: str) -> tuple[str, ...]:
    """The App permissions any one of which lets an installation token call ``template``
    (a comment or label on a pull request is allowed by ``issues`` or ``pull_requests``)."""
    rest = template.removeprefix("/repos/{owner}/{repo}")
    if rest == "" or rest.startswith(("/collaborators", "/installation")):
        return ("metadata",)
    if rest.startswith("/statuses") or rest.endswith("/statuses"):
        return ("statuses",)
    if rest.startswith(("/git/", "/contents", "/commits", "/branches", "/compare", "/dispatches")):
        return ("contents",)
    if rest.endswith("/merge"):
        return ("contents",)
    if rest.startswith("/pulls"):
        return ("pull_requests",)
    if method == "POST" and rest == "/issues":
        return ("issues",)
    if rest.startswith(("/issues", "/labels")):
        return ("issues", "pull_requests")
    if rest.startswith("/actions"):
        return ("actions",)
    return ("administration",)


def _guard(gh: FakeGitHub, token: str, c: Context) -> None:
    """App endpoints need the App's JWT; an installation token reaches only its repos,
    with its permissions."""
    _REQUEST.token = token
    is_app = c.user.type == "App"
    if is_app_endpoint(c.template):
        if not is_app:
            raise ApiError(401, "A JSON web token could not be decoded")
        return
    if is_app:
        raise ApiError(403, NOT_ACCESSIBLE)
    minted = app_state(gh).tokens.get(token)
    if minted is None or c.repo is None:
        return
    allowed = minted.repos if minted.repos is not None else None
    if not minted.installation.covers(gh, c.repo.full_name) or (
        allowed is not None and c.repo.full_name not in allowed
    ):
        raise _not_found()
    levels = ("read", "write") if c.method == "GET" else ("write",)
    needed = needed_permission(c.method, c.template)
    if not any(minted.permissions.get(p) in levels for p in needed):
        raise ApiError(403, NOT_ACCESSIBLE)


AUTHENTICATORS.append(_authenticate)
GUARDS.append(_guard)


# -- payloads -------------------------------------------------------------------------
def app_json(gh: FakeGitHub, app: FakeApp) -> Json:
    installs = sum(1 for i in app_state(gh).installations.values() if i.app is app)
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": _node_id("Integration", app.id),
        "client_id": f"Iv1.{app.id:016x}",
        "owner": gh.user_json(app.owner),
        "name": app.slug,
        "description": None,
        "external_url": f"{gh.url}/apps/{app.slug}",
        "html_url": f"{gh.url}/apps/{app.slug}",
        "created_at": _iso(app.created_at),
        "updated_at": _iso(app.created_at),
        "permissions": dict(app.permissions),
        "events": list(app.events),
        "installations_count": installs,
    }


def installation_json(gh: FakeGitHub, installation: Installation) -> Json:
    app, account = installation.app, installation.account
    # The description reads an account as Simple User *and* Enterprise (allOf), so it
    # carries the enterprise fields too (name, slug, dates), as GitHub's examples do.
    created = _iso(installation.created_at)
    enterprise = {"name": account.login, "slug": account.login, "created_at": created}
    return {
        "id": installation.id,
        "account": gh.user_json(account) | enterprise | {"updated_at": created},
        "repository_selection": "all" if installation.repos is None else "selected",
        "access_tokens_url": f"{gh.url}/app/installations/{installation.id}/access_tokens",
        "repositories_url": f"{gh.url}/installation/repositories",
        "html_url": f"{gh.url}/organizations/{account.login}/settings/installations/"
        f"{installation.id}",
        "app_id": app.id,
        "client_id": f"Iv1.{app.id:016x}",
        "app_slug": app.slug,
        "target_id": account.id,
        "target_type": account.type,
        "permissions": dict(app.permissions),
        "events": list(app.events),
        "created_at": _iso(installation.created_at),
        "updated_at": _iso(installation.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def _calling_app(gh: FakeGitHub, c: Context) -> FakeApp:
    return app_state(gh).apps[c.user.id]


def _installation_for(gh: FakeGitHub, app: FakeApp, full_name: str) -> Installation | None:
    return next(
        (
            i
            for i in app_state(gh).installations.values()
            if i.app is app and i.covers(gh, full_name)
        ),
        None,
    )


# -- endpoints ------------------------------------------------------------------------
@route("GET", "/app")
def _get_app(gh: FakeGitHub, c: Context) -> Response:
    return 200, app_json(gh, _calling_app(gh, c)), {}


@route("GET", "/app/installations")
def _list_installations(gh: FakeGitHub, c: Context) -> Response:
    app = _calling_app(gh, c)
    found = [i for i in app_state(gh).installations.values() if i.app is app]
    return gh.page(c, [installation_json(gh, i) for i in found])


@route("GET", "/repos/{owner}/{repo}/installation")
def _get_repo_installation(gh: FakeGitHub, c: Context) -> Response:
    assert c.repo is not None
    installation = _installation_for(gh, _calling_app(gh, c), c.repo.full_name)
    if installation is None:
        raise _not_found()
    return 200, installation_json(gh, installation), {}


@route("GET", "/orgs/{org}/installation")
def _get_org_installation(gh: FakeGitHub, c: Context) -> Response:
    app = _calling_app(gh, c)
    installation = next(
        (
            i
            for i in app_state(gh).installations.values()
            if i.app is app and i.account.login == c.params["org"]
        ),
        None,
    )
    if installation is None:
        raise _not_found()
    return 200, installation_json(gh, installation), {}


@route("POST", "/app/installations/{installation_id}/access_tokens")
def _create_token(gh: FakeGitHub, c: Context) -> Response:
    """A token for the installation, narrowed (never widened) by the body's
    ``repositories`` and ``permissions``."""
    state, body = app_state(gh), c.body or {}
    installation = state.installations.get(int(c.params["installation_id"]))
    if installation is None or installation.app is not _calling_app(gh, c):
        raise _not_found()
    granted = installation.app.permissions
    asked = body.get("permissions") or {}
    order = ("read", "write")
    if not isinstance(asked, dict) or any(
        granted.get(k) not in order or v not in order or order.index(v) > order.index(granted[k])
        for k, v in asked.items()
    ):
        raise ApiError(422, "The permissions requested are not granted to this installation.")
    permissions = dict(asked) if asked else dict(granted)
    names = body.get("repositories")
    repos: list[str] | None = None
    if names is not None:
        owner = installation.account.login
        repos = [f"{owner}/{name}" for name in names]
        if not all(installation.covers(gh, full) for full in repos):
            raise ApiError(
                422,
                "There is at least one repository that does not exist or is not "
                "accessible to the parent installation.",
            )
    token = "ghs_" + secrets.token_urlsafe(27)
    expires = _now() + TOKEN_LIFETIME
    with gh.lock:
        state.tokens[token] = InstallationToken(installation, permissions, repos, expires)
        state.minted += 1
    data: dict[str, Json] = {
        "token": token,
        "expires_at": _iso(expires),
        "permissions": permissions,
        "repository_selection": "selected"
        if repos is not None or installation.repos is not None
        else "all",
    }
    if repos is not None:
        data["repositories"] = [gh.repo_json(gh.repos[full]) for full in repos]
    return 201, data, {}


@route("GET", "/installation/repositories")
def _list_installation_repositories(gh: FakeGitHub, c: Context) -> Response:
    token = app_state(gh).tokens.get(getattr(_REQUEST, "token", ""))
    if token is None:
        raise ApiError(403, "This endpoint requires you to be authenticated as an installation.")
    installation = token.installation
    names = sorted(
        name
        for name in gh.repos
        if installation.covers(gh, name) and (token.repos is None or name in token.repos)
    )
    status, page, headers = gh.page(c, [gh.repo_json(gh.repos[name]) for name in names])
    selection = "all" if installation.repos is None else "selected"
    body = {"total_count": len(names), "repositories": page, "repository_selection": selection}
    return status, body, headers


@route("GET", "/users/{username}")
def _get_user(gh: FakeGitHub, c: Context) -> Response:
    user = gh.users.get(c.params["username"])
    if user is None:
        raise _not_found()
    created = _iso(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    public = {
        "name": None,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": created,
        "updated_at": created,
    }
    return 200, gh.user_json(user) | public, {}
