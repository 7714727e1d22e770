"""The doctor's checks of what GitHub Actions provides: secrets, variables and runners.

Secrets and variables: every name :func:`aito.workflows.credentials.needs` lists must
exist where its job can read it (the repository, the organization's secrets shared
with it, or the job's environment; the governance App's only in its environment).
Names only: GitHub never returns a secret's value. Runners: at least one online
self-hosted runner, of the repository or the organization, carries every label in
``defaults.runner_labels``.
"""

from __future__ import annotations

from typing import Any

from aito.forge import github_doctor_branch as branch_checks
from aito.forge.github_doctor_reading import GitHubReader, Unreadable
from aito.forge.github_doctor_types import Finding
from aito.org import loading
from aito.workflows import credentials


def check_credentials(org: loading.Organization, reader: GitHubReader) -> list[Finding]:
    repo = org.org.governance_repo.repo
    base = f"/repos/{repo}/actions"
    out: list[Finding] = []
    lists: dict[tuple[str, str | None], set[str] | None] = {}

    def read(kind: str, scope: str | None) -> set[str] | None:
        if (kind, scope) not in lists:
            plural = "secrets" if kind == "secret" else "variables"
            paths = (
                [f"/repos/{repo}/environments/{scope}/{plural}"]
                if scope
                else [f"{base}/{plural}", f"{base}/organization-{plural}"]
            )
            names: set[str] | None = set()
            for path in paths:
                try:
                    got = reader.names(path, plural, f"{kind}s of {scope or repo}")
                except Unreadable as exc:
                    out.append(branch_checks.unreadable(f"{kind}s", path, exc))
                    names = None
                    break
                assert names is not None
                names |= set(got or {})
            lists[(kind, scope)] = names
        return lists[(kind, scope)]

    for need in credentials.needs(org):
        if need.optional:
            continue
        in_env = read(need.kind, need.environment) if need.environment else set()
        in_repo = read(need.kind, None)
        if in_env is None or in_repo is None:
            continue
        check, subject = f"{need.kind}s", need.name
        env = f" --env {need.environment}" if need.environment_only else ""
        command = "gh secret set" if need.kind == "secret" else "gh variable set"
        value = "< FILE" if need.kind == "secret" else "--body VALUE"
        fix = f"{command} {need.name} --repo {repo}{env} {value}"
        readers = ", ".join(need.readers)
        if need.name in in_env or (not need.environment_only and need.name in in_repo):
            out.append(Finding(check, subject, True, f"set (read by {readers})"))
        elif need.environment_only and need.name in in_repo:
            out.append(
                Finding(
                    check,
                    subject,
                    False,
                    f"{need.name} is a repository {need.kind}: any workflow on any branch can read "
                    f"it; it belongs in the {need.environment} environment",
                    f"{fix}; then `gh {need.kind} delete {need.name} --repo {repo}`",
                )
            )
        else:
            where = f"the {need.environment} environment" if need.environment_only else repo
            out.append(
                Finding(
                    check,
                    subject,
                    False,
                    f"the {need.kind} {need.name} is missing in {where} (read by {readers})",
                    fix,
                )
            )
    return out


def check_runners(org: loading.Organization, reader: GitHubReader, web: str) -> list[Finding]:
    labels = set(org.org.defaults.runner_labels)
    repo = org.org.governance_repo.repo
    runners: list[dict[str, Any]] = []
    problems: list[Finding] = []
    for path in (f"/repos/{repo}/actions/runners", f"/orgs/{org.org.github_org}/actions/runners"):
        try:
            runners += reader.get_all(path, "runners", "self-hosted runners") or []
        except Unreadable as exc:
            problems.append(branch_checks.unreadable("runners", path, exc))

    def names(runner: dict[str, Any]) -> set[str]:
        return {str(label.get("name")) for label in runner.get("labels") or []}

    fitting = [r for r in runners if labels <= names(r)]
    online = [r for r in fitting if r.get("status") == "online"]
    shown = ",".join(sorted(labels))
    if online:
        listed = ", ".join(sorted(str(r.get("name")) for r in online))
        return [Finding("runners", shown, True, f"online with labels {shown}: {listed}")]
    if problems and not runners:
        return problems
    state = (
        f"{len(fitting)} runner(s) with labels {shown}, none online"
        if fitting
        else f"no self-hosted runner carries the labels {shown}"
    )
    return [
        *problems,
        Finding(
            "runners",
            shown,
            False,
            state,
            f"register one (docs/deploy.md, Runners): on the runner host, "
            f"`./config.sh --url {web}/{org.org.github_org} --token TOKEN --labels "
            f"{','.join(sorted(labels - {'self-hosted'}))}` then `./run.sh` (or `./svc.sh install`)"
            + ("; start the stopped runner" if fitting else ""),
        ),
    ]
