"""An organization live on the fake GitHub, as docs/deploy.md sets one up: its repositories,
one GitHub App per bot of `org/org.yaml` (agents and the governance bot, with the bot
logins and numeric ids org.yaml records) installed where they act, and the variables and
secrets a workflow job would hand AITO."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from support.fake_github import FakeGitHub
from support.fake_github_apps import FakeApp, add_app, install_app

from aito.forge.credentials import AGENT_PERMISSIONS, GOVERNANCE_PERMISSIONS
from aito.org import loading
from aito.settings import agent_app_names


@dataclasses.dataclass(frozen=True)
class LiveOrg:
    apps: Mapping[str, FakeApp]  # by agent id
    governance: FakeApp

    def agent_env(self, agent_id: str) -> dict[str, str]:
        """What `agent-<id>.yml` hands the agent's job: its own App only."""
        app_id, key, _ = agent_app_names(agent_id)
        app = self.apps[agent_id]
        return {app_id: str(app.id), key: app.private_key_pem}

    def governance_env(self) -> dict[str, str]:
        """What the tally job gets from the `governance` environment."""
        return {
            "AITO_GOVERNANCE_APP_ID": str(self.governance.id),
            "AITO_GOVERNANCE_APP_KEY": self.governance.private_key_pem,
        }


def go_live(
    server: FakeGitHub,
    root: Path,
    org: loading.Organization,
    *,
    permissions: Mapping[str, Mapping[str, str]] | None = None,
    uninstalled: tuple[str, ...] = (),
    governance_only: tuple[str, ...] = (),
) -> LiveOrg:
    """Serve ``org`` (the checkout at ``root``) on ``server``: the governance repo with its
    org/ and profiles/, each department repo, and the Apps. ``permissions`` overrides an
    agent's App permissions (by agent id; "governance" for the governance App); the
    agents in ``uninstalled`` get an App that is installed nowhere, those in
    ``governance_only`` one installed on the governance repo alone."""
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] in ("org", "profiles")
    }
    governance_repo = org.org.governance_repo.repo
    server.create_repo(governance_repo, files=files)
    for repo in org.org.repos.values():
        server.create_repo(repo)
    chosen = dict(permissions or {})
    owner = governance_repo.split("/")[0]
    apps: dict[str, FakeApp] = {}
    for agent_id, bot in org.org.bots.items():
        app = add_app(
            server,
            bot.login.removesuffix("[bot]"),
            permissions=dict(chosen.get(agent_id, AGENT_PERMISSIONS)),
            bot_id=bot.id,
        )
        if agent_id in governance_only:
            install_app(server, app, owner, [governance_repo.split("/")[1]])
        elif agent_id not in uninstalled:
            install_app(server, app, owner)  # all repositories of the organization
        apps[agent_id] = app
    bot = org.org.governance_repo.bot
    assert bot is not None
    governance = add_app(
        server,
        bot.login.removesuffix("[bot]"),
        permissions=dict(chosen.get("governance", GOVERNANCE_PERMISSIONS)),
        bot_id=bot.id,
    )
    install_app(server, governance, owner, [governance_repo.split("/")[1]])
    for maintainer in org.org.maintainers:
        server.set_permission(maintainer.login, "admin")
    return LiveOrg(apps, governance)
