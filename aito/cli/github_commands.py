"""`aito github …`: put the organization on a real GitHub org (docs/deploy.md).

``apps`` writes one GitHub App manifest per bot and a page that creates it; ``apps
record`` writes a created App's bot login and numeric id into org/org.yaml and saves
its private key; ``doctor`` checks, through the API, everything a live org needs.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from aito.cli import context, types
from aito.errors import ConfigError, OrgDefinitionError
from aito.forge import github_apps_manifest as manifests
from aito.forge import github_apps_registering as registering
from aito.forge import github_doctor
from aito.forge.github_doctor_reading import GitHubReader
from aito.org import bot_recording, loading

ADMIN_TOKEN = "AITO_GITHUB_ADMIN_TOKEN"  # noqa: S105 - an env var's name


@click.group()
def github() -> None:
    """Run the organization on GitHub: Apps for the bots, and a check of the whole set-up.

    \b
    The steps (docs/deploy.md has them in full):
      aito github apps                  one App manifest per bot, and a page to create each
      aito github apps record ID --code CODE
                                        write the App's bot login and id into org/org.yaml,
                                        save its key, print the secrets to store
      aito github doctor                check the live org; every missing piece with its fix

    The API is $AITO_GITHUB_API_URL (GitHub Enterprise: https://HOST/api/v3).
    """


@github.group(invoke_without_command=True)
@click.option(
    "--pages",
    "pages_dir",
    type=types.directory(),
    default=None,
    help="Where to write one HTML page per App whose button creates it on GitHub. "
    "Default: <data-dir>/github-apps.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifests and names as JSON.")
@click.pass_context
def apps(ctx: click.Context, pages_dir: Path | None, as_json: bool) -> None:
    """One GitHub App manifest per bot: every agent with a loop, and the governance App.

    Agents' Apps get contents, pull requests and issues: write (push a branch, open a
    pull request, vote with a review, comment) and metadata: read; the governance App
    also statuses: write (the aito/decision status). No webhooks, no workflows
    permission. Open each page and press its button: GitHub creates the App under the
    org (the manifest flow) and sends you back with ?code=… in the address bar; then run
    `aito github apps record ID --code CODE`.
    """
    if ctx.invoked_subcommand is not None:
        return
    state = context.state(ctx)
    org = state.organization()
    settings = state.settings()
    web = manifests.web_url(settings.github_api_url)
    target = types.writable_directory(
        pages_dir or settings.data_dir / "github-apps", option="--pages"
    )
    bots = manifests.bot_apps(org)
    rows = []
    for app in bots:
        page = target / f"create-app-{app.key}.html"
        page.write_text(manifests.form_page(app, org, web=web), encoding="utf-8")
        rows.append(
            {
                "bot": app.key,
                "name": app.name,
                "slug": app.slug,
                "login": registering.bot_login(app.slug),
                "permissions": app.permissions,
                "repos": list(app.repos),
                "id_variable": app.id_variable,
                "key_secret": app.key_secret,
                "environment": app.environment,
                "manifest": manifests.manifest(app, org, web=web),
                "page": str(page),
            }
        )
    create = manifests.creation_url(org, web=web)
    if as_json:
        context.emit_json({"create_url": create, "apps": rows})
        return
    click.echo(f"{len(rows)} GitHub Apps for {org.org.name}, created under {create}:\n")
    for app, row in zip(bots, rows, strict=True):
        perms = ", ".join(f"{k}: {v}" for k, v in sorted(app.permissions.items()))
        where = f"environment {app.environment}" if app.environment else "repository"
        click.echo(f"  {app.key:<12} {app.name}  ({perms})")
        click.echo(f"  {'':<12} install on: {', '.join(app.repos)}")
        click.echo(f"  {'':<12} {where}: variable {app.id_variable}, secret {app.key_secret}")
        click.echo(f"  {'':<12} page: {row['page']}\n")
    click.echo(
        "Open each page in a browser signed in as an org owner and press its button. GitHub "
        "creates the App and sends you to the governance repository with ?code=… in the "
        "address; within an hour run `aito github apps record BOT --code CODE`."
    )


@apps.command()
@click.argument("bot", type=types.Name())
@click.option(
    "--code",
    type=types.Name(),
    default=None,
    help="The code GitHub's manifest flow "
    "returned (?code=… in the address it sent you to; works once, for an hour).",
)
@click.option(
    "--slug",
    type=types.Name(),
    default=None,
    help="An existing App's slug "
    "(github.com/apps/<slug>): record its bot without a code (no key is saved).",
)
@click.option(
    "--key-file",
    type=types.LocalPath(dir_okay=False, path_type=Path),
    default=None,
    help="Where to save the App's private key (mode 0600). Default: "
    "<data-dir>/github-apps/<slug>.private-key.pem.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was recorded as JSON.")
@click.pass_context
def record(
    ctx: click.Context,
    bot: str,
    code: str | None,
    slug: str | None,
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Write a created App's bot login and numeric id into org/org.yaml.

    BOT is an agent id with a loop, or `governance`. With --code (the manifest flow's)
    the App's id, slug and private key come from GitHub; the key is saved to a file
    only you can read and never printed. With --slug the bot's id is looked up. Comments
    and layout of org/org.yaml are kept; the org is validated after the edit (nothing is
    written when it would be invalid). Then store the printed secret and variable.
    """
    if (code is None) == (slug is None):
        raise click.UsageError("give exactly one of --code or --slug")
    state = context.state(ctx)
    org = state.organization()
    settings = state.settings()
    by_key = {a.key: a for a in manifests.bot_apps(org)}
    if bot not in by_key:
        raise click.BadParameter(
            f"{types.short(bot)} has no App; bots: {', '.join(by_key)}", param_hint="BOT"
        )
    app = by_key[bot]
    token = settings.github_admin_token
    app_id: int | None = None
    saved: Path | None = None
    if code is not None:
        created = registering.convert_code(settings.github_api_url, code)
        app_id, slug = created.app_id, created.slug
        if created.private_key is not None:  # first: the code cannot be exchanged again
            saved = key_file or settings.data_dir / "github-apps" / f"{slug}.private-key.pem"
            _save_key(saved, created.private_key.get_secret_value())
            context.progress(f"saved the private key of {slug} (App id {app_id}) to {saved}")
    assert slug is not None
    slug = registering.check_slug(slug)
    keys = ("governance_repo", "bot") if bot == manifests.GOVERNANCE else ("bots", bot)
    login, bot_id = registering.bot_account(settings.github_api_url, slug, token=token)
    _write_org(org, keys=keys, login=login, bot_id=bot_id)
    repo = org.org.governance_repo.repo
    env = f" --env {app.environment}" if app.environment else ""
    web = manifests.web_url(settings.github_api_url)
    steps = [
        f"gh variable set {app.id_variable} --repo {repo}{env} --body "
        f"{app_id if app_id is not None else 'APP_ID'}",
        f"gh secret set {app.key_secret} --repo {repo}{env} < {saved or 'PRIVATE_KEY.pem'}",
        f"install the App on {', '.join(app.repos)}: {web}/apps/{slug}/installations/new",
        "commit org/org.yaml to the base branch",
    ]
    result = {
        "bot": bot,
        "app_id": app_id,
        "slug": slug,
        "login": login,
        "id": bot_id,
        "org_yaml_key": ".".join(keys),
        "key_file": str(saved) if saved else None,
        "id_variable": app.id_variable,
        "key_secret": app.key_secret,
        "environment": app.environment,
        "next": steps,
    }
    if as_json:
        context.emit_json(result)
        return
    click.echo(f"recorded {'.'.join(keys)}: {login} (id {bot_id})")
    if saved:
        click.echo(f"saved the private key to {saved} (mode 0600; it is not shown)")
    if slug != app.slug:
        click.echo(f"note: the App's slug is {slug}, not {app.slug} as org.yaml had")
    click.echo("next:")
    for step in steps:
        click.echo(f"  {step}")


