"""The org chart `aito up` and `aito org show` print."""

from __future__ import annotations

from typing import Any

from aito.org import loading
from aito.org.agents import AgentSpec, Layer


def agent_summary(org: loading.Organization, spec: AgentSpec) -> dict[str, Any]:
    """One agent as `--json` shows it."""
    schedule = org.schedule(spec.id)
    bot = org.org.bots.get(spec.id)
    return {
        "id": spec.id,
        "name": spec.name,
        "type": spec.type,
        "layer": spec.layer.value,
        "reports_to": spec.reports_to,
        "department": spec.department,
        "schedule": schedule.text if schedule else "on demand",
        "cron": schedule.to_cron(spec.id) if schedule else None,
        "model": org.model_of(spec.id),
        "budget": spec.budget.model_dump(mode="json"),
        "repos": org.repos_of(spec.id),
        "branch": spec.git.branch,
        "paths": list(spec.git.paths),
        "permissions": [p.value for p in spec.git.permissions],
        "bot": bot.login if bot else None,
        "workers": list(spec.workers),
    }


def chart(org: loading.Organization) -> str:
    """A tree by reporting line: heads first, then whom each agent manages."""
    o = org.org
    loops = [a for a in org.agents.values() if a.layer is not Layer.WORKER]
    lines = [
        f"{o.name}: {len(loops)} agents with loops, "
        f"{len(org.agents) - len(loops)} worker kinds, governance repo "
        f"{o.governance_repo.repo}@{o.governance_repo.branch}",
        f"maintainers: {', '.join(m.login for m in o.maintainers)} · "
        f"budget ${o.budget.daily_usd:g}/day, ${o.budget.monthly_usd:g}/month",
        "",
    ]
    children: dict[str | None, list[AgentSpec]] = {}
    for spec in org.agents.values():
        children.setdefault(spec.reports_to, []).append(spec)
    order = {Layer.HEAD: 0, Layer.C_LEVEL: 1, Layer.WORKER: 2}
    for siblings in children.values():
        siblings.sort(key=lambda a: (order[a.layer], a.type != "ceo", a.id))

    def walk(spec: AgentSpec, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(f"{prefix}{branch}{_headline(org, spec)}")
        inner = prefix + ("" if top else ("   " if last else "│  "))
        kids = children.get(spec.id, [])
        rail = "│  " if kids else "   "
        for detail in _details(org, spec):
            lines.append(f"{inner}{rail}{detail}")
        for index, kid in enumerate(kids):
            walk(kid, inner, index == len(kids) - 1, False)

    for head in children.get(None, []):
        walk(head, "", True, True)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _headline(org: loading.Organization, spec: AgentSpec) -> str:
    role = "worker kind" if spec.layer is Layer.WORKER else spec.layer.value
    return f"{spec.id.upper() if spec.layer is not Layer.WORKER else spec.id}  {spec.name} [{role}]"


def _details(org: loading.Organization, spec: AgentSpec) -> list[str]:
    schedule = org.schedule(spec.id)
    when = f"{schedule.explain()} (cron {schedule.to_cron(spec.id)})" if schedule else "on demand"
    budget = f"${spec.budget.daily_usd:g}/day, ${spec.budget.monthly_usd:g}/month"
    repos = ", ".join(org.repos_of(spec.id))
    if spec.git.repo == "*":
        repos = f"all repos ({len(org.repos_of(spec.id))})"
    permissions = ", ".join(p.value for p in spec.git.permissions)
    return [
        f"schedule: {when} · model {org.model_of(spec.id)} · budget {budget}",
        f"git: {repos} @{spec.git.branch} [{permissions}] paths: {', '.join(spec.git.paths)}",
    ]


def describe_agent(summary: dict[str, Any]) -> list[str]:
    """`aito agent show` as text: one line per field, lists and mappings spelled out."""
    lines: list[str] = []
    for key, value in summary.items():
        label = key.replace("_", " ")
        if isinstance(value, dict):
            lines.append(f"{label}:")
            for inner, item in value.items():
                lines.append(f"  {inner.replace('_', ' '):<16} {_plain(item)}")
        else:
            lines.append(f"{label:<12} {_plain(value)}")
    return lines


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        items = [_plain(v) for v in value]
        return ("; " if any("," in i for i in items) else ", ").join(items) if items else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
