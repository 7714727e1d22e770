"""The fake GitHub's OAuth device flow and ``GET /user`` (registered by fake_github.py).

``POST /login/device/code`` (client_id, scope) answers a device code, a user code and
the verification address; ``POST /login/oauth/access_token`` answers
``authorization_pending`` until :func:`enter_code` says which user entered the code in
their browser (by that user's token), then that token, once. Unknown client ids and
device codes get GitHub's error answers (HTTP 200 with ``error``, as GitHub does).
``GET /user`` says who a token is.
"""

from __future__ import annotations

import secrets
import weakref

from support.fake_github import ANONYMOUS, ApiError, Context, FakeGitHub, Response, route

CLIENT_ID = "Iv1.dashboardtest"
_DEVICES: weakref.WeakKeyDictionary[FakeGitHub, dict[str, dict[str, str | None]]] = (
    weakref.WeakKeyDictionary()
)


def _devices(server: FakeGitHub) -> dict[str, dict[str, str | None]]:
    return _DEVICES.setdefault(server, {})


def enter_code(server: FakeGitHub, user_code: str, *, token: str) -> None:
    """The user whose token is ``token`` entered ``user_code`` at the verification page."""
    for device in _devices(server).values():
        if device["user_code"] == user_code:
            device["token"] = token
            return
    raise AssertionError(f"no device login with the code {user_code}")


@route("POST", "/login/device/code")
def device_code(server: FakeGitHub, ctx: Context) -> Response:
    form = ctx.body or {}
    if form.get("client_id") != CLIENT_ID:
        return 200, {"error": "invalid_client"}, {}
    code = secrets.token_hex(20)
    user_code = f"{secrets.token_hex(2).upper()}-{secrets.token_hex(2).upper()}"
    _devices(server)[code] = {"user_code": user_code, "token": None}
    return (
        200,
        {
            "device_code": code,
            "user_code": user_code,
            "verification_uri": f"{server.url}/login/device",
            "expires_in": 900,
            "interval": 5,
        },
        {},
    )


@route("POST", "/login/oauth/access_token")
def access_token(server: FakeGitHub, ctx: Context) -> Response:
    form = ctx.body or {}
    device = _devices(server).get(str(form.get("device_code")))
    if form.get("client_id") != CLIENT_ID:
        return 200, {"error": "incorrect_client_credentials"}, {}
    if device is None:
        return 200, {"error": "expired_token"}, {}
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code":
        return 200, {"error": "unsupported_grant_type"}, {}
    if device["token"] is None:
        return 200, {"error": "authorization_pending"}, {}
    del _devices(server)[str(form["device_code"])]
    return 200, {"access_token": device["token"], "token_type": "bearer", "scope": "repo"}, {}


@route("GET", "/user")
def user(server: FakeGitHub, ctx: Context) -> Response:
    if not ctx.user.id:
        raise ApiError(401, "Requires authentication")
    # GitHub's public-user shape: the simple user, and the profile fields (none filled)
    profile = {
        **server.user_json(ctx.user),
        "name": None, "company": None, "blog": "", "location": None, "email": None,
        "hireable": None, "bio": None, "public_repos": 0, "public_gists": 0,
        "followers": 0, "following": 0,
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
    }  # fmt: skip
    return 200, profile, {}


ANONYMOUS.update(("/login/device/code", "/login/oauth/access_token"))
