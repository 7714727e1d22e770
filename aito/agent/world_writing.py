"""Writing to the world: an :class:`~aito.agent.actions.McpWrite`, checked like a pull
request and carried out at most once.

The check (before anything reaches a server): the server is one the agent lists and it
writes; the write's tier (the server's `write_tier`, or its tool's in `tool_tiers`) is
`operational`, what an agent may do alone (above it, the agent proposes a decision);
an e-mail goes only to the server's `recipients` (:func:`recipients_refusal`); what it
publishes, if it states a number, cites a verified fact (:func:`published_text`: its
identifiers, a chat's id or an item's, are no statement); the per-run cap (checking's caps) and
the per-day cap (`mcp.writes_per_day`); never the same write twice within
`mcp.repeat_after_days` (the dedup gate of open items, kind `write`; a run's start closes
its agent's older writes). In a dry run (`mcp.dry_run` in org.yaml, or the run's own
switch) the write is recorded as a `world.would_write` event, with what it would have
sent, and never made.

A write cannot be taken back, so it is claimed first (an open item named after the run
and the action's position) and then made: a run that crashed between the two finds its
claim and does not write again (at most once; the action is reported failed, saying
so).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from typing import Any

from aito.agent import actions, effects
from aito.agent.ports import LoopPorts
from aito.org import loading, mcp_servers

NUMBER = re.compile(r"\d")
"""A digit anywhere in what a write publishes: it states a number, so it must cite its fact."""

IDENTIFIER_NAME = re.compile(
    r"^(?:id|ids|uuid|guid"
    r"|[a-z0-9_]+_(?:id|ids|uuid|guid|url|uri)"
    r"|[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*(?:Id|Ids|ID|IDs|Uuid|Url|URL)"
    r"|to|cc|bcc|from|sender|recipients?|reply_to|in_reply_to"
    r"|url|uri|chat|channel|collection|space|folder|repo|owner|slug|username|handle"
    r"|guild|thread)$"
)
"""An argument's name that says it holds an identifier, an address or a place: `id`,
`*_id`, `*Id`, `to`, `cc`, `bcc`, `from`, `url`, `chat_id`, `channel`, `collection`,
`space`… A server names its tools' arguments; the model only fills them in."""

IDENTIFIER_VALUE = re.compile(
    r"^(?:[@#]?[A-Za-z0-9_.+-]{1,200}(?:@[A-Za-z0-9.-]{1,253})?"  # 42, -100…, @chat, a@b.org
    r"|[a-z][a-z0-9+.-]{0,15}://[^\s<>\"]{1,2000})$"  # a URL
)
"""What an identifier looks like: one token (a number, a key, an @name, an address) or a
URL; never whitespace, a comma or a colon outside a URL. "Holders 12,345" is no id."""

RECIPIENT_FIELDS = ("to", "cc", "bcc")
"""Arguments that name whom a write e-mails (a string, or a list of strings)."""


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
    refused = recipients_refusal(server, entry, action.arguments)
    if refused is not None:
        return refused
    if NUMBER.search(published_text(action.arguments)) and not action.cites:
        return (
            "it states a number without citing a verified fact: cite the fact ids behind "
            "every number (cites), or leave the numbers out"
        )
    return None


