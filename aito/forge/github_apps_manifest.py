"""One GitHub App per bot, as a manifest for GitHub's manifest flow (no network here).

Every agent with a loop acts and votes as its own GitHub App, and the governance App
alone applies verdicts (the ``aito/decision`` status, labels, the tally comment,
merges). :func:`bot_apps` lists them from the organization; :func:`manifest` writes
the manifest GitHub's "create a GitHub App from a manifest" flow takes: the person
creating it POSTs it as the form field ``manifest`` to
``<web>/organizations/<org>/settings/apps/new`` (:func:`creation_url`), names the App,
and GitHub redirects to ``redirect_url?code=…``; that one-hour code turns into the App's
id, slug and private key (``aito github apps record --code``).

Least privilege (docs/deploy.md says why, permission by permission):

- an agent's App: ``contents: write`` (push its branch; send ``repository_dispatch``
  wake-ups, which GitHub allows with contents write), ``pull_requests: write`` (open its
  pull requests and vote with reviews), ``issues: write`` (comment on pull requests and
  issues: GitHub's comments on a pull request are issue comments), ``metadata: read``
  (every App has it). Never ``workflows``: without it GitHub refuses any push that
  changes ``.github/workflows``, whatever the agent's paths say.
- the governance App: the same, plus ``statuses: write`` (the ``aito/decision`` status
  that branch protection requires from this App only).

No App listens to webhooks (``hook_attributes.active: false``): the workflows run on
GitHub Actions events, and an App with no webhook has no endpoint to secure.
"""

from __future__ import annotations

import dataclasses
import html
import json
import urllib.parse
from typing import Any

from aito import settings
from aito.forge import credentials as needs
from aito.org import loading
from aito.org.agents import Layer
from aito.workflows import credentials, rendering

GOVERNANCE = "governance"
"""The key of the governance App (``aito github apps record governance …``)."""
APP_NAME_MAX = 34
"""GitHub's longest App name."""

# What each App needs (and why: aito.forge.credentials), with the metadata every App has.
AGENT_PERMISSIONS: dict[str, str] = {"metadata": "read", **needs.AGENT_PERMISSIONS}
GOVERNANCE_PERMISSIONS: dict[str, str] = {"metadata": "read", **needs.GOVERNANCE_PERMISSIONS}


@dataclasses.dataclass(frozen=True)
class BotApp:
    """The GitHub App one bot acts as, and where its id and key are stored."""

    key: str  # the agent id, or "governance"
    name: str  # the App's name (also its slug once created, if GitHub has it free)
    description: str
    permissions: dict[str, str]
    repos: tuple[str, ...]  # `owner/name` repositories it must be installed on
    id_variable: str  # the Actions variable holding the App's numeric id
    key_secret: str  # the Actions secret holding its PEM private key
    environment: str | None  # where they live: a deployment environment, or the repository

    @property
    def slug(self) -> str:
        """The slug GitHub derives from the name (lower case, other characters → ``-``)."""
        return slug_of(self.name)


def slug_of(name: str) -> str:
    kept = "".join(c if c.isalnum() else "-" for c in name.lower())
    return "-".join(part for part in kept.split("-") if part)


def bot_apps(org: loading.Organization) -> list[BotApp]:
    """The governance App, then one App per agent with a loop (by id)."""
    governance_repo = org.org.governance_repo.repo
    gov_bot = org.org.governance_repo.bot
    apps = [
        BotApp(
            key=GOVERNANCE,
            name=_name(gov_bot.login if gov_bot else None, org, "governance"),
            description=f"{org.org.name}: applies decision verdicts (aito/decision status, "
            "labels, tally comments, merges) in the governance repository.",
            permissions=dict(GOVERNANCE_PERMISSIONS),
            repos=(governance_repo,),
            id_variable=credentials.GOVERNANCE_APP_ID,
            key_secret=credentials.GOVERNANCE_APP_KEY,
            environment=rendering.GOVERNANCE_ENVIRONMENT,
        )
    ]
    for spec in sorted(org.agents.values(), key=lambda a: a.id):
        if spec.layer is Layer.WORKER or spec.loop is None:
            continue
        bot = org.org.bots.get(spec.id)
        repos = sorted({governance_repo, *org.repos_of(spec.id)})
        apps.append(
            BotApp(
                key=spec.id,
                name=_name(bot.login if bot else None, org, spec.id),
                description=f"{org.org.name}: the {spec.name} ({spec.id}) agent; opens pull "
                "requests, votes with reviews, comments.",
                permissions=dict(AGENT_PERMISSIONS),
                repos=tuple(repos),
                id_variable=settings.agent_app_names(spec.id)[0],
                key_secret=settings.agent_app_names(spec.id)[1],
                environment=None,
            )
        )
    return apps


