"""Which GitHub token acts for whom, from the settings: the governance App and each
agent's App (or the static tokens), and the preflight that checks them before a run.

Each bot is a GitHub App: an agent's App (`AITO_APP_ID_<AGENT>`, `AITO_APP_KEY_<AGENT>`)
makes that agent's commits, pull requests, reviews (votes), comments and issues; the
governance App (`AITO_GOVERNANCE_APP_ID`, `AITO_GOVERNANCE_APP_KEY`) alone sets the
`aito/decision` status, labels, the tally's comment, merges and closes. A static token
(`AITO_GITHUB_TOKEN_<AGENT>`, `AITO_GITHUB_TOKEN`) is the alternative; an App wins over
it. The permissions each App needs are :data:`AGENT_PERMISSIONS` and
:data:`GOVERNANCE_PERMISSIONS`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping

from aito.errors import ConfigError
from aito.forge import github_apps
from aito.forge.github_apps import TokenSource
from aito.org import loading
from aito.settings import GOVERNANCE_APP_ID, GOVERNANCE_APP_KEY, GitHubApp, Settings
from aito.settings import agent_app_names as names_of

AGENT_PERMISSIONS: Mapping[str, str] = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
}
"""What an agent's App needs on the governance repo (and the department repos it works in):

- ``contents: write``: push its branches (a proposal's decision record, a task record,
  work in a department repo);
- ``pull_requests: write``: open its pull requests and review others' (a vote is a review
  by the agent's own bot);
- ``issues: write``: open issues for the maintainers (``request_human_action``) and comment.

``metadata: read`` comes with every App. Not ``workflows``: an agent never changes
``.github/workflows`` (a push touching them is refused without it, which is the point),
nor ``administration``, ``statuses`` or ``actions``."""

GOVERNANCE_PERMISSIONS: Mapping[str, str] = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "statuses": "write",
}
"""What the governance App needs on the governance repo:

- ``contents: write``: merge an approved decision and commit its final record to the base
  branch;
- ``pull_requests: write``: close a rejected pull request, ask maintainers to review;
- ``issues: write``: the ``aito/*`` labels and the tally's comment (both on the pull
  request's issue);
- ``statuses: write``: the ``aito/decision`` commit status branch protection requires.

Nothing more: it never needs ``workflows`` or ``administration``."""


@dataclasses.dataclass(frozen=True)
class GitHubCredentials:
    """The token sources for one repository: the governance one (None in an agent's job,
    which holds no governance key) and each agent's, by agent id and by bot id."""

    repo: str
    governance: TokenSource | None
    by_agent: Mapping[str, TokenSource]
    by_bot: Mapping[int, TokenSource]
    hints: Mapping[int, str]  # bot id → what to set for a bot without a token

    def agent(self, agent_id: str) -> TokenSource:
        """``agent_id``'s token source; a ConfigError naming the secret when it has none."""
        source = self.by_agent.get(agent_id)
        if source is None:
            app_id, key, token = names_of(agent_id)
            raise ConfigError(
                f"agent {agent_id} has no GitHub token: {key} (repository secret: its App's "
                f"private key) and {app_id} (repository variable: the App's id) are not set "
                f"(or the static {token})"
            )
        return source


def build(
    settings: Settings,
    org: loading.Organization,
    *,
    repo: str,
    clock: Callable[[], dt.datetime] | None = None,
) -> GitHubCredentials:
    """Token sources for ``repo`` from ``settings`` (a half-set App is a ConfigError
    naming the missing half)."""

    def app_source(app: GitHubApp) -> TokenSource:
        problem = app.problem()
        if problem is not None:
            raise ConfigError(problem)
        assert app.app_id is not None and app.private_key is not None
        return github_apps.InstallationTokens(
            app_id=app.app_id,
            private_key=app.private_key,
            repo=repo,
            api_url=settings.github_api_url,
            id_name=app.id_name,
            key_name=app.key_name,
            clock=clock,
        )

    by_agent: dict[str, TokenSource] = {}
    for agent_id in org.org.bots:
        app = settings.github_apps.get(agent_id)
        static = settings.github_agent_tokens.get(agent_id)
        if app is not None:
            by_agent[agent_id] = app_source(app)
        elif static is not None:
            by_agent[agent_id] = github_apps.StaticToken(static, names_of(agent_id)[2])
    by_bot = {org.org.bots[a].id: source for a, source in by_agent.items()}
    for maintainer in org.org.maintainers:  # a maintainer's own token, by login
        static = settings.github_agent_tokens.get(maintainer.login.lower())
        if static is not None and maintainer.id not in by_bot:
            by_bot[maintainer.id] = github_apps.StaticToken(static, "a maintainer's token")
    hints = {
        bot.id: "set {1} and {0} (or {2})".format(*names_of(agent_id))
        for agent_id, bot in org.org.bots.items()
    }
    governance: TokenSource | None = None
    if settings.governance_app is not None:
        governance = app_source(settings.governance_app)
    elif settings.github_token is not None:
        governance = github_apps.StaticToken(settings.github_token, "AITO_GITHUB_TOKEN")
    return GitHubCredentials(repo, governance, by_agent, by_bot, hints)


def reader(credentials: GitHubCredentials) -> TokenSource:
    """The token a forge reads with: the governance one, else (an agent's job) the one
    agent token the job holds."""
    if credentials.governance is not None:
        return credentials.governance
    for agent_id in sorted(credentials.by_agent):
        return credentials.by_agent[agent_id]
    raise ConfigError(
        f"AITO_FORGE=github needs a GitHub token for {credentials.repo}: "
        f"{GOVERNANCE_APP_ID} and {GOVERNANCE_APP_KEY} (the governance App, for the tally), "
        "or the acting agent's AITO_APP_ID_<AGENT> and AITO_APP_KEY_<AGENT> (its App); "
        "static tokens: AITO_GITHUB_TOKEN, AITO_GITHUB_TOKEN_<AGENT>"
    )


def check_agents(credentials: GitHubCredentials, agent_ids: Iterable[str]) -> None:
    """Preflight of an agent run: each agent's token can be had and carries
    :data:`AGENT_PERMISSIONS` (a ConfigError naming the secret or permission if not)."""
    for agent_id in agent_ids:
        github_apps.check_permissions(
            credentials.agent(agent_id),
            AGENT_PERMISSIONS,
            purpose=f"agent {agent_id}'s work (commits, pull requests, reviews, issues)",
        )


def check_governance(credentials: GitHubCredentials) -> None:
    """Preflight of a tally: the governance token can be had and carries
    :data:`GOVERNANCE_PERMISSIONS`."""
    if credentials.governance is None:
        raise ConfigError(
            f"the tally needs the governance App: {GOVERNANCE_APP_KEY} (secret) and "
            f"{GOVERNANCE_APP_ID} (variable) of the `governance` environment are not set "
            "(or the static AITO_GITHUB_TOKEN)"
        )
    github_apps.check_permissions(
        credentials.governance,
        GOVERNANCE_PERMISSIONS,
        purpose="the tally (status, labels, comment, merge, close)",
    )
