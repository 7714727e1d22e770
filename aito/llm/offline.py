"""The offline model: a deterministic, rule-driven stand-in for Claude (no key needed).

It is clearly not a language model: it reads the structured context the prompt was
rendered from (``ModelRequest.context``) and applies fixed rules per role, so the
whole organization runs on the embedded defaults and every run is reproducible
(``seed`` only varies wording). Its answers are ordinary tool calls that go through
the same validation, checks and execution as Claude's. Usage is reported as the
token counts the prompt (tool schemas included) and answer would have (4 characters
a token), so budgets and cost accounting work; cost is priced as the agent's
configured model. Prompt caching is simulated as Anthropic does it
(:class:`aito.llm.caching.PromptCache`: the request's two breakpoints, 5-minute
lifetimes refreshed by reads, the model's minimum cacheable length) on the time the
request carries (its context's ``now``, the simulated clock in `aito demo`), so the
cache reads and writes it reports are those the same calls would have made; the
cache is this model object's own (one process), as if it were the only client.

The rules, by what is on the table, are in :mod:`aito.llm.offline_rules` (one module
per job: status reports, votes, tasks, first proposals); :func:`calls_for` runs them in
order and ends every answer with a summary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

from aito.llm import caching
from aito.llm.base import CHARS_PER_TOKEN, ModelRequest, ModelResponse, ToolCall
from aito.llm.offline_rules import proposing, reporting, signals, situation, voting, working

PROVIDER = "offline"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OfflineModel:
    """Rule-driven answers from the context; deterministic for a given seed.

    ``clock`` times a request whose context carries no ``now`` (for the cache).
    """

    def __init__(self, *, seed: int = 0, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._seed = seed
        self._clock = clock
        self.cache = caching.PromptCache()

    @property
    def provider(self) -> str:
        return PROVIDER

    def complete(self, request: ModelRequest) -> ModelResponse:
        rng = random.Random(f"{self._seed}:{request.seed}:{request.run_id}")
        calls = signals.reads_first(request)  # its feeds first, when it follows any
        if not calls and request.context:
            calls = calls_for(request.context, rng, read=signals.items_read(request))
        if request.feedback:
            calls = [c for c in calls if c[0] == "summary"] or [
                ("summary", {"text": "Nothing to add."})
            ]
        tool_calls = [
            ToolCall(
                id=f"toolu_{hashlib.sha256(f'{request.run_id}:{i}'.encode()).hexdigest()[:20]}",
                name=name,
                input=data,
            )
            for i, (name, data) in enumerate(calls)
        ]
        answer = json.dumps([[c.name, c.input] for c in tool_calls])
        usage = self.cache.account(
            model=request.model, parts=caching.segments(request), now=self._now(request)
        )
        return ModelResponse(
            provider=PROVIDER,
            model=request.model,
            tool_calls=tool_calls,
            text="(offline model: rule-driven stand-in, not a language model)",
            stop_reason="tool_use",
            usage=usage.model_copy(update={"output_tokens": len(answer) // CHARS_PER_TOKEN + 1}),
            latency_ms=0,
        )

    def _now(self, request: ModelRequest) -> dt.datetime:
        stamp = request.context.get("now")
        if isinstance(stamp, str):
            with contextlib.suppress(ValueError):
                when = dt.datetime.fromisoformat(stamp)
                if when.tzinfo is not None:
                    return when
        return self._clock()


def calls_for(
    context: dict[str, Any], rng: random.Random, *, read: list[dict[str, Any]] | None = None
) -> list[situation.Call]:
    """The tool calls the rules make for ``context`` (and the feed items the run ``read``),
    in order, then the summary."""
    sit = situation.Situation(context, rng)
    calls: list[situation.Call] = []
    calls += reporting.status_answers(sit)
    calls += voting.votes(sit)
    acting_for = (context.get("lead") or {}).get("acting_for")
    if acting_for:  # the DAO holding the temporary lead runs the CEO's status loop
        sit.notes.append(f"holding the temporary lead for {acting_for}")
    if sit.me["type"] == "ceo" or acting_for:
        calls += reporting.ceo_status_loop(sit)
    calls += working.follow_ups(sit)
    calls += working.tasks(sit)
    calls += proposing.first_proposals(sit)
    if read is not None:
        calls += signals.initiatives(sit, read)
    calls.append(("summary", {"text": sit.summary(calls)}))
    return calls