def recipients_refusal(
    server: str, entry: mcp_servers.McpServer, arguments: dict[str, Any]
) -> str | None:
    """Why a write to ``server`` may not e-mail whom its arguments name (None: it may).

    With `recipients` listed, every address in its `to`, `cc` and `bcc` (a string, which
    may hold several, or a list of strings) must be one of them or at one of their
    `@domain`s; a value that is not plainly addresses is refused, since it cannot be
    checked. AITO's own email connector with no `recipients` sends to nobody. Any other
    server without `recipients` is not checked (list them if it sends e-mail)."""
    where = f"mcp.servers.{server}.recipients"
    if not entry.recipients:
        if entry.connector() == "email":
            return (
                f"the e-mail server {server!r} lists no recipients, so it sends to nobody: a "
                f"maintainer lists whom it may write to (addresses, or @domain) in org.yaml "
                f"`{where}`"
            )
        return None
    for name, value in arguments.items():
        if name.lower() not in RECIPIENT_FIELDS:
            continue
        strings = value if isinstance(value, list) else [value]
        for given in strings:
            addresses = _addresses(given)
            if addresses is None:
                return (
                    f"{name}: {str(given)[:100]!r} is not plainly e-mail addresses, so its "
                    f"recipients cannot be checked against `{where}`"
                )
            for address in addresses:
                if not entry.recipient_allowed(address):
                    listed = ", ".join(entry.recipients[:10])
                    more = ", …" if len(entry.recipients) > 10 else ""
                    return (
                        f"{address[:100]!r} is not a recipient {server!r} may e-mail "
                        f"(`{where}`: {listed}{more}); a maintainer adds it there, or write "
                        "to someone listed"
                    )
    return None


def _addresses(value: object) -> list[str] | None:
    """The plain addresses in one recipients value (`a@x.org`, `Name <a@x.org>`, several
    separated by commas); None when it is anything else, or holds an `@` outside them."""
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        return None
    found = [address for _, address in email.utils.getaddresses([value])]
    plain = mcp_servers.RECIPIENT
    if not found or any(a.startswith("@") or not plain.fullmatch(a.lower()) for a in found):
        return None
    if value.count("@") != len(found):  # an address hidden in a name or a comment
        return None
    return found


def published_text(arguments: dict[str, Any]) -> str:
    """What a write publishes: every string and number in its arguments, save those that
    are identifiers (a chat's id, an item's, an address, a URL).

    A value is an identifier when its top-level argument's name says so
    (:data:`IDENTIFIER_NAME`; a list's items take its name) and it looks like one (a
    number, or a string matching :data:`IDENTIFIER_VALUE`). Those names are the server's
    (its tool's arguments), the values the model's: prose in an identifier's place
    ("Holders 12,345" as a `chat_id`) still counts as published, and so does everything
    inside an object (a CMS item's fields, whose names the model chooses)."""
    found: list[str] = []
    stack: list[tuple[str | None, Any]] = [(name, value) for name, value in arguments.items()]
    while stack:
        name, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((None, item) for item in value.values())
        elif isinstance(value, list):
            stack.extend((name, item) for item in value)
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        elif not (_names_identifier(name) and _looks_like_identifier(value)):
            found.append(str(value))
    return "\n".join(reversed(found))


def _names_identifier(name: str | None) -> bool:
    if name is None:
        return False
    return bool(IDENTIFIER_NAME.fullmatch(name) or IDENTIFIER_NAME.fullmatch(name.lower()))


def _looks_like_identifier(value: str | int | float) -> bool:
    return not isinstance(value, str) or bool(IDENTIFIER_VALUE.fullmatch(value))


def text_of(arguments: dict[str, Any]) -> str:
    """Every string and number in a write's arguments, identifiers too: what it says and
    where it goes (the dedup gate's title)."""
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


def forget_old_writes(ports: LoopPorts, org: loading.Organization, agent_id: str) -> int:
    """Close the agent's writes made more than `mcp.repeat_after_days` ago (at a run's
    start): the dedup gate compares with open writes only, so the same post may go out
    again after the window. Returns how many were closed."""
    now = ports.clock()
    cutoff = now - dt.timedelta(days=org.org.mcp.repeat_after_days)
    stale = [
        item
        for item in ports.memory.items(kind="write", agent_id=agent_id, state="open")
        if item["created_at"] < cutoff
    ]
    for item in stale:
        ports.memory.close_item(kind="write", ref=item["ref"], at=now)
    return len(stale)


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
    # open: this run's claim, and the day's writes (the window is at least a day)
    mine = ex.ports.memory.items(kind="write", agent_id=ex.agent_id, state="open")
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
