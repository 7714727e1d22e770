"""Prompt caching: the breakpoints a request carries, and the offline model's simulation of
Anthropic's cache (lifetimes refreshed by reads, minimum length, per model, tools counted)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from support.agent_world import seen

from aito.agent import prompting
from aito.llm import caching, offline
from aito.llm.base import ModelRequest, ToolSpec, Usage, cost_usd
from aito.org import loading
from aito.org.organization import ModelPrice

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SONNET, HAIKU = "claude-sonnet-4-5", "claude-haiku-4-5"
SHARED = "The organization chart, the rules and the action reference. " * 120  # ~1,800 tokens
CMO = "You are the CMO. Your profile: grow the community. " * 40  # ~500 tokens
CTO = "You are the CTO. Your profile: keep the code sound. " * 40
TOOL = ToolSpec(
    name="summary",
    description="End the wake-up with a summary.",
    input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
)
PRICE = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)


def request(own: str = CMO, *, at: dt.datetime = T0, **changes: Any) -> ModelRequest:
    fields: dict[str, Any] = {
        "agent_id": "cmo",
        "run_id": "run-1",
        "model": SONNET,
        "system": SHARED + own,
        "shared_chars": len(SHARED),
        "prompt": "Wake-up: two decisions await you.",
        "tools": [TOOL],
        "context": {"now": at.isoformat()},
    }
    return ModelRequest(**(fields | changes))


def tokens(text: str) -> int:
    return len(text) // 4


def test_the_shared_part_and_the_own_part_are_the_two_breakpoints() -> None:
    assert caching.system_blocks(request()) == [SHARED, CMO]
    assert caching.system_blocks(request(shared_chars=0)) == [SHARED + CMO]
    with pytest.raises(ValidationError, match="shared_chars"):
        request(shared_chars=len(SHARED + CMO) + 1)
    parts = caching.segments(request())
    assert [p.breakpoint for p in parts] == [False, True, True, False]  # tools, ..., turn
    assert parts[0].tokens == caching.tool_tokens([TOOL]) > caching.TOOL_USE_TOKENS


def test_a_first_call_writes_the_next_reads_and_another_agent_reads_the_shared_part() -> None:
    cache = caching.PromptCache()
    shared = caching.tool_tokens([TOOL]) + tokens(SHARED)
    turn = tokens("Wake-up: two decisions await you.")

    first = cache.account(model=SONNET, parts=caching.segments(request()), now=T0)
    assert first == Usage(
        input_tokens=turn, cache_write_tokens=shared + tokens(CMO), cache_read_tokens=0
    )
    again = cache.account(
        model=SONNET, parts=caching.segments(request()), now=T0 + dt.timedelta(minutes=1)
    )
    assert again == Usage(input_tokens=turn, cache_read_tokens=shared + tokens(CMO))
    other = cache.account(
        model=SONNET, parts=caching.segments(request(CTO)), now=T0 + dt.timedelta(minutes=2)
    )
    assert other == Usage(
        input_tokens=turn, cache_write_tokens=tokens(CTO), cache_read_tokens=shared
    )


def test_an_entry_lives_five_minutes_after_its_last_read() -> None:
    cache = caching.PromptCache()
    minutes = [0, 4, 8, 12, 16.5]  # each within 5 minutes of the one before: all reads
    reads = [
        cache.account(
            model=SONNET,
            parts=caching.segments(request()),
            now=T0 + dt.timedelta(minutes=m),
        ).cache_read_tokens
        for m in minutes
    ]
    assert reads[0] == 0 and all(r > 0 for r in reads[1:])
    later = cache.account(  # exactly five minutes after the last read: gone
        model=SONNET, parts=caching.segments(request()), now=T0 + dt.timedelta(minutes=21.5)
    )
    assert later.cache_read_tokens == 0 and later.cache_write_tokens > 0


def test_a_prefix_below_the_models_minimum_is_never_cached() -> None:
    cache = caching.PromptCache()
    assert caching.minimum_tokens(SONNET) == 1024
    assert caching.minimum_tokens(HAIKU) == 4096
    assert caching.minimum_tokens("claude-opus-4-1") == 1024
    assert caching.minimum_tokens("some-new-model") == caching.DEFAULT_MINIMUM_TOKENS
    short = request(system="Short.", shared_chars=0)
    for minute in (0, 1):
        usage = cache.account(
            model=SONNET, parts=caching.segments(short), now=T0 + dt.timedelta(minutes=minute)
        )
        assert usage.cache_write_tokens == usage.cache_read_tokens == 0
    # ~2,300 tokens: cached on Sonnet, not on Haiku 4.5 (4,096)
    on_haiku = [
        cache.account(
            model=HAIKU, parts=caching.segments(request(model=HAIKU)), now=T0
        ).cache_write_tokens
        for _ in range(2)
    ]
    assert on_haiku == [0, 0]


def test_caches_are_per_model_and_tools_are_part_of_the_prefix() -> None:
    cache = caching.PromptCache()
    cache.account(model=SONNET, parts=caching.segments(request()), now=T0)
    opus = request(model="claude-opus-4-1")
    assert (
        cache.account(model=opus.model, parts=caching.segments(opus), now=T0).cache_read_tokens == 0
    )
    renamed = TOOL.model_copy(update={"description": "End the wake-up."})
    changed = request(tools=[renamed])
    usage = cache.account(model=SONNET, parts=caching.segments(changed), now=T0)
    assert usage.cache_read_tokens == 0  # a changed tool schema is a new prefix


def test_the_offline_model_reports_the_simulated_usage_on_its_clock() -> None:
    clock = [T0]
    model = offline.OfflineModel(clock=lambda: clock[0])
    bare = {"context": {}}
    first = model.complete(request(**bare)).usage
    second = model.complete(request(CTO, agent_id="cto", **bare)).usage
    clock[0] = T0 + dt.timedelta(hours=1)
    late = model.complete(request(**bare)).usage
    everything = caching.tool_tokens([TOOL]) + tokens(SHARED + CMO)
    assert first.cache_write_tokens + first.input_tokens - tokens(request().prompt) == everything
    assert second.cache_read_tokens == caching.tool_tokens([TOOL]) + tokens(SHARED)
    assert late.cache_read_tokens == 0  # an hour later: expired
    assert first.output_tokens > 0
    # the cache pays: the second call costs a fraction of the same call without a cache
    uncached = Usage(
        input_tokens=second.input_tokens + second.cache_write_tokens + second.cache_read_tokens,
        output_tokens=second.output_tokens,
    )
    assert cost_usd(second, PRICE) < 0.5 * cost_usd(uncached, PRICE)
    plain = Usage(input_tokens=first.total - first.output_tokens, output_tokens=first.output_tokens)
    assert cost_usd(first, PRICE) > cost_usd(plain, PRICE)  # a write costs 1.25x input


def test_the_offline_model_times_a_wake_up_by_its_context(example_repo: Path) -> None:
    org = loading.load_valid(example_repo)
    view = seen(org, "cmo")
    clock = [T0 + dt.timedelta(days=365)]
    model = offline.OfflineModel(clock=lambda: clock[0])  # a clock that would miss
    asked = request(
        system=prompting.system_for(view),
        shared_chars=len(prompting.shared_for(view)),
        tools=prompting.tools(),
        context=view.model_dump(mode="json"),
    )
    model.complete(asked)
    clock[0] += dt.timedelta(days=1)
    later = view.now + dt.timedelta(minutes=3)
    again = asked.model_copy(
        update={"context": view.model_dump(mode="json") | {"now": later.isoformat()}}
    )
    assert model.complete(again).usage.cache_read_tokens > 0


def test_every_agent_of_an_organization_gets_the_same_shared_prefix(
    example_repo: Path,
) -> None:
    org = loading.load_valid(example_repo)
    views = {
        agent: seen(org, agent).model_copy(update={"profile": f"# The {agent}'s own profile"})
        for agent in ("ceo", "cmo", "cto", "dao")
    }
    shared = {prompting.shared_for(view) for view in views.values()}
    assert len(shared) == 1
    [text] = shared
    for agent, view in views.items():
        system = prompting.system_for(view)
        assert system.startswith(text)
        own = system[len(text) :]
        assert f"(`{agent}`)" in own and f"(`{agent}`)" not in text
        assert view.profile in own and view.profile not in text
    assert "`summary`" in text  # the action reference is shared


def test_cache_prices_left_out_are_the_providers_multiples_never_free() -> None:
    """An org that prices only input and output still pays for cached tokens."""
    bare = ModelPrice(input=3.0, output=15.0)
    usage = Usage(input_tokens=0, output_tokens=0, cache_write_tokens=1_000_000)
    assert cost_usd(usage, bare) == pytest.approx(3.75)  # 1.25 x input
    assert cost_usd(Usage(cache_read_tokens=1_000_000), bare) == pytest.approx(0.30)
    explicit = ModelPrice(input=3.0, output=15.0, cache_write=6.0, cache_read=0.0)
    assert cost_usd(usage, explicit) == pytest.approx(6.0)  # what the org says wins
