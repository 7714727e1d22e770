"""`aito demo`: the main job on the embedded defaults."""

from __future__ import annotations

from pathlib import Path

import click

from aito.cli import types
from aito.cli.context import emit_json, progress, state
from aito.demo import rendering, simulating


@click.command()
@click.option(
    "--dir",
    "target",
    type=types.directory(),
    default=None,
    help="Where the demo's governance repo goes (replaced on each run). "
    "Default: .aito/demo under the current repo.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Same seed, same day.",
)
@click.option(
    "--hours", type=click.IntRange(1, 72), default=24, show_default=True, help="Simulated hours."
)
@click.option(
    "--runtime",
    "containers",
    type=click.Choice(["inprocess", "docker"]),
    default="inprocess",
    show_default=True,
    help="Where wake-ups run: right here, or each in a container of AITO_IMAGE (needs "
    "Docker and the image: runner/build-image), as on a runner.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON (timeline on stderr)."
)
@click.pass_context
def demo(
    ctx: click.Context,
    target: Path | None,
    seed: int,
    hours: int,
    containers: str,
    as_json: bool,
) -> None:
    """Run a simulated day of the example organization, offline, in well under a minute.

    Creates a governance repo from the Shiba Classic example (a git repo with a local
    forge), starts embedded Postgres and Redis for it, and advances a simulated clock:
    agents wake on their schedules and on messages and think with the offline model
    (rule-driven, no API key); the CEO runs its status loop; the CMO's campaign goes
    through a split vote, round-2 analysis, a round-3 tie and a maintainer's decision;
    the CTO's minor policy passes by lazy consensus; a worker drafts content; a budget
    limit is hit and handled. Prints the timeline and a summary, and leaves the repo
    and database for inspection (`aito --repo DIR decide status --all`, `git -C DIR log`).

    With --runtime docker every wake-up runs in a container of AITO_IMAGE and workers in
    sandboxes (no network, no credentials), as on a runner: the same day, slower.
    """
    settings = state(ctx).service_settings(org=False)
    if target is not None:
        types.writable_directory(target, option="--dir")
    where = (target or settings.data_dir / "demo").resolve()
    env = {}
    if settings.postgres_url is not None:
        env["POSTGRES_URL"] = settings.postgres_url.get_secret_value()
    if settings.redis_url is not None:
        env["REDIS_URL"] = settings.redis_url.get_secret_value()
    env["AITO_IMAGE"] = settings.image
    env["AITO_AGENT_NETWORK"] = settings.agent_network
    echo = progress if as_json else click.echo
    report = simulating.run(
        target=where, env=env, seed=seed, hours=hours, echo=echo, containers=containers
    )
    if as_json:
        emit_json(report.as_json())
        return
    for line in rendering.render_summary(report):
        click.echo(line)
