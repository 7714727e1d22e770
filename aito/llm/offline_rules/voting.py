"""Votes and round-2 analysis by role, for the decisions on the table.

The CEO backs proposals of agents that report to it up to $5,000; the DAO vetoes
treasury spend above $500 that has not gone to the community; the CFO vetoes spend
above $750; the COO approves up to $5,000; the CTO and CCO abstain outside technology
and compliance (they approve inside); a minor decision nobody objects to is left to
lazy consensus.
"""

from __future__ import annotations

from typing import Any

from aito.llm.offline_rules import situation


def votes(sit: situation.Situation) -> list[situation.Call]:
    out: list[situation.Call] = []
    for decision in sit.c.get("decisions", []):
        role = decision.get("my_role")
        if role == "analysis":
            out.append(
                (
                    "vote",
                    {
                        "decision": decision["id"],
                        "vote": "analysis",
                        "reason": analysis(sit, decision),
                    },
                )
            )
            sit.notes.append(f"analysed {decision['id']}")
        elif role == "vote":
            if decision["stage"] == "lazy" and not objects(sit, decision):
                continue  # lazy consensus: silence lets it pass at the deadline
            vote, reason = judge(sit, decision)
            out.append(("vote", {"decision": decision["id"], "vote": vote, "reason": reason}))
            sit.notes.append(f"voted {vote} on {decision['id']}")
    return out


def judge(sit: situation.Situation, d: dict[str, Any]) -> tuple[str, str]:
    amount, kind = float(d.get("amount_usd") or 0), sit.me["type"]
    text = f"{d['title']} {d.get('description', '')}".lower()
    reports = {a["id"]: a.get("reports_to") for a in sit.c.get("agents", [])}
    if kind == "ceo":
        if reports.get(d["proposed_by"]) == sit.me["id"] and amount <= 5000:
            return (
                "approve",
                f"Backs the {d['proposed_by']} plan; ${amount:,.0f} is within what I "
                "back for my reports (≤ $5,000).",
            )
        return (
            "veto",
            f"${amount:,.0f} from {d['proposed_by']} exceeds what I back without a wider review.",
        )
    if kind == "dao":
        if amount > 500:
            return (
                "veto",
                f"${amount:,.0f} of treasury spend above $500 needs a community vote first.",
            )
        return "approve", "Within the community's delegated limits."
    if kind == "cfo":
        if amount > 750:
            return (
                "veto",
                f"${amount:,.0f} exceeds the $750 left in this month's marketing plan.",
            )
        return "approve", f"${amount:,.0f} fits the budget."
    if kind == "coo":
        if amount <= 5000:
            return "approve", "Operationally feasible with current capacity."
        return "veto", "More than operations can absorb this quarter."
    if kind == "cto":
        if any(
            w in text
            for w in ("api", "infrastructure", "security", "code", "dependency", "technical")
        ):
            return "approve", "Technically sound."
        return "abstain", "Abstain: outside technology; no technical risk seen."
    if kind == "cco":
        if any(w in text for w in ("legal", "compliance", "policy", "regulat")):
            return "approve", "Compliant as proposed."
        return "abstain", "Abstain: no compliance question raised."
    return "abstain", "Abstain: outside my area."


def objects(sit: situation.Situation, d: dict[str, Any]) -> bool:
    vote, _ = judge(sit, d)
    return vote == "veto"


def analysis(sit: situation.Situation, d: dict[str, Any]) -> str:
    vote, reason = judge(sit, d)
    lean = {"approve": "supports", "veto": "opposes", "abstain": "is neutral on"}[vote]
    return f"{sit.me['name']} {lean} {d['id']}: {reason} Votes so far: " + ", ".join(
        f"{a}={v or '—'}" for a, v in d.get("votes", {}).items()
    )
