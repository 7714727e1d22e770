"""Installation tokens: minted from an App's id and key, cached, refreshed, never shown."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from support.fake_github import FakeGitHub, start_fake_github
from support.fake_github_apps import FakeApp, add_app, app_state, install_app

from aito.errors import ConfigError
from aito.forge import github_apps
from aito.forge.base import Identity, ReviewState
from aito.forge.github import GitHubForge

REPO = "acme/governance"
MINT = "POST /app/installations/{installation_id}/access_tokens"
WRITE = {"contents": "write", "pull_requests": "write", "issues": "write"}


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = start_fake_github(users={})
    fake.create_repo(REPO, files={"org/org.yaml": "name: acme\n"})
    try:
        yield fake
    finally:
        fake.stop()


def tokens(
    server: FakeGitHub, app: FakeApp, clock: Clock | None = None, *, key: str | None = None
) -> github_apps.InstallationTokens:
    return github_apps.InstallationTokens(
        app_id=app.id,
        private_key=SecretStr(key or app.private_key_pem),
        repo=REPO,
        api_url=server.url,
        id_name="AITO_APP_ID_CMO",
        key_name="AITO_APP_KEY_CMO",
        clock=clock,
    )


def test_a_token_is_minted_once_and_reused_until_shortly_before_it_expires(
    server: FakeGitHub,
) -> None:
    app = add_app(server, "acme-cmo", permissions=WRITE)
    install_app(server, app, "acme", ["governance"])
    clock = Clock()
    source = tokens(server, app, clock)

    first = source.token()
    assert source.token() == first
    assert server.calls[MINT] == 1
    assert server.calls["GET /repos/{owner}/{repo}/installation"] == 1

    clock.at += dt.timedelta(minutes=54)  # 6 minutes left: still good
    assert source.token() == first
    clock.at += dt.timedelta(minutes=2)  # 4 minutes left: replaced
    second = source.token()
    assert second != first
    assert server.calls[MINT] == 2
    assert server.calls["GET /repos/{owner}/{repo}/installation"] == 1  # installation kept
    assert app_state(server).tokens[second.get_secret_value()].installation.app is app


def test_threads_asking_at_once_share_one_mint(server: FakeGitHub) -> None:
    app = add_app(server, "acme-cmo", permissions=WRITE)
    install_app(server, app, "acme")
    source = tokens(server, app)
    seen: list[str] = []
    threads = [
        threading.Thread(target=lambda: seen.append(source.token().get_secret_value()))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 and len(seen) == 8
    assert server.calls[MINT] == 1


def test_a_long_run_refreshes_the_token_its_client_sends(server: FakeGitHub) -> None:
    app = add_app(server, "acme-cmo", permissions=WRITE, bot_id=4242)
    install_app(server, app, "acme")
    clock = Clock()
    source = tokens(server, app, clock)
    with GitHubForge(
        repo=REPO, api_url=server.url, token=source, agent_tokens={4242: source}, throttle=False
    ) as forge:
        bot = Identity(app.bot.login, app.bot.id)
        forge.commit_files(branch="a", base="main", files={"a.md": b"a\n"}, message="a", author=bot)
        clock.at += dt.timedelta(minutes=58)
        pull = forge.open_pull(head="a", base="main", title="a", body="", author=bot)
    assert server.calls[MINT] == 2
    assert pull.author == bot  # `acme-cmo[bot]`, by its numeric id


def test_tokens_and_keys_never_reach_logs_output_or_reprs(
    server: FakeGitHub, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub pins its logger to INFO
    app = add_app(server, "acme-cmo", permissions=WRITE, bot_id=4242)
    reviewer = add_app(server, "acme-dao", permissions=WRITE, bot_id=4343)
    install_app(server, app, "acme")
    install_app(server, reviewer, "acme")
    source, other = tokens(server, app), tokens(server, reviewer, key=reviewer.private_key_pem)
    with GitHubForge(
        repo=REPO,
        api_url=server.url,
        token=source,
        agent_tokens={4242: source, 4343: other},
        throttle=False,
    ) as forge:
        bot = Identity(app.bot.login, app.bot.id)
        sha = forge.commit_files(
            branch="a", base="main", files={"a.md": b"a\n"}, message="a", author=bot
        )
        pull = forge.open_pull(head="a", base="main", title="a", body="", author=bot)
        forge.post_review(
            pull.number,
            author=Identity(reviewer.bot.login, reviewer.bot.id),
            state=ReviewState.APPROVED,
            body="",
            commit_id=sha,
        )
    shown = caplog.text + "".join(capsys.readouterr()) + repr(source) + repr(source.current())
    minted = list(app_state(server).tokens)
    assert len(minted) == 2
    assert "minted an installation token of App" in caplog.text
    for secret in [*minted, app.private_key_pem, reviewer.private_key_pem]:
        assert secret not in shown
    assert "BEGIN RSA PRIVATE KEY" not in shown


def test_an_app_not_installed_on_the_repo_is_named(server: FakeGitHub) -> None:
    app = add_app(server, "acme-cmo", permissions=WRITE)
    install_app(server, app, "acme", ["elsewhere"])
    with pytest.raises(ConfigError, match=r"AITO_APP_ID_CMO=\d+.*not installed on acme/governance"):
        tokens(server, app).token()


def test_a_wrong_or_broken_key_names_the_secret(server: FakeGitHub) -> None:
    app = add_app(server, "acme-cmo", permissions=WRITE)
    other = add_app(server, "acme-cto", permissions=WRITE)
    install_app(server, app, "acme")
    with pytest.raises(ConfigError, match="AITO_APP_KEY_CMO is a current private key") as wrong:
        tokens(server, app, key=other.private_key_pem).token()
    assert other.private_key_pem not in str(wrong.value)
    with pytest.raises(ConfigError, match="AITO_APP_KEY_CMO is not the PEM private key"):
        tokens(server, app, key="not a key").token()
    folded = app.private_key_pem.strip().replace("\n", "\\n")  # stored on one line
    assert tokens(server, app, key=folded).token()


def test_a_missing_permission_is_named(server: FakeGitHub) -> None:
    app = add_app(server, "acme-cmo", permissions={"contents": "write", "issues": "read"})
    install_app(server, app, "acme")
    with pytest.raises(ConfigError) as lacking:
        github_apps.check_permissions(tokens(server, app), WRITE, purpose="agent cmo's work")
    message = str(lacking.value)
    assert "lacks the permissions issues: write, pull_requests: write" in message
    assert "AITO_APP_ID_CMO" in message and "contents" not in message.split("lacks")[1][:40]


def test_a_failed_mint_is_tried_again(server: FakeGitHub) -> None:
    app = add_app(server, "acme-cmo", permissions=WRITE)
    install_app(server, app, "acme")
    server.fail_next(status=502, times=2, path="/app/installations/{installation_id}/access_tokens")
    assert tokens(server, app).token()
    assert server.calls[MINT] == 3
