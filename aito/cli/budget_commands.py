"""`aito budget`: model spend per agent, day and model, against the hard limits in org/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import click

from aito.bus import budgets
from aito.cli import context, types
from aito.cli.context import emit_json, state
from aito.views import budgets as views_budgets


@click.command()
@click.option(
    "--days",
    default=7,
    show_default=True,
    type=click.IntRange(1, 366),
    help="Show spend for the last N UTC days, today included.",
)
@click.option(
    "--agent",
    "agent_id",
    type=types.Agent(),
    default=None,
    help="Only this agent (and the org's budget).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys).")
@click.pass_context
def budget(ctx: click.Context, days: int, agent_id: str | None, as_json: bool) -> None:
    """Show model spend per agent, day and model, and what is left of each budget.

    Budgets are hard limits on what models may cost, per UTC day and month:
    org/org.yaml sets the whole organization's (`budget: daily_usd, monthly_usd`),
    each org/agents/<id>.yaml the agent's own (`budget: daily_usd, monthly_usd`,
    optionally `daily_tokens`). Before every model call the agent reserves the
    call's estimated cost against its own limits and the org's, atomically in
    Redis and shared by every process: if any limit would be exceeded, the call is
    not made. After the call the real cost replaces the reservation; a reservation
    left by a crashed process is given back after 15 minutes.

    Spend comes from Postgres (`model_usage`, one row per model call: the durable
    record); RESERVED is what calls in flight hold right now in Redis. Calls made by
    the offline model cost nothing: their spend is *simulated* (priced as the agent's
    model, so budgets work offline), marked `*` and counted against the budgets like
    real spend (`simulated`, `simulated_usd` in --json).

    \b
      aito budget                    last 7 days, every agent, and all budgets
      aito budget --agent cmo        one agent (with the org's budget it shares)
      aito budget --days 30 --json   for scripts
    """
    cli_state = state(ctx)
    settings = cli_state.service_settings()
    org = cli_state.organization()
    now = dt.datetime.now(dt.UTC)
    with context.runtime(settings, org=org) as runtime:
        ledger = budgets.BudgetLedger(runtime.bus)
        ledger.expire(now=now)  # what a crashed process still held is given back first
        found = views_budgets.report(
            org, runtime.memory, ledger, now=now, days=days, agent_id=agent_id
        )
    usage = [row.model_dump() for row in found.usage]
    table = [row.model_dump() for row in found.budgets]
    if as_json:
        emit_json(
            {
                "now": now.isoformat(),
                "days": days,
                "since": found.since.isoformat(),
                "agent": agent_id,
                "usage": usage,
                "budgets": table,
            }
        )
        return
    _print_usage(usage, first_day=found.since, today=now.date())
    click.echo()
    _print_budgets(table, now=now)


def _print_usage(usage: Sequence[dict[str, Any]], *, first_day: dt.date, today: dt.date) -> None:
    click.echo(f"Model spend {first_day} … {today} (UTC days), from Postgres model_usage:")
    if not usage:
        click.echo("  no model calls recorded")
        return
    aw = max(len(u["agent_id"]) for u in [*usage, {"agent_id": "AGENT"}])
    mw = max(len(u["model"]) for u in [*usage, {"model": "MODEL"}])
    click.echo(
        f"{'DAY':10}  {'AGENT':{aw}}  {'MODEL':{mw}}  {'CALLS':>5} {'INPUT':>10} {'OUTPUT':>9} "
        f"{'CACHED':>10} {'COST':>11} {'P50':>7}"
    )
    for u in usage:
        cached = u["cache_write_tokens"] + u["cache_read_tokens"]
        p50 = u["latency_p50_ms"]
        latency = "—" if p50 is None else f"{p50 / 1000:.1f}s"
        cost = budgets.money(u["cost_usd"]) + ("*" if u["simulated"] else " ")
        click.echo(
            f"{u['day']:10}  {u['agent_id']:{aw}}  {u['model']:{mw}}  {u['calls']:5} "
            f"{u['input_tokens']:10,} {u['output_tokens']:9,} {cached:10,} "
            f"{cost:>11} {latency:>7}"
        )
    total = sum(u["cost_usd"] for u in usage)
    calls = sum(u["calls"] for u in usage)
    click.echo(f"{'':10}  {'total':{aw}}  {'':{mw}}  {calls:5} {'':31} {budgets.money(total):>10}")
    simulated = sum(u["cost_usd"] for u in usage if u["simulated"])
    if simulated:
        click.echo(
            f"* simulated: {budgets.money(simulated)} of this was thought by the offline model "
            "(no money spent; priced as the agent's model and counted against the budgets)"
        )


def _print_budgets(table: Sequence[dict[str, Any]], *, now: dt.datetime) -> None:
    click.echo(
        f"Budgets today ({budgets.period_key('day', now)}) and this month "
        f"({budgets.period_key('month', now)}), hard limits checked before each model call:"
    )
    names = ["org" if r["agent_id"] is None else f"agent {r['agent_id']}" for r in table]
    width = max(len(n) for n in [*names, "SCOPE"])
    click.echo(f"{'SCOPE':{width}}  {'TODAY':28} {'MONTH':30} {'RESERVED':>10}  TOKENS TODAY")
    for who, row in zip(names, table, strict=True):
        day, month = row["day"], row["month"]
        tokens = f"{day['spent_tokens']:,}"
        if day["limit_tokens"] is not None:
            tokens += f" of {day['limit_tokens']:,}"
        click.echo(
            f"{who:{width}}  {_against(day):28} {_against(month):30} "
            f"{budgets.money(day['reserved_usd']):>10}  {tokens}"
        )
    if any(row["month"]["simulated_usd"] for row in table):
        click.echo("spend includes simulated spend by the offline model (see * above)")


def _against(period: dict[str, Any]) -> str:
    spent, limit = period["spent_usd"], period["limit_usd"]
    share = f" ({spent / limit:.0%})" if limit else ""
    return f"{budgets.money(spent)} of {budgets.money(limit)}{share}"
