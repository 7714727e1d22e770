"""Thinking: the model asked within the agent's budget and rate limit, its answer checked.

Each call reserves its worst case first (a refusal ends the run as
``budget_exhausted`` before any call). A reply is used only if it is well-formed
(:func:`aito.llm.base.reply_problems`: no NUL characters, lone surrogates, absurd
nesting…; a provider's unreadable reply arrives as :class:`MalformedReply`) and
valid against the action schema. Anything else is rejected: recorded with its reason
(an ``agent.invalid_answer`` event, and an outcome the agent sees next time), never
executed, and asked once more with the reason as feedback. Every exchange is saved
as it arrives and accounted by :mod:`aito.agent.accounting`.

A resumed run passes the exchanges it saved before the crash: they answer first, in
order, so the model is not asked again for what it already answered; a call the crash
left pending (lost with the process, accounted at its worst case) is asked again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Protocol

from aito import retrying
from aito.agent import accounting, actions, context, effects, guarding, prompting, tool_loop
from aito.agent.runs import Wake
from aito.bus import budgets
from aito.bus import models as bus_models
from aito.errors import AdapterError, TemporaryAdapterError
from aito.llm import base as llm
from aito.llm.base import Exchange, ModelRequest, ModelResponse, ToolTurn

MAX_TOKENS = 2048
"""Output cap per call; it also bounds the worst case reserved against budgets."""
ATTEMPTS = 2
"""An answer that is rejected is asked again once, with the reason."""
UNLIMITED_PROVIDERS = ("offline", "replay")
"""Providers of our own: no provider rate limit applies to them."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """The per-agent model rate limit and how long a call may wait for it."""

    rates: bus_models.RateLimits
    max_wait_seconds: float


@dataclasses.dataclass(frozen=True)
class Thought:
    """The validated plan, or why there is none (``failed``, ``budget_exhausted``).
    Every exchange it came from is saved in the run's record already."""

    planned: list[actions.ActionModel] | None
    failure: str | None
    turns: list[ToolTurn] = dataclasses.field(default_factory=list)
    """What the run read before it answered (its verified facts come from there)."""


class Thinker(Protocol):
    """How a run gets its plan: :func:`think` here, or a sandboxed worker's container
    (:mod:`aito.runtime.sandbox`) asking through the launcher's gateway."""

    def __call__(
        self,
        wake: Wake,
        request: ModelRequest,
        *,
        saved: list[Exchange],
        spend: accounting.Spend,
        limits: Limits,
    ) -> Thought: ...


def request_for(wake: Wake, seen: context.Context) -> ModelRequest:
    return ModelRequest(
        agent_id=wake.agent_id,
        run_id=wake.run_id,
        model=wake.model_name,
        system=prompting.system_for(seen),
        shared_chars=len(prompting.shared_for(seen)),  # the first cache breakpoint
        prompt=prompting.turn_prompt(seen),
        tools=prompting.tools_for(seen.agent.layer),
        max_tokens=MAX_TOKENS,
        context=seen.model_dump(mode="json"),
        seed=_seed(wake.run_id),
    )


