"""The fake GitHub's Apps authenticate as GitHub's do: JWTs checked, tokens scoped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator

import github
import jwt
import pytest
from github import Auth, GithubIntegration
from support.fake_github import FakeGitHub, start_fake_github
from support.fake_github_apps import FakeApp, app_state


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={})
    fake.create_repo("acme/governance")
    fake.create_repo("acme/marketing")
    try:
        yield fake
    finally:
        fake.stop()


def _jwt(app: FakeApp, *, issued: float, expires: float, key: str | None = None) -> str:
    claims = {"iat": int(issued), "exp": int(expires), "iss": str(app.id)}
    return jwt.encode(claims, key or app.private_key_pem, algorithm="RS256")


def _status(server: FakeGitHub, method: str, path: str, token: str, scheme: str = "Bearer") -> int:
    status, _, _, _ = server.handle(method, path, f"{scheme} {token}", b"")
    return status


def test_an_app_is_known_by_its_jwt_only_when_github_would_accept_it(server: FakeGitHub) -> None:
    app = server.add_app("acme-cmo", permissions={"contents": "write"})  # type: ignore[attr-defined]
    other = server.add_app("acme-cto", permissions={})  # type: ignore[attr-defined]
    now = time.time()
    assert _status(server, "GET", "/app", _jwt(app, issued=now - 60, expires=now + 540)) == 200
    assert _status(server, "GET", "/app", _jwt(app, issued=now - 60, expires=now + 3600)) == 401
    assert _status(server, "GET", "/app", _jwt(app, issued=now - 900, expires=now - 300)) == 401
    forged = _jwt(app, issued=now, expires=now + 300, key=other.private_key_pem)
    assert _status(server, "GET", "/app", forged) == 401
    # a JWT is no key to a repository
    good = _jwt(app, issued=now, expires=now + 300)
    assert _status(server, "GET", "/repos/acme/governance", good) == 403


def test_an_installation_token_reaches_only_its_repos_until_it_expires(
    server: FakeGitHub,
) -> None:
    app = server.add_app("acme-cmo", permissions={"contents": "write", "issues": "write"})  # type: ignore[attr-defined]
    installation = server.install_app(app, "acme", ["governance"])  # type: ignore[attr-defined]
    integration = GithubIntegration(
        auth=Auth.AppAuth(app.id, app.private_key_pem), base_url=server.url
    )
    minted = integration.get_access_token(installation)
    assert minted.expires_at - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=59)
    client = github.Github(auth=Auth.Token(minted.token), base_url=server.url, retry=None)
    issue = client.get_repo("acme/governance").create_issue(title="hello")
    assert (issue.user.login, issue.user.type, issue.user.id) == (
        "acme-cmo[bot]",
        "Bot",
        app.bot.id,
    )
    assert _status(server, "GET", "/repos/acme/marketing", minted.token, "token") == 404
    assert _status(server, "GET", "/repos/acme/governance", minted.token, "token") == 200

    state = app_state(server)
    old = state.tokens[minted.token]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    state.tokens[minted.token] = dataclasses.replace(old, expires_at=past)
    assert _status(server, "GET", "/repos/acme/governance", minted.token, "token") == 401
    client.close()
    integration.close()


def test_an_app_on_all_repos_of_an_owner_and_a_token_narrowed_to_one(
    server: FakeGitHub,
) -> None:
    app = server.add_app("acme-dao", permissions={"pull_requests": "write"})  # type: ignore[attr-defined]
    installation = server.install_app(app, "acme")  # type: ignore[attr-defined]
    integration = GithubIntegration(
        auth=Auth.AppAuth(app.id, app.private_key_pem), base_url=server.url
    )
    assert integration.get_repo_installation("acme", "marketing").id == installation
    status, body, _, _ = server.handle(
        "POST",
        f"/app/installations/{installation}/access_tokens",
        f"Bearer {Auth.AppAuth(app.id, app.private_key_pem).token}",
        b'{"repositories": ["marketing"], "permissions": {"pull_requests": "read"}}',
    )
    assert status == 201
    assert (body["permissions"], body["repository_selection"]) == (
        {"pull_requests": "read"},
        "selected",
    )
    token = body["token"]
    assert _status(server, "GET", "/repos/acme/governance", token, "token") == 404
    assert _status(server, "GET", "/repos/acme/marketing/pulls", token, "token") == 200
    integration.close()
