"""An org's settings on the fake GitHub: what `aito github doctor` reads, and the
manifest flow's code exchange.

- branch protection: ``GET``/``PUT /repos/{o}/{r}/branches/{b}/protection`` (404 "Branch
  not protected" until a PUT; the PUT takes GitHub's body, bypass Apps by slug);
- Actions secrets (names only, as GitHub never returns a value) and variables, at the
  repository, organization (``/repos/{o}/{r}/actions/organization-…``) and environment
  level; environments with their deployment branch policies;
- self-hosted runners of a repository and of an organization, with labels and status;
- ``GET /orgs/{org}/installations`` (every App installed in the org, for an org admin's
  token) and ``GET /user/installations/{id}/repositories``;
- ``POST /app-manifests/{code}/conversions``: the code a test got from
  :func:`manifest_code` becomes an App (:func:`support.fake_github_apps.add_app`) with its
  PEM key, once; served without authentication, as GitHub does.

Test hooks (also as ``FakeGitHub`` methods): :func:`set_secret`, :func:`set_variable`,
:func:`add_environment`, :func:`add_runner`, :func:`manifest_code`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets as random
from typing import Any

from support.fake_github import (
    ANONYMOUS,
    ApiError,
    Context,
    FakeGitHub,
    Json,
    Response,
    _iso,
    _node_id,
    _not_found,
    _now,
    route,
)
from support.fake_github_apps import add_app, app_json, app_state, installation_json

ORG = "org"  # the scope key of organization-level secrets and variables


@dataclasses.dataclass
class Environment:
    id: int
    name: str
    created_at: dt.datetime
    branches: list[str] | None  # None: any branch; ["main"]: custom policies
    protected_only: bool = False
    secrets: set[str] = dataclasses.field(default_factory=set)
    variables: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class AdminState:
    protection: dict[tuple[str, str], Json] = dataclasses.field(default_factory=dict)
    secrets: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # repo or "org:<o>"
    variables: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    environments: dict[tuple[str, str], Environment] = dataclasses.field(default_factory=dict)
    runners: dict[str, list[Json]] = dataclasses.field(default_factory=dict)  # repo or org:<o>
    codes: dict[str, tuple[str, dict[str, str]]] = dataclasses.field(default_factory=dict)
    created: dt.datetime = dataclasses.field(default_factory=_now)


def admin_state(gh: FakeGitHub) -> AdminState:
    with gh.lock:
        state: AdminState = gh.__dict__.setdefault("admin_state", AdminState())
    return state


def _scope(repo: str | None, org: str | None) -> str:
    return repo if repo is not None else f"{ORG}:{org}"


# -- test hooks -----------------------------------------------------------------------
def set_secret(
    gh: FakeGitHub,
    name: str,
    *,
    repo: str | None = None,
    org: str | None = None,
    environment: str | None = None,
) -> None:
    """A secret's name at a repository, an org (visible to its repositories) or a
    repository's environment."""
    state = admin_state(gh)
    if environment is not None:
        assert repo is not None
        state.environments[(repo, environment)].secrets.add(name)
    else:
        state.secrets.setdefault(_scope(repo, org), set()).add(name)


def set_variable(
    gh: FakeGitHub,
    name: str,
    value: str,
    *,
    repo: str | None = None,
    org: str | None = None,
    environment: str | None = None,
) -> None:
    state = admin_state(gh)
    if environment is not None:
        assert repo is not None
        state.environments[(repo, environment)].variables[name] = value
    else:
        state.variables.setdefault(_scope(repo, org), {})[name] = value


def add_environment(
    gh: FakeGitHub,
    repo: str,
    name: str,
    *,
    branches: list[str] | None = None,
    protected_only: bool = False,
) -> Environment:
    """An environment that ``branches`` (None: any branch) may deploy to."""
    environment = Environment(gh.next_id(), name, _now(), branches, protected_only)
    admin_state(gh).environments[(repo, name)] = environment
    return environment


def add_runner(
    gh: FakeGitHub,
    name: str,
    *,
    labels: list[str],
    status: str = "online",
    repo: str | None = None,
    org: str | None = None,
) -> None:
    """A self-hosted runner registered at ``repo`` or ``org``."""
    runner = {
        "id": gh.next_id(),
        "name": name,
        "os": "Linux",
        "status": status,
        "busy": False,
        "labels": [
            {"id": i + 1, "name": label, "type": "read-only" if i < 3 else "custom"}
            for i, label in enumerate(labels)
        ],
    }
    admin_state(gh).runners.setdefault(_scope(repo, org), []).append(runner)


def manifest_code(gh: FakeGitHub, slug: str, *, permissions: dict[str, str]) -> str:
    """The code GitHub's manifest flow would hand back after creating App ``slug``."""
    code = random.token_hex(10)
    admin_state(gh).codes[code] = (slug, dict(permissions))
    return code