def think(
    wake: Wake,
    request: ModelRequest,
    *,
    saved: list[Exchange],
    spend: accounting.Spend,
    limits: Limits,
) -> Thought:
    """Ask until an answer is valid, at most :data:`ATTEMPTS` times; an answer that reads
    (the tool loop, :mod:`aito.agent.tool_loop`) is a turn, not an attempt, at most
    `mcp.max_turns` of them."""
    exchanges = list(saved)
    budget = budgets.limits_for(wake.org, wake.agent_id)
    settings = wake.org.org.mcp
    seeded = False
    rejections = turns = index = 0
    while rejections < ATTEMPTS:
        wake.check()
        if index < len(saved):
            exchange = saved[index]
            if exchange.pending:
                # Lost with the crashed process (accounted by accounting.recover): ask again.
                wake.outcome.error = "a model call was lost when the run's process stopped"
                rejections += 1
                index += 1
                continue
        else:
            if not seeded:
                accounting.seed_ledger(wake, budget, spend=spend)
                seeded = True
            asked = ask_and_keep(
                wake, request, index=index, budget=budget, limits=limits, exchanges=exchanges
            )
            if isinstance(asked, budgets.Refusal):
                return refused(wake, asked)
            exchange = asked
        if exchange.error is not None and exchange.rejected is None:
            wake.outcome.error = f"model call failed: {exchange.error}"
            return Thought(None, "failed")
        problems = [exchange.rejected] if exchange.rejected else []
        response = exchange.response
        if not problems and response is not None:
            if tool_loop.reads_of(response, wake.tools):
                if turns < settings.max_turns:
                    turns += 1
                    request = _next(saved, index) or request.model_copy(
                        update={
                            "turns": [
                                *request.turns,
                                tool_loop.turn(
                                    wake, response, max_result_chars=settings.max_result_chars
                                ),
                            ],
                            "feedback": None,
                            "previous": [],
                        }
                    )
                    index += 1
                    continue
                problems = [
                    f"no more reading: this run's {settings.max_turns} answers that read "
                    "(org.yaml `mcp.max_turns`) are used; answer with actions only"
                ]
            else:
                try:
                    planned = actions.parse([(c.name, c.input) for c in response.tool_calls])
                except actions.InvalidActions as exc:
                    problems = exc.problems
                else:
                    return Thought(planned, None, list(request.turns))
        reject(wake, index, problems, live=index >= len(saved))
        rejections += 1
        request = _next(saved, index) or again(request, problems, exchange)
        index += 1
    return Thought(None, "failed")


def _next(saved: list[Exchange], index: int) -> ModelRequest | None:
    """What a resumed run asked after call ``index`` (its tools are not called again)."""
    return saved[index + 1].request if index + 1 < len(saved) else None


def again(request: ModelRequest, problems: list[str], exchange: Exchange) -> ModelRequest:
    """The request once more, telling the model why its answer was rejected."""
    response = exchange.response
    return request.model_copy(
        update={
            "feedback": "Your answer was rejected and nothing of it was executed: "
            + "; ".join(problems)
            + ". Answer again with valid tool calls.",
            # a reply that is not well-formed is not repeated back to the model
            "previous": response.tool_calls if response and not exchange.rejected else [],
        }
    )


def refused(wake: Wake, refusal: budgets.Refusal) -> Thought:
    """A budget refused the call: the run ends ``budget_exhausted``, the CFO is told."""
    wake.outcome.error = f"budget exhausted: {refusal.reason}"
    guarding.budget_exhausted(wake, refusal.reason)
    return Thought(None, "budget_exhausted")


def ask_and_keep(
    wake: Wake,
    request: ModelRequest,
    *,
    index: int,
    budget: list[budgets.Limit],
    limits: Limits,
    exchanges: list[Exchange],
) -> Exchange | budgets.Refusal:
    """One call as :func:`think` makes it (also what a sandboxed worker's gateway does
    for each call the worker makes): asked, appended to ``exchanges``, saved, accounted."""
    asked = _ask(wake, request, index=index, budget=budget, limits=limits, before=exchanges)
    if isinstance(asked, budgets.Refusal):
        return asked
    exchanges.append(asked)
    wake.ports.memory.save_exchanges(
        wake.run_id, exchanges=[e.model_dump(mode="json") for e in exchanges]
    )
    if asked.response is not None:
        accounting.settle(wake, asked.response, index=index)
    return asked


