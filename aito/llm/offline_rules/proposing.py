"""First-run proposals: one a C-level agent's profile suggests, made once.

The CMO proposes a major campaign and a content task for its writer, the CTO a minor
engineering policy, the COO an initiative; the proposal is remembered in the agent's
state (`offline.proposed`) so it is not repeated.
"""

from __future__ import annotations

from aito.llm.offline_rules import situation


def first_proposals(sit: situation.Situation) -> list[situation.Call]:
    if sit.state.get("offline.proposed") or sit.me["layer"] != "c-level":
        return []
    kind = sit.me["type"]
    out: list[situation.Call] = []
    if kind == "cmo":
        out.append(
            (
                "propose_decision",
                {
                    "tier": "major",
                    "title": "Q1 community growth campaign",
                    "rationale": "A four-week campaign across our social channels with two "
                    "paid community partnerships, to grow weekly active holders. "
                    "Budget $900: $600 partnerships, $300 promoted posts.",
                    "amount_usd": 900,
                },
            )
        )
        writers = sit.c["permissions"].get("workers", [])
        if writers:
            out.append(
                (
                    "create_task",
                    {
                        "title": "Draft the weekly community update",
                        "description": "Summarise this week's decisions and "
                        "releases for the community channels.",
                        "assigned_to": writers[0],
                        "priority": 4,
                    },
                )
            )
    elif kind == "cto":
        out.append(
            (
                "propose_decision",
                {
                    "tier": "minor",
                    "title": "Weekly dependency update window",
                    "rationale": "Apply dependency and security updates every Tuesday in one "
                    "reviewed PR per repo, instead of ad hoc. No spend.",
                },
            )
        )
    elif kind == "coo":
        out.append(
            (
                "propose_initiative",
                {
                    "title": "Publish a monthly operations report",
                    "rationale": "One page per month: tasks done, decisions, "
                    "spend, incidents; built from our own records.",
                    "score": 6.5,
                },
            )
        )
    if out:
        out.append(("update_state", {"key": "offline.proposed", "value": True}))
        sit.notes.append("made its first proposal")
    return out