for _hook in (set_secret, set_variable, add_environment, add_runner, manifest_code):
    setattr(FakeGitHub, _hook.__name__, _hook)


# -- payloads -------------------------------------------------------------------------
def _named(state: AdminState, names: set[str]) -> list[Json]:
    when = _iso(state.created)
    return [{"name": n, "created_at": when, "updated_at": when} for n in sorted(names)]


def _valued(state: AdminState, values: dict[str, str]) -> list[Json]:
    when = _iso(state.created)
    return [
        {"name": n, "value": v, "created_at": when, "updated_at": when}
        for n, v in sorted(values.items())
    ]


def _listing(gh: FakeGitHub, c: Context, key: str, items: list[Json]) -> Response:
    status, page, headers = gh.page(c, items)
    return status, {"total_count": len(items), key: page}, headers


def _repo_name(c: Context) -> str:
    assert c.repo is not None
    return c.repo.full_name


def _environment(gh: FakeGitHub, c: Context) -> Environment:
    found = admin_state(gh).environments.get((_repo_name(c), c.params["environment_name"]))
    if found is None:
        raise _not_found()
    return found


def _protection_json(gh: FakeGitHub, c: Context, stored: Json) -> Json:
    base = f"{gh.url}/repos/{_repo_name(c)}/branches/{c.params['branch']}/protection"
    apps = app_state(gh).apps
    checks = stored.get("required_status_checks")
    reviews = stored.get("required_pull_request_reviews")
    data: dict[str, Any] = {
        "url": base,
        "enforce_admins": {
            "url": f"{base}/enforce_admins",
            "enabled": bool(stored.get("enforce_admins")),
        },
        "required_linear_history": {"enabled": False},
        "allow_force_pushes": {"enabled": False},
        "allow_deletions": {"enabled": False},
    }
    if checks is not None:
        listed = checks.get("checks") or [
            {"context": context, "app_id": None} for context in checks.get("contexts", [])
        ]
        data["required_status_checks"] = {
            "url": f"{base}/required_status_checks",
            "contexts_url": f"{base}/required_status_checks/contexts",
            "strict": bool(checks.get("strict")),
            "contexts": [check["context"] for check in listed],
            "checks": [
                {"context": check["context"], "app_id": check.get("app_id")} for check in listed
            ],
        }
    if reviews is not None:
        bypass = (reviews.get("bypass_pull_request_allowances") or {}).get("apps") or []
        by_slug = {app.slug: app for app in apps.values()}
        data["required_pull_request_reviews"] = {
            "url": f"{base}/required_pull_request_reviews",
            "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
            "require_code_owner_reviews": bool(reviews.get("require_code_owner_reviews")),
            "required_approving_review_count": int(
                reviews.get("required_approving_review_count", 1)
            ),
            "require_last_push_approval": False,
            "bypass_pull_request_allowances": {
                "users": [],
                "teams": [],
                "apps": [app_json(gh, by_slug[s]) for s in bypass if s in by_slug],
            },
        }
    return data


# -- endpoints ------------------------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}/branches/{branch}/protection")
def _get_protection(gh: FakeGitHub, c: Context) -> Response:
    stored = admin_state(gh).protection.get((_repo_name(c), c.params["branch"]))
    if stored is None:
        raise ApiError(404, "Branch not protected")
    return 200, _protection_json(gh, c, stored), {}


@route("PUT", "/repos/{owner}/{repo}/branches/{branch}/protection")
def _put_protection(gh: FakeGitHub, c: Context) -> Response:
    body = c.body if isinstance(c.body, dict) else {}
    missing = [
        key
        for key in (
            "required_status_checks",
            "enforce_admins",
            "required_pull_request_reviews",
            "restrictions",
        )
        if key not in body
    ]
    if missing:
        raise ApiError(422, f"Invalid request. {', '.join(missing)} wasn't supplied.")
    if f"heads/{c.params['branch']}" not in c.repo.refs:  # type: ignore[union-attr]
        raise ApiError(404, "Branch not found")
    admin_state(gh).protection[(_repo_name(c), c.params["branch"])] = body
    return 200, _protection_json(gh, c, body), {}


@route("GET", "/repos/{owner}/{repo}/actions/secrets")
def _repo_secrets(gh: FakeGitHub, c: Context) -> Response:
    state = admin_state(gh)
    return _listing(gh, c, "secrets", _named(state, state.secrets.get(_repo_name(c), set())))


@route("GET", "/repos/{owner}/{repo}/actions/organization-secrets")
def _org_secrets(gh: FakeGitHub, c: Context) -> Response:
    state = admin_state(gh)
    names = state.secrets.get(_scope(None, c.params["owner"]), set())
    return _listing(gh, c, "secrets", _named(state, names))