def _ask(
    wake: Wake,
    request: ModelRequest,
    *,
    index: int,
    budget: list[budgets.Limit],
    limits: Limits,
    before: list[Exchange],
) -> Exchange | budgets.Refusal:
    """One call: reserve, respect the rate limit, save it as pending (so a crash while
    waiting leaves a trace that is accounted), ask, and judge the reply's form."""
    ledger = wake.ports.bus.ledger()
    usd, tokens = llm.worst_case(request, wake.price)
    gated = isinstance(wake.ports.model, llm.GatedModel)
    granted: budgets.Reservation | budgets.Refusal | None = None
    if not gated:  # behind a gateway the launcher reserves (and settles) each call
        granted = ledger.reserve(
            reservation_id=accounting.reservation_id(wake.run_id, index),
            limits=budget,
            usd=usd,
            tokens=tokens,
            now=wake.ports.clock(),
        )
        if isinstance(granted, budgets.Refusal):
            return granted
    try:
        _respect_rate_limit(wake, tokens, limits)
        pending = Exchange(request=request, pending=True)
        wake.ports.memory.save_exchanges(
            wake.run_id, exchanges=[e.model_dump(mode="json") for e in [*before, pending]]
        )
        if isinstance(wake.ports.model, llm.GatedModel):
            response = wake.ports.model.complete_at(request, index=index)
        else:
            response = wake.ports.model.complete(request)
    except llm.GatewayRefused as exc:
        return budgets.Refusal.model_validate(exc.refusal)
    except llm.LauncherGone:
        raise  # not the model's failure: the run stops unfinished, to be resumed
    except llm.MalformedReply as exc:
        if isinstance(granted, budgets.Reservation):
            ledger.release(granted)
        return Exchange(request=request, error=str(exc), rejected=f"unreadable reply: {exc}")
    except AdapterError as exc:
        if isinstance(granted, budgets.Reservation):
            ledger.release(granted)
        return Exchange(request=request, error=f"{type(exc).__name__}: {exc}")
    problems = llm.reply_problems(response)
    if problems:
        kept = ModelResponse.model_validate(llm.storable(response.model_dump(mode="json")))
        return Exchange(request=request, response=kept, rejected="; ".join(problems))
    return Exchange(request=request, response=response)


def reject(wake: Wake, index: int, problems: list[str], *, live: bool) -> None:
    """Record a rejected answer: an audit event (when it just arrived), and an outcome
    the agent is shown on its next wake-up (once, however often the run resumes)."""
    text = "; ".join(problems)
    wake.outcome.error = f"invalid model answer: {text[:1000]}"
    if live:
        wake.ports.memory.append_event(
            event_type="agent.invalid_answer",
            payload={"attempt": index + 1, "problems": problems[:20]},
            source_agent=wake.agent_id,
            run_id=wake.run_id,
        )
    wake.ports.memory.add_outcome(
        agent_id=wake.agent_id,
        kind="answer_rejected",
        summary=f"Your answer {index + 1} in run {wake.run_id} was rejected and nothing of it "
        f"ran: {text}"[:1500],
        ref=wake.run_id,
        dedupe_key=f"rejected:{wake.run_id}:{index}",
        at=wake.ports.clock(),
        details={"problems": problems[:20]},
    )


def _respect_rate_limit(wake: Wake, tokens: int, limits: Limits) -> None:
    """Per-agent requests/tokens per minute, shared through Redis, for real providers
    (wall-clock time: rate limits are the provider's, not the simulation's)."""
    if wake.ports.model.provider in UNLIMITED_PROVIDERS:
        return
    limiter = wake.ports.bus.limiter(default=limits.rates)
    wanted = min(tokens, limits.rates.tokens_per_minute)

    def acquire() -> None:
        decision = limiter.acquire(wake.agent_id, tokens=wanted, now=dt.datetime.now(dt.UTC))
        if not decision.allowed:
            raise TemporaryAdapterError(
                "ratelimit",
                f"{wake.agent_id} is over its model rate limit "
                f"({limits.rates.requests_per_minute} requests, "
                f"{limits.rates.tokens_per_minute:,} tokens per minute)",
                retry_after=decision.retry_after,
            )

    # Waits exactly as long as the limiter asks; a wait past max_wait_seconds is not made.
    retrying.call(
        acquire,
        policy=retrying.Policy(
            budget_seconds=limits.max_wait_seconds,
            honour="exact",
            max_wait=limits.max_wait_seconds,
        ),
        what="model rate limit",
    )


def _seed(run_id: str) -> int:
    return int.from_bytes(effects.content_hash(run_id).encode()[:8], "big") % (2**31)
