"""Commands about the organization itself: up, validate, render, schema, init, org show."""

from __future__ import annotations

from pathlib import Path

import click

from aito import scaffolding
from aito.agent import prompting
from aito.bus import keys
from aito.cli import charting, context, types
from aito.cli.context import emit_json, progress, state
from aito.errors import Problem
from aito.memory import base
from aito.org import loading, schemas
from aito.services import managing
from aito.workflows import rendering


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def up(ctx: click.Context, as_json: bool) -> None:
    """Start the services, apply the schema, register the agents, print the org chart.

    Without POSTGRES_URL / REDIS_URL this starts the embedded Postgres (with
    pgvector) and Redis under the data directory, or reuses the running ones.
    Running it twice changes nothing.
    """
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    progress(f"loading the organization in {settings.repo} …")
    org = cli_state.organization()
    progress("starting services (embedded unless POSTGRES_URL / REDIS_URL are set) …")
    with context.runtime(settings) as runtime:
        applied = runtime.memory.migrate()
        progress(
            f"schema: applied {len(applied)} migration(s)" if applied else "schema: up to date"
        )
        rows = base.agent_rows(org)
        registration = runtime.memory.register_agents(rows)
        redis_changed = runtime.bus.register_agents({r.id: r.definition_hash for r in rows})
        synced = runtime.memory.sync_records(
            decisions=base.decision_rows(org), tasks=base.task_rows(org)
        )
        vector = runtime.memory.vector_version()
    endpoints = runtime.endpoints
    if as_json:
        emit_json(
            {
                "organization": org.org.name,
                "postgres": {
                    "url": managing.mask(endpoints.postgres_url),
                    "embedded": endpoints.postgres_embedded,
                    "pgvector": vector,
                },
                "redis": {
                    "url": managing.mask(endpoints.redis_url),
                    "embedded": endpoints.redis_embedded,
                },
                "migrations_applied": [m.version for m in applied],
                "registered": {
                    "inserted": registration.inserted,
                    "updated": registration.updated,
                    "retired": registration.retired,
                    "unchanged": registration.unchanged,
                    "redis_changed": redis_changed,
                },
                "agents": [
                    charting.agent_summary(org, a)
                    for a in sorted(org.agents.values(), key=lambda a: a.id)
                ],
            }
        )
        return
    click.echo(
        f"postgres: {managing.mask(endpoints.postgres_url)} "
        f"({'embedded' if endpoints.postgres_embedded else 'external'}, pgvector {vector})"
    )
    click.echo(
        f"redis:    {managing.mask(endpoints.redis_url)} "
        f"({'embedded' if endpoints.redis_embedded else 'external'})"
    )
    changed = len(registration.inserted) + len(registration.updated)
    click.echo(
        f"agents:   {len(rows)} registered in Postgres and Redis ({keys.agent_status('<id>')}); "
        f"{changed} new or changed, {len(registration.retired)} retired"
    )
    click.echo(
        f"records:  {len(org.decisions)} decisions, {len(org.tasks)} tasks mirrored in Postgres "
        f"({len(synced['decisions']) + len(synced['tasks'])} changed)\n"
    )
    click.echo(charting.chart(org), nl=False)


@click.command()
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    show_default=True,
    help="text: file:line: message · github: ::error annotations for Actions · json: a list.",
)
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.pass_context
def validate(ctx: click.Context, output: str, as_json: bool) -> None:
    """Check org/ and profiles/: schema, cross-references, profile and prompt sizes.

    Exit 1 on any problem.
    """
    if as_json:
        output = "json"
    settings = state(ctx).settings()
    result = loading.load(settings.repo)
    problems = result.problems
    if result.organization is not None and not problems:
        problems = prompting.prompt_problems(result.organization)
    root = settings.repo
    if output == "json":
        emit_json(
            {
                "valid": not problems,
                "problems": [
                    {"file": p.display_path(root), "line": p.line, "message": p.message}
                    for p in problems
                ],
            }
        )
    elif output == "github":
        for problem in problems:
            click.echo(_annotation(problem, root))
    else:
        for problem in problems:
            click.echo(problem.render(root))
    if problems:
        if output == "text":
            click.echo(f"{len(problems)} problem(s) found", err=True)
        ctx.exit(1)
    if output == "text" and result.organization is not None:
        org = result.organization
        click.echo(
            f"ok: {org.org.name}: {len(org.agents)} agents, {len(org.decisions)} decisions, "
            f"{len(org.tasks)} tasks"
        )


def _annotation(problem: Problem, root: Path) -> str:
    # GitHub workflow commands: properties escape % \r \n , and :; the message escapes % \r \n.
    def prop(text: str) -> str:
        return (
            text.replace("%", "%25")
            .replace("\r", "%0D")
            .replace("\n", "%0A")
            .replace(":", "%3A")
            .replace(",", "%2C")
        )

    message = problem.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error file={prop(problem.display_path(root))},line={problem.line}::{message}"


