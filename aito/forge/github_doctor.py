"""`aito github doctor`: does a live GitHub org have everything AITO needs?

:func:`diagnose` reads the org through :class:`~aito.forge.github_doctor_reading.GitHubReader`
(a maintainer's admin-read token, GETs only) and returns one :class:`Finding` per
thing checked, each missing piece with the exact fix:

``repos``        the governance repository and each department repository exist;
``apps``         each bot's App is installed (``GET /orgs/{org}/installations``, matched
                 by the slug of its ``<slug>[bot]`` login in org.yaml) on the repositories
                 its agent names (``git.repo``) and the governance repository, with the
                 permissions its manifest asks for; its id variable holds that App's id;
``maintainers``  each maintainer's login has the numeric id org.yaml gives it;
``bots``         org.yaml's login and numeric id of each App's bot are GitHub's
                 (``GET /users/<slug>[bot]``);
``protection``   the base branch requires the ``aito/decision`` status from the
                 governance App (``checks[].app_id``) and code-owner review, and lets the
                 governance App (only Apps can be listed) bypass that review to merge;
``codeowners``   CODEOWNERS on the base branch gives ``org/``, ``profiles/`` and
                 ``.github/`` an owner;
``environment``  the ``governance`` environment exists and deploys from the base branch only;
``secrets`` / ``variables``  every name the workflows read (aito.workflows.credentials);
``runners``      an online self-hosted runner carries the org's runner labels;
``render``       the workflows on the base branch are what `aito render` makes of the
                 base branch's org.

The organization read locally (``--repo``) says what should exist; the render check
reads the base branch's own org/ and workflows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import urllib.parse
from collections.abc import Callable
from typing import Any

from aito.forge import github_apps_manifest as manifests
from aito.forge import github_doctor_actions as actions_checks
from aito.forge import github_doctor_branch as branch_checks
from aito.forge.github_doctor_reading import GitHubReader, Unreadable
from aito.forge.github_doctor_types import Finding
from aito.org import loading
from aito.workflows import rendering

__all__ = ["Finding", "diagnose"]


def diagnose(org: loading.Organization, *, reader: GitHubReader, web: str) -> list[Finding]:
    """Every check, in the order a deployment sets things up."""
    findings: list[Finding] = []
    findings += _repos(org, reader)
    findings += _maintainers(org, reader)
    installations = _guarded(
        findings,
        "apps",
        "the org's App installations",
        lambda: (
            reader.get_all(
                f"/orgs/{org.org.github_org}/installations",
                "installations",
                "the org's App installations",
            )
            or []
        ),
    )
    variables = _variables(org, reader, findings)
    gov_app_id = _apps(org, reader, web, installations, variables, findings)
    findings += branch_checks.check_branch(org, reader=reader, gov_app_id=gov_app_id, web=web)
    findings += actions_checks.check_credentials(org, reader)
    findings += actions_checks.check_runners(org, reader, web)
    return findings


def _guarded(
    findings: list[Finding], check: str, subject: str, read: Callable[[], list[Any]]
) -> list[Any] | None:
    try:
        return read()
    except Unreadable as exc:
        findings.append(branch_checks.unreadable(check, subject, exc))
        return None


def _repos(org: loading.Organization, reader: GitHubReader) -> list[Finding]:
    out = []
    wanted = {org.org.governance_repo.repo: "the governance repository"} | {
        name: f"the department repository `{key}`"
        for key, name in sorted(org.org.repos.items())
        if name != org.org.governance_repo.repo
    }
    for name, role in wanted.items():
        try:
            found = reader.get(f"/repos/{name}", f"repository {name}")
        except Unreadable as exc:
            out.append(branch_checks.unreadable("repos", name, exc))
            continue
        if found is None:
            out.append(
                Finding(
                    "repos",
                    name,
                    False,
                    f"{role} {name} does not exist (or the token cannot see it)",
                    f"create it: `gh repo create {name} --private`, or correct org/org.yaml",
                )
            )
        else:
            out.append(Finding("repos", name, True, f"{role} exists"))
    return out


def _maintainers(org: loading.Organization, reader: GitHubReader) -> list[Finding]:
    """Each maintainer's numeric id is GitHub's: a manual merge or review is matched on
    it, and a wrong id would record a maintainer's decision as a violation."""
    out = []
    for person in org.org.maintainers:
        try:
            account = reader.get(f"/users/{urllib.parse.quote(person.login)}", person.login)
        except Unreadable as exc:
            out.append(branch_checks.unreadable("maintainers", person.login, exc))
            continue
        if account is None or account.get("id") != person.id:
            found = f"id {account.get('id')}" if account else "no such user"
            out.append(
                Finding(
                    "maintainers",
                    person.login,
                    False,
                    f"org/org.yaml says {person.login} is id {person.id}; GitHub: {found}",
                    f"set the maintainer's login and id from `gh api users/{person.login} "
                    "--jq .id` in org/org.yaml and commit it",
                )
            )
        else:
            out.append(Finding("maintainers", person.login, True, f"id {person.id}"))
    return out


def _variables(
    org: loading.Organization, reader: GitHubReader, findings: list[Finding]
) -> dict[str, str | None]:
    """Repository and governance-environment variables (their values: App ids)."""
    repo = org.org.governance_repo.repo
    found: dict[str, str | None] = {}
    for path in (
        f"/repos/{repo}/actions/variables",
        f"/repos/{repo}/environments/{rendering.GOVERNANCE_ENVIRONMENT}/variables",
    ):
        with contextlib.suppress(Unreadable):  # the variables check reports it
            found |= reader.names(path, "variables", "variables") or {}
    return found


