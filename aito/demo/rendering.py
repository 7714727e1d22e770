"""The simulated day's summary, as `aito demo` prints it."""

from __future__ import annotations

from aito.demo.simulating import Report


def render_summary(report: Report) -> list[str]:
    lines = [
        "",
        f"summary of the simulated day ({report.started:%H:%M} → {report.finished:%a %H:%M} UTC)",
    ]
    lines.append("  runs: " + ", ".join(f"{n} {s}" for s, n in sorted(report.runs.items())))
    lines.append(
        "  pull requests: " + ", ".join(f"{n} {k}" for k, n in report.pull_requests.items())
    )
    for d in report.decisions:
        by = f", decided by {d.decided_by}" if d.decided_by else ""
        lines.append(
            f"  decision #{d.pr} {d.decision_id} [{d.tier}]: {d.status} after "
            f"{d.rounds} round(s){by} — {d.reason}"
        )
    lines.append(f"  messages sent: {report.messages}; request timeouts: {report.timeouts}")
    for line in report.initiatives:
        lines.append(f"  initiative: {line}")
    lines.append(
        "  tasks: " + (", ".join(f"{n} {s}" for s, n in sorted(report.tasks.items())) or "none")
    )
    lines.append(
        f"  model usage: {report.tokens:,} tokens, ${report.cost_usd:.4f} "
        "(offline model, priced as each agent's model)"
    )
    if report.budget_exhausted:
        lines.append("  budget exhausted: " + ", ".join(report.budget_exhausted))
    for issue in report.human_issues:
        lines.append(f"  for humans: issue {issue}")
    lines += [f"  orchestrator: {line}" for line in report.orchestrator]
    lines.append(
        f"  inspect: aito --repo {report.repo} decide status --all · "
        f"git -C {report.repo} log --oneline · aito --repo {report.repo} agent runs"
    )
    return lines
