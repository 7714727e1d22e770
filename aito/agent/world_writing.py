"""Writing to the world: an :class:`~aito.agent.actions.McpWrite`, checked like a pull
request and carried out at most once.

The check (before anything reaches a server): the server is one the agent lists and it
writes; the write's tier (the server's `write_tier`, or its tool's in `tool_tiers`) is
`operational`, what an agent may do alone (above it, the agent proposes a decision);
a text that states a number cites a verified fact; the per-run cap (checking's caps) and
the per-day cap (`mcp.writes_per_day`); never the same write twice (the dedup gate of
open items, kind `write`). In a dry run (`mcp.dry_run` in org.yaml, or the run's own
switch) the write is recorded as a `world.would_write` event, with what it would have
sent, and never made.

A write cannot be taken back, so it is claimed first (an open item named after the run
and the action's position) and then made: a run that crashed between the two finds its
claim and does not write again (at most once; the action is reported failed, saying
so).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from aito.agent import actions, effects
from aito.org import loading

NUMBER = re.compile(r"\d")
"""A digit anywhere in a write's text: it states a number, so it must cite its fact."""


def refusal(action: actions.McpWrite, *, org: loading.Organization, agent_id: str) -> str | None:
    """Why ``action`` may not be made by ``agent_id`` (None: it may, if it is no duplicate
    and within the day's cap)."""
    spec = org.agents[agent_id]
    server = action.server
    if server not in spec.mcp_servers:
        yours = ", ".join(spec.mcp_servers) or "none"
        return f"{server!r} is not one of your MCP servers (yours: {yours})"
    entry = org.org.mcp.servers.get(server)
    if entry is None or not entry.writes:
        return f"the MCP server {server!r} does not write"
    tool = action.tool.split("__", 1)[1]
    tier = entry.tier_of(tool)
    if tier != "operational":
        return (
            f"{server}.{tool} is a {tier} write: you may not make it alone; propose it as a "
            "decision (propose_decision) saying what it would publish"
        )
    if NUMBER.search(text_of(action.arguments)) and not action.cites:
        return (
            "it states a number without citing a verified fact: cite the fact ids behind "
            "every number (cites), or leave the numbers out"
        )
    return None


def text_of(arguments: dict[str, Any]) -> str:
    """Every string in a write's arguments (what it would publish)."""
    found: list[str] = []
    stack: list[Any] = [arguments]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found.append(str(value))
    return "\n".join(found)


def made_today(writes: list[dict[str, Any]], now: dt.datetime) -> int:
    """How many of ``writes`` (open items of kind `write`) were claimed on ``now``'s UTC day."""
    today = now.astimezone(dt.UTC).date()
    return sum(1 for item in writes if item["created_at"].astimezone(dt.UTC).date() == today)


def canonical(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False, default=str)


def probe(action: actions.McpWrite) -> tuple[str, str, str]:
    """(kind, title, text) for the dedup gate: the title is what it publishes (so a near
    copy of an earlier post is caught by its meaning), the text its exact arguments."""
    published = " ".join(text_of(action.arguments).split())[:300] or action.summary
    return "write", f"{action.tool}: {published}", canonical(action.arguments)


def write(ex: effects.Effects, position: int, action: actions.McpWrite) -> effects.Result:
    """The handler: record it in a dry run; else claim, make and record the write."""
    settings = ex.org.org.mcp
    _, title, text = probe(action)
    digest = effects.content_hash(title, text)
    facts = {"tool": action.tool, "summary": action.summary, "arguments_sha256": digest}
    if settings.dry_run or ex.ports.dry_run:
        ex.ports.memory.append_event(
            event_type="world.would_write",
            payload={**facts, "arguments": action.arguments},
            source_agent=ex.agent_id,
            run_id=ex.run_id,
        )
        return effects.Result("dry_run", reason="a dry run: recorded, not written")
    tools = ex.tools
    tool = tools.tool(action.tool) if tools is not None else None
    if tools is None or tool is None or tool.read_only:
        return effects.Result("refused", reason=f"no tool that writes named {action.tool!r}")
    ref = f"{ex.run_id}#{position}"
    mine = ex.ports.memory.items(kind="write", agent_id=ex.agent_id, state=None)
    if any(item["ref"] == ref for item in mine):
        return effects.Result(
            "failed",
            reason="interrupted while writing (the run stopped); not written again: check "
            "whether it went out",
        )
    if made_today(mine, ex.ports.clock()) >= settings.writes_per_day:
        return effects.Result(
            "refused",
            reason=f"the day's cap is reached: {settings.writes_per_day} writes (org.yaml "
            "`mcp.writes_per_day`)",
        )
    ex.item("write", ref, title, digest, details=facts)  # the claim, and the dedup gate's
    outcome = tools.write(action.model_dump(mode="json"), ref=ref)
    ex.ports.memory.append_event(
        event_type="world.written",
        payload={
            **facts,
            "duration_ms": round(outcome.duration_ms, 1),
            "error": outcome.text[:500] if outcome.is_error else None,
        },
        source_agent=ex.agent_id,
        run_id=ex.run_id,
    )
    if outcome.is_error:
        return effects.Result("failed", reason=f"{action.tool}: {outcome.text[:500]}")
    ex.remember("world_written", f"{action.tool}: {action.summary}", facts)
    return effects.Result("executed", ref=ref)