@click.command()
@click.option("--check", is_flag=True, help="Change nothing; exit 1 and show a diff on drift.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: workflows (how many), changed or drifted ([{path, kind}]).",
)
@click.pass_context
def render(ctx: click.Context, check: bool, as_json: bool) -> None:
    """Regenerate .github/workflows/ from org/ (one workflow per agent, governance.yml and
    governance-review.yml)."""
    org = state(ctx).organization()
    if check:
        drifts = rendering.check(org)
        if as_json:
            emit_json(
                {
                    "workflows": len(rendering.render(org)),
                    "drifted": [{"path": str(d.path), "kind": d.kind} for d in drifts],
                }
            )
            if drifts:
                ctx.exit(1)
            return
        for drift in drifts:
            click.echo(drift.diff, nl=False)
        if drifts:
            names = ", ".join(f"{d.path} ({d.kind})" for d in drifts)
            click.echo(f"error: workflows drifted from org/: {names}; run `aito render`", err=True)
            ctx.exit(1)
        click.echo(f"ok: {len(rendering.render(org))} workflows match org/")
        return
    changed = rendering.write(org)
    if as_json:
        emit_json({"workflows": len(rendering.render(org)), "changed": [str(p) for p in changed]})
        return
    for path in changed:
        click.echo(f"wrote {path}")
    if not changed:
        click.echo(f"ok: {len(rendering.render(org))} workflows already up to date")


@click.command()
@click.argument("name", required=False, type=click.Choice(sorted(schemas.FORMATS)))
@click.option(
    "--write",
    "directory",
    type=types.directory(),
    help="Write every schema as <name>.json into this directory instead of printing.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The list of formats (or the files written) as JSON; a schema is JSON already.",
)
def schema(name: str | None, directory: Path | None, as_json: bool) -> None:
    """Print the JSON Schema of a file format (org, agent, decision, task, message).

    Editors validate YAML with these (e.g. a `# yaml-language-server: $schema=` line).
    """
    if directory is not None:
        types.writable_directory(directory, option="--write")
        written = []
        for key in sorted(schemas.FORMATS):
            (directory / f"{key}.json").write_text(schemas.dump(key), encoding="utf-8")
            written.append(str(directory / f"{key}.json"))
        if as_json:
            emit_json({"written": written})
            return
        for path in written:
            click.echo(f"wrote {path}")
        return
    if name is None and as_json:
        emit_json({key: where for key, (_, where) in sorted(schemas.FORMATS.items())})
        return
    if name is None:
        for key, (_, where) in sorted(schemas.FORMATS.items()):
            click.echo(f"{key:9} {where}")
        click.echo("\nrun `aito schema NAME` for one schema, `--write DIR` for all")
        return
    click.echo(schemas.dump(name), nl=False)


@click.command()
@click.argument("directory", type=types.directory())
@click.option(
    "--example",
    type=click.Choice(scaffolding.EXAMPLES),
    default="minimal",
    show_default=True,
    help="minimal: CEO, DAO, CTO and one worker kind · shiba-classic: the full seed organization.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing org/ in DIRECTORY.")
@click.option("--no-git", is_flag=True, help="Do not run `git init` nor make the first commit.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: root, files, commit, note.")
def init(directory: Path, example: str, force: bool, no_git: bool, as_json: bool) -> None:
    """Scaffold a new governance repo in DIRECTORY: org/, profiles/, workflows, CODEOWNERS.

    Then `git init` on the organization's base branch and one first commit of it all
    (as "aito init <aito-init@localhost>" when git has no user configured). A
    DIRECTORY that is already a git repository gets the files, not a commit.
    """
    if (directory / "org").exists() and not force:
        raise click.BadParameter(
            f"{directory} already has an org/ directory; pass --force to overwrite it",
            param_hint="DIRECTORY",
        )
    types.writable_directory(directory, option="DIRECTORY")
    made = scaffolding.init(directory, example=example, force=force, git=not no_git)
    if as_json:
        emit_json(
            {
                "root": str(made.root),
                "example": example,
                "files": [str(f) for f in made.files],
                "commit": made.commit,
                "note": made.note or None,
            }
        )
        return
    click.echo(f"created {len(made.files)} files in {directory} from the {example} example")
    if made.commit:
        click.echo(f"first commit: {made.commit[:12]}")
    if made.note:
        progress(f"note: {made.note}")
    click.echo(
        f"next: edit {directory}/org/org.yaml (maintainers, bots, repos), then "
        f"`aito --repo {directory} validate` and `aito --repo {directory} up`"
    )


@click.group()
def org() -> None:
    """Look at the organization without starting services."""


@org.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the agents as JSON.")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print the org chart: reporting lines, schedules, budgets, repos and paths."""
    organization = state(ctx).organization()
    if as_json:
        emit_json(
            [
                charting.agent_summary(organization, a)
                for a in sorted(organization.agents.values(), key=lambda a: a.id)
            ]
        )
        return
    click.echo(charting.chart(organization), nl=False)