def _apps(
    org: loading.Organization,
    reader: GitHubReader,
    web: str,
    installations: list[dict[str, object]] | None,
    variables: dict[str, str | None],
    findings: list[Finding],
) -> int | None:
    """Installation findings; returns the governance App's id (for the protection check)."""
    gov_app_id: int | None = None
    by_slug = {str(i.get("app_slug")): i for i in installations or []}
    for app in manifests.bot_apps(org):
        subject = f"{app.key} App {app.slug}"
        install_url = f"{web}/apps/{app.slug}/installations/new"
        installed = by_slug.get(app.slug)
        stored = variables.get(app.id_variable)
        if installed is None:
            if installations is not None:
                findings.append(
                    Finding(
                        "apps",
                        subject,
                        False,
                        f"the App {app.slug} is not installed in {org.org.github_org} (or has "
                        "another slug than org/org.yaml's login)",
                        "create it (`aito github apps`), then install it on "
                        f"{', '.join(app.repos)}: {install_url}",
                    )
                )
            if app.key == manifests.GOVERNANCE and stored and stored.isdigit():
                gov_app_id = int(stored)
            continue
        app_id = int(str(installed.get("app_id")))
        if app.key == manifests.GOVERNANCE:
            gov_app_id = app_id
        findings += _installation(org, reader, app, installed, subject)
        findings.append(_bot(org, reader, app, subject))
        if stored is not None and stored.strip() != str(app_id):
            env = f" --env {app.environment}" if app.environment else ""
            findings.append(
                Finding(
                    "apps",
                    subject,
                    False,
                    f"the variable {app.id_variable} holds {stored[:20]!r}, not the App's id "
                    f"{app_id}",
                    f"gh variable set {app.id_variable} --repo {org.org.governance_repo.repo}{env} "
                    f"--body {app_id}",
                )
            )
    return gov_app_id


def _installation(
    org: loading.Organization,
    reader: GitHubReader,
    app: manifests.BotApp,
    installed: dict[str, object],
    subject: str,
) -> list[Finding]:
    out = []
    settings = str(installed.get("html_url") or "")
    granted = installed.get("permissions") or {}
    assert isinstance(granted, dict)
    lacking = [
        f"{name}: {level}"
        for name, level in sorted(app.permissions.items())
        if not _covers(str(granted.get(name, "")), level)
    ]
    if lacking:
        out.append(
            Finding(
                "apps",
                subject,
                False,
                f"the installation lacks {', '.join(lacking)}",
                f"give the App {', '.join(lacking)} (its settings, Permissions & events) and "
                f"accept them on the installation: {settings}",
            )
        )
    if installed.get("repository_selection") == "all":
        out.append(Finding("apps", subject, True, "installed on all repositories"))
        return out
    what = f"repositories of the {app.slug} installation"
    try:
        repos = reader.get_all(
            f"/user/installations/{installed.get('id')}/repositories", "repositories", what
        )
    except Unreadable as exc:  # GitHub may keep this list from some kinds of token
        unseen = Finding(
            "apps",
            subject,
            False,
            f"the App {app.slug} is installed on selected repositories, and {exc.what} "
            f"cannot be read ({exc.reason})",
            f"check that {', '.join(app.repos)} are selected at {settings}, or choose "
            "All repositories; or run the doctor with an org owner's `gh auth token`",
        )
        return [*out, unseen]
    names = {str(r.get("full_name")) for r in repos or []}
    missing = [r for r in app.repos if r not in names]
    if missing:
        out.append(
            Finding(
                "apps",
                subject,
                False,
                f"the App {app.slug} is not installed on {', '.join(missing)}",
                f"add {', '.join(missing)} to the installation: {settings}",
            )
        )
    else:
        out.append(Finding("apps", subject, True, f"installed on {', '.join(app.repos)}"))
    return out


def _bot(
    org: loading.Organization, reader: GitHubReader, app: manifests.BotApp, subject: str
) -> Finding:
    """org.yaml names the App's bot by its numeric id (votes are matched on it)."""
    login = f"{app.slug}[bot]"
    fix = f"aito github apps record {app.key} --slug {app.slug}, then commit org/org.yaml"
    where = "governance_repo.bot" if app.key == manifests.GOVERNANCE else f"bots.{app.key}"
    recorded = (
        org.org.governance_repo.bot
        if app.key == manifests.GOVERNANCE
        else org.org.bots.get(app.key)
    )
    try:
        account = reader.get(f"/users/{urllib.parse.quote(login)}", f"the user {login}")
    except Unreadable as exc:
        return branch_checks.unreadable("bots", subject, exc)
    if account is None:
        return Finding("bots", login, False, f"GitHub has no user {login}", fix)
    if recorded is None or recorded.login != login or recorded.id != account.get("id"):
        now = f"{recorded.login} (id {recorded.id})" if recorded else "nothing"
        return Finding(
            "bots",
            login,
            False,
            f"org/org.yaml's {where} is {now}, but the App's bot is {login} (id "
            f"{account.get('id')}): its votes and actions would not be recognised",
            fix,
        )
    return Finding("bots", login, True, f"{where} is {login} (id {account.get('id')})")


def _covers(granted: str, wanted: str) -> bool:
    order = {"": 0, "read": 1, "write": 2, "admin": 3}
    return order.get(granted, 0) >= order.get(wanted, 0)


def as_json(findings: list[Finding]) -> dict[str, object]:
    return {
        "ok": all(f.ok for f in findings),
        "problems": sum(not f.ok for f in findings),
        "findings": [dataclasses.asdict(f) for f in findings],
    }
