"""Every GitHub App endpoint of the fake GitHub, driven through PyGithub's App auth (for the
OpenAPI check in ``tests/forge/test_github_openapi.py`` and the fake's own tests)."""

from __future__ import annotations

import github
import pytest
from github import Auth, GithubIntegration
from support.fake_github import FakeGitHub
from support.fake_github_apps import FakeApp, add_app, install_app


def run_app_session(server: FakeGitHub, *, repo: str = "acme/governance") -> FakeApp:
    """An App installed on ``repo``: read it, its installations, mint a token and use it
    (also on its error paths: a token lacking a permission, a repo outside the
    installation, an installation token on an App endpoint)."""
    owner, name = repo.split("/")
    app = add_app(server, "acme-ceo", permissions={"contents": "write", "pull_requests": "write"})
    installation_id = install_app(server, app, owner, [name])
    integration = GithubIntegration(
        auth=Auth.AppAuth(app.id, app.private_key_pem), base_url=server.url
    )
    try:
        assert integration.get_app().slug == "acme-ceo"
        assert [i.id for i in integration.get_installations()] == [installation_id]
        assert integration.get_repo_installation(owner, name).id == installation_id
        assert integration.get_org_installation(owner).id == installation_id
        minted = integration.get_access_token(installation_id)
        assert minted.permissions == {
            "metadata": "read",
            "contents": "write",
            "pull_requests": "write",
        }
        as_bot = github.Github(auth=Auth.Token(minted.token), base_url=server.url, retry=None)
        listing = as_bot.requester.requestJsonAndCheck("GET", "/installation/repositories")[1]
        assert [r["full_name"] for r in listing["repositories"]] == [repo]
        assert as_bot.get_user(app.bot.login).type == "Bot"
        with pytest.raises(github.GithubException) as refused:  # no issues permission
            as_bot.get_repo(repo).create_issue(title="not allowed")
        assert refused.value.status == 403
        with pytest.raises(github.GithubException) as unauthorized:  # a token, not a JWT
            as_bot.requester.requestJsonAndCheck("GET", "/app")
        assert unauthorized.value.status == 401
        with pytest.raises(github.GithubException) as narrowed:  # never widened
            integration.get_access_token(installation_id, permissions={"issues": "write"})
        assert narrowed.value.status == 422
        as_bot.close()
    finally:
        integration.close()
    return app
