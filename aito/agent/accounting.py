"""What a wake-up spends on the model, accounted exactly once.

Before a call its worst case is reserved on every budget that applies (Redis, shared
by all processes). Once the provider has answered, three things happen in this order:

1. the exchange is saved in the run's plan record (Postgres, retried while it
   restarts): from here on the call survives a crash of this process;
2. its usage row is written, keyed by (run id, exchange index): written again it
   adds nothing;
3. the reservation is settled with the real cost, by its id (idempotent).

A run resumed after a crash repeats steps 2 and 3 for every answered exchange its
plan record holds (:func:`recover`), so a call answered just before Redis or Postgres
went away is counted once, when they are back. A call is saved as *pending* just
before it is made: one the crash left pending (the process died while waiting, or
before the answer was saved) is accounted at its worst case (:func:`settle_lost`),
because the provider may have charged it. `aito budget` reads the usage rows, which
therefore never miss a call the provider may have answered.
"""

from __future__ import annotations

import datetime as dt

from aito.agent import context
from aito.agent.ports import LoopPorts
from aito.agent.runs import Wake
from aito.bus import budgets
from aito.llm import base as llm
from aito.llm.base import Exchange, ModelResponse, cost_usd
from aito.memory.base import UsageRow
from aito.org import loading

Spend = dict[tuple[str, str], tuple[float, int]]
"""(scope, period) → (USD, tokens) spent, as Postgres' model_usage says."""


def reservation_id(run_id: str, index: int) -> str:
    """The budget reservation of a run's ``index``-th model call."""
    return f"{run_id}:{index}"


def spend_of(ports: LoopPorts, agent_id: str, *, now: dt.datetime) -> Spend:
    """Read once per run, for the agent's budget view and to seed the Redis ledger."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = {"day": day, "month": day.replace(day=1)}
    scopes = {budgets.agent_scope(agent_id): agent_id, budgets.ORG_SCOPE: None}
    return {
        (scope, period): ports.memory.spent(agent_id=agent, since=start)
        for scope, agent in scopes.items()
        for period, start in starts.items()
    }


def budget_view(org: loading.Organization, agent_id: str, *, spend: Spend) -> context.BudgetView:
    spec = org.agents[agent_id]
    scope = budgets.agent_scope(agent_id)
    return context.BudgetView(
        daily_limit_usd=spec.budget.daily_usd,
        daily_spent_usd=spend[(scope, "day")][0],
        monthly_limit_usd=spec.budget.monthly_usd,
        monthly_spent_usd=spend[(scope, "month")][0],
    )


def seed_ledger(wake: Wake, limits: list[budgets.Limit], *, spend: Spend) -> None:
    """Postgres' model_usage is the durable record: a period Redis does not know yet
    (first call of the day, or Redis lost its data) starts from what it says."""
    ledger = wake.ports.bus.ledger()
    now = wake.ports.clock()
    for limit in limits:
        usd, tokens = spend[(limit.scope, limit.period)]
        ledger.seed(limit.scope, budgets.period_key(limit.period, now), usd=usd, tokens=tokens)


def usage_row(
    *,
    agent_id: str,
    run_id: str,
    response: ModelResponse,
    spent: float,
    at: dt.datetime,
    index: int,
) -> UsageRow:
    """The usage row of a run's ``index``-th call (written again, it adds nothing)."""
    return UsageRow(
        agent_id=agent_id,
        run_id=run_id,
        model=response.model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        cache_write_tokens=response.usage.cache_write_tokens,
        cache_read_tokens=response.usage.cache_read_tokens,
        cost_usd=spent,
        latency_ms=response.latency_ms,
        created_at=at,
        exchange=index,
    )


def settle(wake: Wake, response: ModelResponse, *, index: int) -> None:
    """Steps 2 and 3 for one answered call (step 1 is the caller's)."""
    spent = cost_usd(response.usage, wake.price)
    wake.ports.memory.record_usage(
        usage_row(
            agent_id=wake.agent_id,
            run_id=wake.run_id,
            response=response,
            spent=spent,
            at=wake.ports.clock(),
            index=index,
        )
    )
    wake.ports.bus.ledger().settle_once(
        reservation_id(wake.run_id, index), usd=spent, tokens=response.usage.total
    )
    wake.outcome.usage = wake.outcome.usage + response.usage
    wake.outcome.cost_usd += spent


def settle_lost(wake: Wake, exchange: Exchange, *, index: int) -> None:
    """A call lost with its process (saved as pending, never answered here): the provider
    may have answered and charged it, so it is accounted at its worst case, never at
    nothing (`aito budget` may over-report such a call, never under-report it)."""
    usd, tokens = llm.worst_case(exchange.request, wake.price)
    output = exchange.request.max_tokens
    wake.ports.memory.record_usage(
        UsageRow(
            agent_id=wake.agent_id,
            run_id=wake.run_id,
            model=exchange.request.model,
            input_tokens=tokens - output,
            output_tokens=output,
            cache_write_tokens=0,
            cache_read_tokens=0,
            cost_usd=usd,
            latency_ms=None,
            created_at=wake.ports.clock(),
            exchange=index,
        )
    )
    wake.ports.bus.ledger().settle_once(reservation_id(wake.run_id, index), usd=usd, tokens=tokens)
    wake.outcome.cost_usd += usd


def recover(wake: Wake, exchanges: list[Exchange]) -> None:
    """Account every call a crashed run saved: each answered one at its usage, each lost
    one (still pending) at its worst case. Those already counted add nothing."""
    for index, exchange in enumerate(exchanges):
        if exchange.response is not None:
            settle(wake, exchange.response, index=index)
        elif exchange.pending:
            settle_lost(wake, exchange, index=index)
