"""An organization deployed on the fake GitHub as docs/deploy.md says, step by step.

:func:`deploy` creates the repositories (the governance one holding org/, profiles/,
the rendered workflows and CODEOWNERS), one App per bot from `aito github apps`'
manifests, installed on its repositories, records each bot into org/org.yaml with
`aito github apps record --slug`, stores every secret and variable the workflows
read, makes the ``governance`` environment for the base branch only, protects the base
branch with the body `aito github doctor` prints as its fix, and registers a runner.
Tests of the doctor break one piece of it at a time.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import github
from github import Auth
from support.fake_github import FakeGitHub
from support.fake_github_admin import add_environment, add_runner, set_secret, set_variable
from support.fake_github_apps import FakeApp, add_app, install_app

from aito.forge import github_apps_manifest as manifests
from aito.forge import github_doctor_branch
from aito.org import loading
from aito.workflows import credentials, rendering

ADMIN_TOKEN = "ghp_maintainer_admin"
MAINTAINER = ("shiba-maintainer", 90000001)
CODEOWNERS = "# maintainers review the organization\n/org/ @shiba-maintainer\n" + (
    "/profiles/ @shiba-maintainer\n/.github/ @shiba-maintainer\n"
)


@dataclasses.dataclass
class Live:
    server: FakeGitHub
    root: Path
    apps: dict[str, FakeApp]  # by bot key (agent id or "governance")

    @property
    def org(self) -> loading.Organization:
        return loading.load_valid(self.root)

    def protect(self, body: str) -> None:
        """PUT branch protection as a maintainer would (`gh api -X PUT …`)."""
        org = self.org
        repo, branch = org.org.governance_repo.repo, org.org.governance_repo.branch
        client = github.Github(auth=Auth.Token(ADMIN_TOKEN), base_url=self.server.url, retry=None)
        try:
            client.requester.requestJsonAndCheck(
                "PUT",
                f"/repos/{repo}/branches/{branch}/protection",
                input=json.loads(body),
            )
        finally:
            client.close()


def deploy(
    server: FakeGitHub,
    root: Path,
    *,
    record: Callable[[str, str], None],
    files: Callable[[dict[str, bytes]], None] | None = None,
    skip_repos: tuple[str, ...] = (),
) -> Live:
    """Deploy the org at ``root`` on ``server``; ``record(bot, slug)`` runs `aito github
    apps record BOT --slug SLUG` (the test's CLI); ``files`` may change the governance
    repository's files before they are pushed."""
    org = loading.load_valid(root)
    server.add_user(token=ADMIN_TOKEN, login=MAINTAINER[0], id=MAINTAINER[1])
    owner = org.org.github_org
    gov_repo, branch = org.org.governance_repo.repo, org.org.governance_repo.branch
    content = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).parts[0] in ("org", "profiles", ".github")
    }
    content[".github/CODEOWNERS"] = CODEOWNERS.encode()
    if files is not None:
        files(content)
    server.create_repo(gov_repo, files=content, default_branch=branch)
    for name in sorted(set(org.org.repos.values()) - {gov_repo}):
        if name not in skip_repos:
            server.create_repo(name)
    server.set_permission(MAINTAINER[0], "admin")
    apps: dict[str, FakeApp] = {}
    for bot in manifests.bot_apps(org):
        app = add_app(server, bot.slug, permissions=dict(bot.permissions))
        install_app(server, app, owner, [r for r in bot.repos if r in server.repos])
        apps[bot.key] = app
        record(bot.key, bot.slug)
        if bot.environment is None:
            set_variable(server, bot.id_variable, str(app.id), repo=gov_repo)
    env = add_environment(server, gov_repo, rendering.GOVERNANCE_ENVIRONMENT, branches=[branch])
    env.variables[credentials.GOVERNANCE_APP_ID] = str(apps[manifests.GOVERNANCE].id)
    for need in credentials.needs(loading.load_valid(root)):
        if need.optional or need.kind != "secret":
            continue
        scope = {"environment": need.environment} if need.environment_only else {}
        set_secret(server, need.name, repo=gov_repo, **scope)
    app_ids = {b.id_variable for b in manifests.bot_apps(org)}
    for need in credentials.needs(loading.load_valid(root)):
        if need.kind == "variable" and not need.optional and need.name not in app_ids:
            set_variable(server, need.name, "value", repo=gov_repo)
    live = Live(server, root, apps)
    gov_id = apps[manifests.GOVERNANCE].id
    live.protect(github_doctor_branch.protection_body(live.org, gov_id))
    add_runner(server, "aito-runner-1", labels=["self-hosted", "Linux", "X64", "aito"], org=owner)
    return live