def _name(login: str | None, org: loading.Organization, suffix: str) -> str:
    """The App's name: the slug org.yaml already expects (``<slug>[bot]``), else
    ``<github_org>-<suffix>``, cut to GitHub's 34 characters."""
    if login and login.endswith("[bot]"):
        return login.removesuffix("[bot]")[:APP_NAME_MAX]
    base = slug_of(f"{org.org.github_org}-{suffix}")
    if len(base) > APP_NAME_MAX:
        base = slug_of(f"{base[: APP_NAME_MAX - len(suffix) - 1]}-{suffix}")
    return base


def web_url(api_url: str) -> str:
    """GitHub's web address for an API URL: api.github.com → github.com; a GitHub
    Enterprise Server's ``https://HOST/api/v3`` → ``https://HOST``."""
    parts = urllib.parse.urlsplit(api_url.rstrip("/"))
    if parts.netloc == "api.github.com":
        return "https://github.com"
    if parts.netloc.startswith("api.") and parts.netloc.endswith(".ghe.com"):
        return f"{parts.scheme}://{parts.netloc.removeprefix('api.')}"  # GHE.com data residency
    path = parts.path.removesuffix("/api/v3").removesuffix("/api")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def creation_url(org: loading.Organization, *, web: str) -> str:
    """Where the manifest is POSTed: the organization's "new GitHub App" page."""
    return f"{web}/organizations/{urllib.parse.quote(org.org.github_org)}/settings/apps/new"


def manifest(app: BotApp, org: loading.Organization, *, web: str) -> dict[str, Any]:
    """The App's manifest. After creation GitHub sends the browser to the governance
    repository's page with ``?code=…`` in the address bar: copy that code."""
    home = f"{web}/{org.org.governance_repo.repo}"
    return {
        "name": app.name,
        "url": home,
        "description": app.description,
        "public": False,
        "hook_attributes": {"url": home, "active": False},
        "redirect_url": home,
        "default_permissions": dict(app.permissions),
        "default_events": [],
    }


def form_page(app: BotApp, org: loading.Organization, *, web: str) -> str:
    """A local HTML page whose button POSTs the manifest to GitHub (the manifest flow)."""
    data = json.dumps(manifest(app, org, web=web), indent=2, sort_keys=True)
    action = f"{creation_url(org, web=web)}?state={urllib.parse.quote(app.key)}"
    where = f"the {html.escape(app.environment)} environment" if app.environment else "the repo"
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Create the GitHub App {html.escape(app.name)}</title></head>
<body>
<h1>Create the GitHub App <code>{html.escape(app.name)}</code></h1>
<p>For: <strong>{html.escape(app.key)}</strong> of {html.escape(org.org.name)}.
Permissions: {html.escape(", ".join(f"{k}: {v}" for k, v in sorted(app.permissions.items())))};
no webhook.</p>
<ol>
<li>Press the button; GitHub asks you to confirm the name (keep it: org/org.yaml expects
<code>{html.escape(app.slug)}[bot]</code>), then creates the App.</li>
<li>GitHub sends you to the governance repository's page; copy <code>code=…</code> from the
address bar (valid for one hour) and run:<br>
<code>aito github apps record {html.escape(app.key)} --code CODE</code></li>
<li>Store the private key it saves as the secret <code>{html.escape(app.key_secret)}</code> and
the App id as the variable <code>{html.escape(app.id_variable)}</code> in {where}
(the command prints the exact <code>gh</code> lines).</li>
<li>Install the App on: {html.escape(", ".join(app.repos))}.</li>
</ol>
<form action="{html.escape(action)}" method="post">
<input type="hidden" name="manifest" value="{html.escape(data)}">
<button type="submit">Create {html.escape(app.name)} on GitHub</button>
</form>
<details><summary>The manifest</summary><pre>{html.escape(data)}</pre></details>
</body>
</html>
"""