@route("GET", "/repos/{owner}/{repo}/actions/variables")
def _repo_variables(gh: FakeGitHub, c: Context) -> Response:
    state = admin_state(gh)
    values = state.variables.get(_repo_name(c), {})
    return _listing(gh, c, "variables", _valued(state, values))


@route("GET", "/repos/{owner}/{repo}/actions/organization-variables")
def _org_variables(gh: FakeGitHub, c: Context) -> Response:
    state = admin_state(gh)
    values = state.variables.get(_scope(None, c.params["owner"]), {})
    return _listing(gh, c, "variables", _valued(state, values))


@route("GET", "/repos/{owner}/{repo}/environments/{environment_name}")
def _get_environment(gh: FakeGitHub, c: Context) -> Response:
    env = _environment(gh, c)
    api = f"{gh.url}/repos/{_repo_name(c)}/environments/{env.name}"
    policy = (
        None
        if env.branches is None and not env.protected_only
        else {
            "protected_branches": env.protected_only,
            "custom_branch_policies": not env.protected_only,
        }
    )
    data = {
        "id": env.id,
        "node_id": _node_id("Environment", env.id),
        "name": env.name,
        "url": api,
        "html_url": f"{gh.url}/{_repo_name(c)}/deployments/activity_log?environments_filter="
        f"{env.name}",
        "created_at": _iso(env.created_at),
        "updated_at": _iso(env.created_at),
        "protection_rules": [],
        "deployment_branch_policy": policy,
    }
    return 200, data, {}


@route("GET", "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies")
def _branch_policies(gh: FakeGitHub, c: Context) -> Response:
    env = _environment(gh, c)
    items = [
        {
            "id": index + 1,
            "node_id": _node_id("DeploymentBranchPolicy", index + 1),
            "name": name,
            "type": "branch",
        }
        for index, name in enumerate(env.branches or [])
    ]
    return _listing(gh, c, "branch_policies", items)


@route("GET", "/repos/{owner}/{repo}/environments/{environment_name}/secrets")
def _environment_secrets(gh: FakeGitHub, c: Context) -> Response:
    return _listing(gh, c, "secrets", _named(admin_state(gh), _environment(gh, c).secrets))


@route("GET", "/repos/{owner}/{repo}/environments/{environment_name}/variables")
def _environment_variables(gh: FakeGitHub, c: Context) -> Response:
    values = _environment(gh, c).variables
    return _listing(gh, c, "variables", _valued(admin_state(gh), values))


@route("GET", "/repos/{owner}/{repo}/actions/runners")
def _repo_runners(gh: FakeGitHub, c: Context) -> Response:
    return _listing(gh, c, "runners", admin_state(gh).runners.get(_repo_name(c), []))


@route("GET", "/orgs/{org}/actions/runners")
def _org_runners(gh: FakeGitHub, c: Context) -> Response:
    runners = admin_state(gh).runners.get(_scope(None, c.params["org"]))
    if runners is None and not any(n.startswith(f"{c.params['org']}/") for n in gh.repos):
        raise _not_found()
    return _listing(gh, c, "runners", runners or [])


@route("GET", "/orgs/{org}/installations")
def _org_installations(gh: FakeGitHub, c: Context) -> Response:
    org = c.params["org"]
    found = [
        installation_json(gh, i)
        for i in app_state(gh).installations.values()
        if i.account.login == org
    ]
    return _listing(gh, c, "installations", found)


@route("GET", "/user/installations/{installation_id}/repositories")
def _user_installation_repos(gh: FakeGitHub, c: Context) -> Response:
    installation = app_state(gh).installations.get(int(c.params["installation_id"]))
    if installation is None:
        raise _not_found()
    names = sorted(n for n in gh.repos if installation.covers(gh, n))
    status, page, headers = gh.page(c, [gh.repo_json(gh.repos[n]) for n in names])
    selection = "all" if installation.repos is None else "selected"
    body = {"total_count": len(names), "repositories": page, "repository_selection": selection}
    return status, body, headers


@route("POST", "/app-manifests/{code}/conversions")
def _convert_manifest(gh: FakeGitHub, c: Context) -> Response:
    found = admin_state(gh).codes.pop(c.params["code"], None)
    if found is None:
        raise _not_found()  # GitHub: a code works once, for an hour
    slug, permissions = found
    app = add_app(gh, slug, permissions=permissions)
    data = app_json(gh, app) | {
        "client_id": f"Iv1.{app.id:016x}",
        "client_secret": random.token_hex(20),
        "webhook_secret": None,
        "pem": app.private_key_pem,
    }
    return 201, data, {}


# GitHub serves these without authentication (public users at 60 requests an hour).
ANONYMOUS.update(("/app-manifests/{code}/conversions", "/users/{username}"))
