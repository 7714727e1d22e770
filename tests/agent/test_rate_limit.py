"""A real provider's calls go through the per-agent rate limit in Redis (shared by processes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.agent_world import ScriptedModel, World

from aito.bus import models as bus_models
from aito.llm import offline

pytestmark = pytest.mark.services

MakeWorld = Callable[..., World]


class ProviderModel(ScriptedModel):
    """The scripted model presenting itself as a real provider (offline ones are exempt)."""

    @property
    def provider(self) -> str:
        return "anthropic"


def _summary(text: str) -> list[tuple[str, dict[str, Any]]]:
    return [("summary", {"text": text})]


def test_a_call_over_the_agents_rate_limit_is_not_made(make_world: MakeWorld) -> None:
    model = ProviderModel(_summary("first"), _summary("second"))
    world = make_world(model)
    world.runner.rate_limits = bus_models.RateLimits(
        requests_per_minute=1, tokens_per_minute=50_000
    )
    world.runner.max_rate_wait_seconds = 0.0
    assert world.run("cto", key="1", force=True).status == "completed"
    refused = world.run("cto", key="2", force=True)
    assert refused.status == "failed"
    assert refused.error is not None and "rate limit" in refused.error
    assert len(model.requests) == 1  # the second call was never made


def test_the_offline_model_is_not_rate_limited(make_world: MakeWorld) -> None:
    world = make_world(offline.OfflineModel())
    world.runner.rate_limits = bus_models.RateLimits(
        requests_per_minute=1, tokens_per_minute=50_000
    )
    world.runner.max_rate_wait_seconds = 0.0
    assert world.run("cto", key="1", force=True).status == "completed"
    second = world.run("cto", key="2", force=True)
    assert second.status == "completed", second.error
    assert world.usage_rows("cto") == 2
