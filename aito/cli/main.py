"""`aito`: the command line, grouped by noun. Errors become messages here and only here.

Exit codes: 0 ok · 1 the organization is invalid, workflows drifted, or `github doctor`
found a missing piece · 2 usage error
(a bad option or argument, an unknown agent) · 3 configuration error (settings, the data
directory) · 4 governance error (no such pull request, not a decision, an illegal
request) · 5 permission denied · 6 a service (Postgres, Redis, GitHub …) failed ·
7 conflict (changed by someone else first) · 8 an agent run stopped as a loop · 9 an
agent run refused by its budget · 70 a bug in AITO (with a traceback) · 130 interrupted
(Ctrl-C; also while the command line loads, see aito/cli/launching.py).

Every option is typed (aito/cli/types.py), so a value that cannot work is a usage
error before anything runs; no input should ever reach the traceback of exit 70.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from pathlib import Path

import click

from aito import __version__
from aito.cli import (
    agent_commands,
    budget_commands,
    bus_commands,
    dashboard_commands,
    decide_commands,
    decide_humans,
    demo_commands,
    github_commands,
    logformat,
    mcp_commands,
    memory_commands,
    notify_commands,
    orchestrator_commands,
    org_commands,
    services_commands,
    types,
    worker_commands,
)
from aito.cli.context import CliState
from aito.errors import AitoError, OrgDefinitionError

EXIT_BUG = 70


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Exit codes: 0 ok, 1 invalid org, drift or a doctor finding, 2 usage (bad option, "
    "unknown agent), 3 configuration (settings, data directory), 4 governance (no such PR, "
    "not a decision), 5 permission denied, 6 service or forge failure, 7 conflict, 8 agent "
    "run stopped as a loop, 9 agent run out of budget, 70 bug, 130 interrupted (Ctrl-C). Docs: "
    "README.md; env vars: AITO_REPO, AITO_DATA_DIR, POSTGRES_URL, REDIS_URL, AITO_MODEL, "
    "ANTHROPIC_API_KEY.",
)
@click.option(
    "--repo",
    type=types.directory(),
    default=None,
    help="The governance repo (holds org/ and profiles/). Default: $AITO_REPO or the current "
    "directory.",
)
@click.option(
    "--data-dir",
    type=types.directory(),
    default=None,
    help="Where the embedded Postgres and Redis keep their data. Default: $AITO_DATA_DIR or "
    "<repo>/.aito.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--log-json",
    is_flag=True,
    help="Log lines as JSON objects (at, level, logger, message, and the agent, run or "
    "decision they concern), e.g. for `aito orchestrator` under a log collector.",
)
@click.version_option(__version__, prog_name="aito")
@click.pass_context
def cli(
    ctx: click.Context, repo: Path | None, data_dir: Path | None, verbose: int, log_json: bool
) -> None:
    """AITO runs an autonomous AI organization as code, governed through pull requests.

    The organization lives in a git repo: agents in org/agents/*.yaml, profiles in
    profiles/*.md, decisions and tasks in org/decisions/ and org/tasks/. Start with:

    \b
      aito demo          a simulated day of the example organization (offline, no keys)
      aito up            start the embedded services, register the agents, print the org chart
      aito validate      check org/ and profiles/, every problem with file:line
      aito render        regenerate .github/workflows/ from org/
      aito init DIR      scaffold your own organization
      aito decide …      decisions as pull requests, votes as reviews
      aito agent run ID  wake an agent once: context, model, checked actions, memory
      aito budget        model spend against the hard limits
      aito dashboard     the web dashboard: the org live, runs, costs, the human inbox
      aito github …      run it on a GitHub org: Apps for the bots, `doctor` checks it all
      aito orchestrator  keep the org healthy: restarts, failover to the DAO, humans told
      aito mcp …         the MCP servers agents and workers may use; AITO's own connectors
      aito notify test   try each channel that tells humans when they are needed
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if log_json:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(logformat.JsonFormatter())
    ctx.obj = CliState(repo=repo, data_dir=data_dir)


cli.add_command(demo_commands.demo)
cli.add_command(org_commands.up)
cli.add_command(org_commands.validate)
cli.add_command(org_commands.render)
cli.add_command(org_commands.schema)
cli.add_command(org_commands.init)
cli.add_command(org_commands.org)
cli.add_command(services_commands.services)
cli.add_command(agent_commands.agent)
cli.add_command(decide_commands.decide)
for _command in decide_humans.COMMANDS:
    decide_commands.decide.add_command(_command)
cli.add_command(memory_commands.memory)
cli.add_command(bus_commands.bus)
cli.add_command(budget_commands.budget)
cli.add_command(dashboard_commands.dashboard)
cli.add_command(github_commands.github)
cli.add_command(worker_commands.worker)
cli.add_command(orchestrator_commands.orchestrator)
cli.add_command(mcp_commands.mcp)
cli.add_command(notify_commands.notify)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and turn AitoError into a message and an exit code."""
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="aito", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except OrgDefinitionError as exc:
        for problem in exc.problems:
            click.echo(problem.render(Path.cwd()), err=True)
        click.echo(f"error: the organization has {len(exc.problems)} problem(s)", err=True)
        sys.exit(exc.exit_code)
    except AitoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `aito … | head`: the reader left; say nothing more
        with contextlib.suppress(OSError, ValueError):
            # Python flushes stdout at exit: point it at /dev/null so that cannot fail.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        click.echo("error: this is a bug in AITO; please report it with the traceback", err=True)
        sys.exit(EXIT_BUG)
    sys.exit(code if isinstance(code, int) else 0)
