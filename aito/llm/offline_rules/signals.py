"""Signals from outside: an agent that follows feeds (an MCP server's `latest` tool)
reads them at most twice a day, and turns the newest item of the last 24 hours it has
not answered yet into an initiative (a topic and the item's link as its signal),
remembered in its state so the same item is not raised twice. The organization's checks
do the rest: a near copy of an open or recent idea, or a topic raised this week, is
refused."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from aito.llm.base import ModelRequest
from aito.llm.offline_rules import situation

READ_EVERY = dt.timedelta(hours=12)
NEWS_AGE = dt.timedelta(hours=24)
"""Only news this fresh is answered (an older item is not news any more)."""
SEEN_KEY = "offline.signals_seen"
READ_KEY = "offline.signals_read_at"


def reads_first(request: ModelRequest) -> list[situation.Call]:
    """The feeds to read before acting: every `<server>__latest` offered, when this agent
    has not read them for :data:`READ_EVERY` (and has not read yet in this run)."""
    if request.turns or not request.context:
        return []
    latest = [t.name for t in request.tools if t.name.endswith("__latest")]
    state = request.context.get("state", {})
    last = state.get(READ_KEY)
    now = dt.datetime.fromisoformat(str(request.context["now"]))
    if last and now - dt.datetime.fromisoformat(str(last)) < READ_EVERY:
        return []
    return [(name, {"limit": 5}) for name in latest]


def items_read(request: ModelRequest) -> list[dict[str, Any]] | None:
    """The feed items this run read (newest first, as the connector gave them); None if
    it read no feed."""
    found: list[dict[str, Any]] | None = None
    for turn in request.turns:
        names = {call.id: call.name for call in turn.calls}
        for result in turn.results:
            if not names.get(result.call_id, "").endswith("__latest"):
                continue
            found = found if found is not None else []
            if result.is_error:
                continue
            try:
                data = json.loads(result.content)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("items"), list):
                found += [i for i in data["items"] if isinstance(i, dict)]
    return found


def initiatives(sit: situation.Situation, items: list[dict[str, Any]]) -> list[situation.Call]:
    """One initiative from the newest item not answered yet; the reading remembered."""
    seen = list(sit.state.get(SEEN_KEY) or [])
    out: list[situation.Call] = [("update_state", {"key": READ_KEY, "value": sit.now.isoformat()})]
    fresh = next(
        (
            i
            for i in items
            if str(i.get("id")) not in seen and i.get("title") and _recent(i, sit.now)
        ),
        None,
    )
    if fresh is None or sit.me["layer"] == "worker":
        return out
    title = str(fresh["title"])[:150]
    topic = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "news"
    out.insert(
        0,
        (
            "propose_initiative",
            {
                "title": f"Answer the news: {title}",
                "rationale": f"{fresh.get('feed') or 'A feed we follow'} reports "
                f"“{title}”. Decide how we answer it: a post, a task, or nothing.",
                "score": 5.5,
                "topic": topic,
                "signal": str(fresh.get("link") or fresh.get("id"))[:500],
            },
        ),
    )
    out.append(("update_state", {"key": SEEN_KEY, "value": [*seen, str(fresh["id"])][-50:]}))
    sit.notes.append(f"raised an initiative from the news: {title}")
    return out


def _recent(item: dict[str, Any], now: dt.datetime) -> bool:
    published = item.get("published")
    if not published:
        return True
    try:
        return now - dt.datetime.fromisoformat(str(published)) <= NEWS_AGE
    except ValueError:
        return False
