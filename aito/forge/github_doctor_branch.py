"""The doctor's checks of the governance repository's base branch.

Protection: the ``aito/decision`` status must come from the governance App (a status
any token with ``statuses: write`` could set would let anyone mark a decision
approved), pull requests need code-owner review (a human maintainer for ``org/``,
``profiles/``, ``.github/``), and the governance App may bypass that review, the only
way its verdict can merge a decision record under ``org/``. Then CODEOWNERS, the
``governance`` environment's branch policy, and whether the base branch's workflows are
what `aito render` makes of the base branch's own org/.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pathspec

from aito.forge import github_apps_manifest as manifests
from aito.forge.github_doctor_reading import GitHubReader, Unreadable
from aito.forge.github_doctor_types import Finding
from aito.org import loading
from aito.workflows import rendering

STATUS = "aito/decision"
CODEOWNERS_PLACES = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub's order
OWNED = ("org/", "profiles/", ".github/")
_PROBES = {
    "org/": ("org/org.yaml", "org/agents/x.yaml", "org/decisions/x.yaml", "org/tasks/x.yaml"),
    "profiles/": ("profiles/x.md",),
    ".github/": (".github/workflows/governance.yml", ".github/CODEOWNERS"),
}


def unreadable(check: str, subject: str, exc: Unreadable) -> Finding:
    return Finding(
        check,
        subject,
        False,
        f"cannot read {exc.what} ({exc.reason})",
        "run the doctor with an org owner's token that may read settings: "
        "`gh auth refresh -s admin:org,repo` then "
        "`export AITO_GITHUB_ADMIN_TOKEN=$(gh auth token)`",
    )


def check_branch(
    org: loading.Organization, *, reader: GitHubReader, gov_app_id: int | None, web: str
) -> list[Finding]:
    repo, branch = org.org.governance_repo.repo, org.org.governance_repo.branch
    out = _protection(org, reader, gov_app_id)
    try:
        files = reader.files(repo, branch, (*OWNED, *CODEOWNERS_PLACES))
    except Unreadable as exc:
        return [*out, unreadable("codeowners", f"{repo}@{branch}", exc), *_environment(org, reader)]
    if files is None:
        missing = Finding(
            "render",
            f"{repo}@{branch}",
            False,
            f"the base branch {branch} of {repo} does not exist",
            f"push the governance repository: `git push {web}/{repo} {branch}`",
        )
        return [*out, missing, *_environment(org, reader)]
    return [*out, _codeowners(org, files), *_environment(org, reader), _render(org, files)]


def protection_body(org: loading.Organization, gov_app_id: int | None) -> str:
    gov = manifests.bot_apps(org)[0]
    body = {
        "required_status_checks": {
            "strict": False,
            "checks": [{"context": STATUS, "app_id": gov_app_id or "GOVERNANCE_APP_ID"}],
        },
        "enforce_admins": False,
        "required_pull_request_reviews": {
            "require_code_owner_reviews": True,
            "required_approving_review_count": 1,
            "bypass_pull_request_allowances": {"apps": [gov.slug]},
        },
        "restrictions": None,
    }
    return json.dumps(body, separators=(",", ":"))


def _protection(
    org: loading.Organization, reader: GitHubReader, gov_app_id: int | None
) -> list[Finding]:
    repo, branch = org.org.governance_repo.repo, org.org.governance_repo.branch
    subject = f"{repo}@{branch}"
    fix = (
        f"gh api -X PUT repos/{repo}/branches/{branch}/protection --input - <<'EOF'\n"
        f"{protection_body(org, gov_app_id)}\nEOF"
    )
    try:
        found = reader.get(f"/repos/{repo}/branches/{branch}/protection", "branch protection")
    except Unreadable as exc:
        return [unreadable("protection", subject, exc)]
    if found is None:
        return [Finding("protection", subject, False, f"{branch} is not protected", fix)]
    out = []
    checks = (found.get("required_status_checks") or {}).get("checks") or []
    sources = [c.get("app_id") for c in checks if c.get("context") == STATUS]
    if not sources:
        out.append(
            Finding(
                "protection", subject, False, f"{branch} does not require the {STATUS} status", fix
            )
        )
    elif gov_app_id is None:
        out.append(
            Finding(
                "protection",
                subject,
                False,
                f"cannot tell whether {STATUS} must come from the governance App: its id is "
                "unknown",
                "create and install the governance App and set AITO_GOVERNANCE_APP_ID "
                "(`aito github apps`, `aito github apps record governance`)",
            )
        )
    elif gov_app_id not in sources:
        shown = "any source" if sources[0] in (None, -1) else f"the App {sources[0]}"
        out.append(
            Finding(
                "protection",
                subject,
                False,
                f"{STATUS} is required from {shown}, not from the governance App ({gov_app_id}): "
                "any token that may write statuses could approve a decision",
                fix,
            )
        )
    else:
        out.append(
            Finding(
                "protection",
                subject,
                True,
                f"{STATUS} required from the governance App ({gov_app_id})",
            )
        )
    reviews = found.get("required_pull_request_reviews") or {}
    if not reviews.get("require_code_owner_reviews"):
        out.append(
            Finding(
                "protection",
                subject,
                False,
                f"{branch} does not require review from code owners",
                fix,
            )
        )
    else:
        bypass = (reviews.get("bypass_pull_request_allowances") or {}).get("apps") or []
        slug = manifests.bot_apps(org)[0].slug
        if slug not in {str(a.get("slug")) for a in bypass if isinstance(a, dict)}:
            out.append(
                Finding(
                    "protection",
                    subject,
                    False,
                    f"code-owner review is required but the governance App {slug} may not bypass "
                    "it, so no verdict can merge a decision record",
                    fix,
                )
            )
        else:
            out.append(
                Finding(
                    "protection",
                    subject,
                    True,
                    "code-owner review required; the governance App may merge",
                )
            )
    return out


def _codeowners(org: loading.Organization, files: dict[str, bytes]) -> Finding:
    repo, branch = org.org.governance_repo.repo, org.org.governance_repo.branch
    maintainers = " ".join(f"@{m.login}" for m in org.org.maintainers)
    lines = "\n".join(f"/{d} {maintainers}" for d in OWNED)
    place = next((p for p in CODEOWNERS_PLACES if p in files), None)
    fix = f"add to .github/CODEOWNERS on {branch} (through a pull request):\n{lines}"
    if place is None:
        return Finding(
            "codeowners", f"{repo}@{branch}", False, f"{branch} has no CODEOWNERS file", fix
        )
    rules = []
    for raw in files[place].decode("utf-8", "replace").splitlines():
        words = raw.split("#", 1)[0].split()
        if words:
            rules.append((pathspec.GitIgnoreSpec.from_lines([words[0]]), words[1:]))
    uncovered = []
    for directory, probes in _PROBES.items():
        for probe in probes:
            owners: list[str] = []
            for spec, rule_owners in rules:  # the last matching rule wins
                if spec.match_file(probe):
                    owners = rule_owners
            if not owners:
                uncovered.append(directory)
                break
    if uncovered:
        return Finding(
            "codeowners",
            f"{repo}:{place}",
            False,
            f"{place} gives no owner to {', '.join(uncovered)}",
            fix,
        )
    return Finding("codeowners", f"{repo}:{place}", True, f"{', '.join(OWNED)} have owners")


def _environment(org: loading.Organization, reader: GitHubReader) -> list[Finding]:
    repo, branch = org.org.governance_repo.repo, org.org.governance_repo.branch
    env = rendering.GOVERNANCE_ENVIRONMENT
    path = f"/repos/{repo}/environments/{env}"
    fix = (
        f"gh api -X PUT repos/{repo}/environments/{env} --input - <<<"
        '\'{"deployment_branch_policy":{"protected_branches":false,'
        '"custom_branch_policies":true}}\' && '
        f"gh api -X POST repos/{repo}/environments/{env}/deployment-branch-policies "
        f"-f name={branch} -f type=branch"
    )
    try:
        found = reader.get(path, f"the {env} environment")
        if found is None:
            return [Finding("environment", env, False, f"{repo} has no {env} environment", fix)]
        policy = found.get("deployment_branch_policy")
        if not policy:
            return [
                Finding(
                    "environment",
                    env,
                    False,
                    f"any branch may deploy to {env} (and read its secrets)",
                    fix,
                )
            ]
        if policy.get("protected_branches"):
            return [Finding("environment", env, True, f"only protected branches deploy to {env}")]
        policies = (
            reader.get_all(
                f"{path}/deployment-branch-policies",
                "branch_policies",
                f"the {env} environment's branch policies",
            )
            or []
        )
    except Unreadable as exc:
        return [unreadable("environment", env, exc)]
    names = {(p.get("name"), p.get("type", "branch")) for p in policies}
    if names != {(branch, "branch")}:
        shown = ", ".join(sorted(str(n) for n, _ in names)) or "none"
        return [
            Finding(
                "environment",
                env,
                False,
                f"{env} deploys from {shown}, not from {branch} alone",
                fix,
            )
        ]
    return [Finding("environment", env, True, f"only {branch} deploys to {env}")]


def _render(org: loading.Organization, files: dict[str, bytes]) -> Finding:
    repo, branch = org.org.governance_repo.repo, org.org.governance_repo.branch
    subject = f"{repo}@{branch}"
    with tempfile.TemporaryDirectory(prefix="aito-doctor-") as tmp:
        root = Path(tmp)
        for path, data in files.items():
            if path.startswith(("org/", "profiles/", ".github/workflows/")):
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        result = loading.load(root)
        if result.organization is None or result.problems:
            first = result.problems[0].render(root) if result.problems else "nothing loaded"
            return Finding(
                "render",
                subject,
                False,
                f"the org on {branch} is invalid: {first}",
                f"fix it (`aito validate`) and push to {branch}",
            )
        drifts = rendering.check(result.organization)
    if drifts:
        shown = ", ".join(f"{d.path.name} ({d.kind})" for d in drifts)
        return Finding(
            "render",
            subject,
            False,
            f"workflows on {branch} are not current: {shown}",
            f"run `aito render` on {branch}'s org and push .github/workflows/ "
            "through a pull request",
        )
    return Finding("render", subject, True, f"the workflows on {branch} are current")