def _save_key(path: Path, pem: str) -> None:
    """Write the key readable by its owner only (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(pem)


def _write_org(
    org: loading.Organization, *, keys: tuple[str, ...], login: str, bot_id: int
) -> None:
    """Edit org.yaml in place; put the old text back if the org no longer validates."""
    path = org.root / loading.ORG_FILE
    before = path.read_text(encoding="utf-8")
    after = bot_recording.record_bot(before, path=path, keys=keys, login=login, bot_id=bot_id)
    temporary = path.with_suffix(".yaml.aito-tmp")
    temporary.write_text(after, encoding="utf-8")
    temporary.replace(path)
    problems = loading.load(org.root).problems
    if problems:
        path.write_text(before, encoding="utf-8")
        raise OrgDefinitionError(problems)


@github.command()
@click.option("--json", "as_json", is_flag=True, help="Print every finding as JSON.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check the live GitHub org: exit 0 only when everything AITO needs is in place.

    Reads (never writes), with a maintainer's token in $AITO_GITHUB_ADMIN_TOKEN (e.g.
    `export AITO_GITHUB_ADMIN_TOKEN=$(gh auth token)`; it must read the org's Apps,
    runners, secrets' names and branch protection: an org owner's, scopes repo and
    admin:org): the repositories exist; the maintainers' ids are GitHub's; each App is
    installed on its agent's repositories with its permissions, and org.yaml has its
    bot's id; the base branch requires aito/decision from the governance
    App and code-owner review; CODEOWNERS covers org/, profiles/, .github/; the
    governance environment deploys from the base branch only; every secret and
    variable the workflows read exists; an online self-hosted runner has the org's
    labels; the workflows on the base branch are current. Exit 1 when anything is
    missing (each with its fix), 3 without the token, 6 when GitHub cannot be reached.
    """
    state = context.state(ctx)
    org = state.organization()
    settings = state.settings()
    if settings.github_admin_token is None:
        raise ConfigError(
            f"{ADMIN_TOKEN} is not set: the doctor reads the org's settings with a "
            f"maintainer's token, e.g. `export {ADMIN_TOKEN}=$(gh auth token)`"
        )
    reader = GitHubReader(api_url=settings.github_api_url, token=settings.github_admin_token)
    try:
        findings = github_doctor.diagnose(
            org, reader=reader, web=manifests.web_url(settings.github_api_url)
        )
    finally:
        reader.close()
    if as_json:
        context.emit_json(github_doctor.as_json(findings))
    else:
        for finding in findings:
            mark = "ok  " if finding.ok else "FAIL"
            click.echo(f"{mark} {finding.check:<12} {finding.subject}: {finding.message}")
            if finding.fix:
                fix = finding.fix.replace("\n", "\n           ")
                click.echo(f"     fix: {fix}")
        problems = sum(not f.ok for f in findings)
        click.echo(
            f"\n{problems} problem(s) of {len(findings)} checks"
            if problems
            else f"\nall {len(findings)} checks hold"
        )
    ctx.exit(0 if all(f.ok for f in findings) else 1)
