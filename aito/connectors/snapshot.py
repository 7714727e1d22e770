"""The snapshot connector: a DAO's off-chain governance (Snapshot's GraphQL API), its tallies
as facts.

Its endpoint is `AITO_MCP_SNAPSHOT_URL` (default https://hub.snapshot.org/graphql; its host
must be one of the server's `domains`) and its key, optional, `AITO_MCP_SNAPSHOT_KEY` (sent
as `x-api-key`, for a higher rate limit). Queries are fixed, their inputs GraphQL variables.
A proposal's numbers are facts: `votes.<proposal>.<choice>` (the score of each choice, the
choice's name in letters, digits, _ and -), `turnout.<proposal>` (scores_total) and
`vote_count.<proposal>`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from aito.connectors import fetching, tooling
from aito.errors import PermanentAdapterError

DEFAULT_URL = "https://hub.snapshot.org/graphql"
LINK = "https://snapshot.org/#/{space}/proposal/{id}"
READS = ToolAnnotations(read_only_hint=True)
SPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
PROPOSAL_ID = re.compile(r"^[A-Za-z0-9]{8,100}$")
STATES = ("all", "active", "pending", "closed")
FIELDS = """id title state author created start end snapshot type quorum choices scores
    scores_total scores_state scores_updated votes space { id name }"""
PROPOSALS = f"""query Proposals($space: String!, $state: String, $first: Int!) {{
  proposals(first: $first, skip: 0, where: {{space: $space, state: $state}},
            orderBy: "created", orderDirection: desc) {{ {FIELDS} }}
}}"""
PROPOSAL = f"""query Proposal($id: String!) {{
  proposal(id: $id) {{ {FIELDS} body discussion }}
}}"""
VOTES = """query Votes($proposal: String!, $first: Int!) {
  votes(first: $first, skip: 0, where: {proposal: $proposal}, orderBy: "vp",
        orderDirection: desc) { id voter created choice vp reason }
}"""
MAX_BODY = 10_000


def server(allowed: list[str]) -> MCPServer:
    mcp = MCPServer("aito-snapshot", instructions="Snapshot governance: proposals and votes.")
    url = os.environ.get("AITO_MCP_SNAPSHOT_URL", DEFAULT_URL)
    key = os.environ.get("AITO_MCP_SNAPSHOT_KEY")
    headers = {"x-api-key": key} if key else {}

    def ask(query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """(the answer's `data`, when it was read)."""
        body = {"query": query, "variables": variables}
        reply, fetched = fetching.send_json(
            "POST", url, allowed=allowed, body=body, headers=headers
        )
        if isinstance(reply, dict) and reply.get("errors"):
            said = "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e)
                for e in reply["errors"][:5]
            )
            raise PermanentAdapterError("snapshot", f"{url} answered errors: {said[:500]}")
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, dict):
            raise PermanentAdapterError("snapshot", f"{url} answered no GraphQL data")
        return data, fetched.at.isoformat()

    @mcp.tool(annotations=READS)
    def proposals(space: str, state: str = "all", first: int = 10) -> dict[str, Any]:
        """A space's newest proposals (e.g. space `shibainu.eth`; state all, active,
        pending or closed; at most 50): title, state, times, choices, scores, turnout,
        votes and link of each; their tallies also facts."""
        with tooling.foreseen():
            if not SPACE.match(space.strip()):
                raise ValueError("space must be a Snapshot space id, e.g. shibainu.eth")
            if state not in STATES:
                raise ValueError(f"state must be one of {', '.join(STATES)}")
            variables = {
                "space": space.strip(),
                "state": None if state == "all" else state,
                "first": max(1, min(first, 50)),
            }
            data, at = ask(PROPOSALS, variables)
            found = [p for p in data.get("proposals") or [] if isinstance(p, dict)]
            shown = [_proposal(p, at) for p in found]
            facts = [fact for item in shown for fact in item.pop("facts")]
            return {"source": url, "fetched_at": at, "proposals": shown, "facts": facts}

    @mcp.tool(annotations=READS)
    def proposal(id: str) -> dict[str, Any]:
        """One proposal by id: its fields, body (cut at 10,000 characters), link, and its
        tallies as facts."""
        with tooling.foreseen():
            data, at = ask(PROPOSAL, {"id": _proposal_id(id)})
            found = data.get("proposal")
            if not isinstance(found, dict):
                raise ValueError(f"Snapshot has no proposal {id!r}")
            shown = _proposal(found, at)
            shown["body"] = str(found.get("body") or "")[:MAX_BODY]
            shown["discussion"] = found.get("discussion") or ""
            return {"source": url, "fetched_at": at, **shown}

    @mcp.tool(annotations=READS)
    def votes(proposal_id: str, first: int = 100) -> dict[str, Any]:
        """A proposal's votes, the weightiest first (at most 1,000): voter, choice (a
        choice's number from 1, or several for approval, ranked and weighted votes),
        voting power, time and reason. The tallies are facts of `proposal`."""
        with tooling.foreseen():
            variables = {"proposal": _proposal_id(proposal_id), "first": max(1, min(first, 1000))}
            data, at = ask(VOTES, variables)
            found = [
                {
                    "voter": v.get("voter"),
                    "choice": v.get("choice"),
                    "vp": v.get("vp"),
                    "created": _time(v.get("created")),
                    "reason": str(v.get("reason") or "")[:500],
                }
                for v in data.get("votes") or []
                if isinstance(v, dict)
            ]
            return {"source": url, "fetched_at": at, "proposal": proposal_id, "votes": found}

    def _proposal(p: dict[str, Any], fetched_at: str) -> dict[str, Any]:
        pid, space = str(p.get("id", "")), p.get("space") or {}
        space_id = str(space.get("id", "")) if isinstance(space, dict) else ""
        choices = [str(c) for c in p.get("choices") or []]
        scores = p.get("scores") or []
        updated = p.get("scores_updated")
        at = _time(updated) if isinstance(updated, int) and updated > 0 else fetched_at
        facts: list[dict[str, Any]] = []

        def fact(fact_id: str, statement: str, value: Any) -> None:
            if isinstance(value, int | float) and not isinstance(value, bool):
                item = {"statement": statement, "value": value, "source": url, "at": at}
                facts.append({"id": fact_id, **item})

        used: set[str] = set()
        for number, (choice, score) in enumerate(zip(choices, scores, strict=False), 1):
            slug = re.sub(r"[^A-Za-z0-9_-]+", "_", choice).strip("_")[:60]
            slug = slug if slug and slug not in used else f"choice{number}"
            used.add(slug)
            fact(f"votes.{pid}.{slug}", f"score of choice {number} ({choice!r}) on {pid}", score)
        fact(f"turnout.{pid}", f"voting power cast on {pid} (scores_total)", p.get("scores_total"))
        fact(f"vote_count.{pid}", f"number of votes on {pid}", p.get("votes"))
        return {
            "id": pid,
            "title": p.get("title"),
            "state": p.get("state"),
            "author": p.get("author"),
            "space": space_id,
            "start": _time(p.get("start")),
            "end": _time(p.get("end")),
            "snapshot": p.get("snapshot"),
            "type": p.get("type"),
            "choices": choices,
            "scores": scores,
            "scores_total": p.get("scores_total"),
            "scores_state": p.get("scores_state"),
            "quorum": p.get("quorum"),
            "votes": p.get("votes"),
            "link": LINK.format(space=space_id, id=pid),
            "facts": facts,
        }

    return mcp


def _proposal_id(value: str) -> str:
    if not PROPOSAL_ID.match(value.strip()):
        raise ValueError("a proposal id is 0x and 64 hex digits (or an IPFS hash)")
    return value.strip()


def _time(stamp: object) -> str | None:
    if isinstance(stamp, int | float) and stamp > 0:
        return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat()
    return None
