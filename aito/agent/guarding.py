"""Guards around a wake-up: loops are stopped, exhausted budgets and stops escalated.

An action planned unchanged in :data:`LOOP_LIMIT` runs within :data:`LOOP_WINDOW`
stops the agent before anything of the plan runs; the agent's manager (for a head
agent, the other head) is alerted and the maintainers get one issue. A budget that
refuses a call tells the CFO and opens one issue per agent and day.
"""

from __future__ import annotations

import datetime as dt

from aito.agent import actions, effects
from aito.agent.runs import Wake
from aito.decisions import reading
from aito.forge.base import Identity
from aito.org import loading
from aito.org.agents import Layer, Severity
from aito.org.messages import AgentMessage, MessageType, Priority

LOOP_LIMIT = 3
"""The same action planned in this many runs within LOOP_WINDOW without progress stops the agent."""
LOOP_WINDOW = dt.timedelta(hours=24)


def looping(wake: Wake, planned: list[actions.ActionModel], *, limit: int) -> str | None:
    """Why the plan repeats itself (an action planned unchanged in ``limit`` runs of the
    window), or None."""
    since = wake.ports.clock() - LOOP_WINDOW
    for action in planned:
        if isinstance(action, actions.RunSummary | actions.UpdateState | actions.CastVote):
            continue
        digest = effects.content_hash(action.content_key())
        if wake.ports.memory.repeats(wake.agent_id, digest, since=since) + 1 >= limit:
            kind = action.model_dump()["type"]
            return (
                f"the same {kind} action was planned in {limit} runs within "
                f"{LOOP_WINDOW} without progress; stopped and escalated"
            )
    return None


def escalate_loop(wake: Wake, reason: str) -> None:
    target = escalation_target(wake.org, wake.agent_id)
    if target is not None:
        notify(
            wake,
            to=target,
            subject=f"{wake.agent_id} stopped: looping",
            body=reason,
            severity=Severity.WARNING,
        )
    human_issue(wake, title=f"{wake.agent_id} stopped: it repeats itself", body=reason)


def budget_exhausted(wake: Wake, reason: str) -> None:
    cfo = next((a.id for a in wake.org.agents.values() if a.type == "cfo"), None)
    if cfo and cfo != wake.agent_id:
        notify(
            wake,
            to=cfo,
            subject=f"budget exhausted: {wake.agent_id}",
            body=reason,
            severity=Severity.WARNING,
        )
    human_issue(wake, title=f"Budget exhausted: {wake.agent_id}", body=reason, day=True)


def escalation_target(org: loading.Organization, agent_id: str) -> str | None:
    """Whom to tell about an agent's trouble: its manager; for a head agent, the other one."""
    spec = org.agents[agent_id]
    if spec.reports_to in org.agents and spec.reports_to != agent_id:
        return spec.reports_to
    heads = [a.id for a in org.by_layer(Layer.HEAD) if a.id != agent_id]
    return heads[0] if heads else None


def notify(wake: Wake, *, to: str, subject: str, body: str, severity: Severity) -> None:
    """An alert from AITO itself, with an id made from the run (sent once)."""
    ports = wake.ports
    message = AgentMessage.model_validate(
        {
            "id": f"aito:{wake.run_id}:{to}:{effects.slug(subject)}",
            "type": MessageType.ALERT,
            "from": wake.agent_id,
            "to": to,
            "payload": {
                "subject": subject,
                "body": body,
                "severity": severity.value,
                "by": "aito",
            },
            "priority": Priority.HIGH,
            "timestamp": ports.clock(),
        }
    )
    ports.bus.outbox(groups=wake.org.groups(), clock=ports.clock).send(message)
    ports.memory.append_event(
        event_type="agent.escalated",
        payload={"to": to, "subject": subject, "reason": body},
        source_agent=wake.agent_id,
        run_id=wake.run_id,
    )


def human_issue(wake: Wake, *, title: str, body: str, day: bool = False) -> None:
    """One issue per problem (per agent and day for budgets), mentioning the maintainers."""
    forge = wake.ports.governance
    key = f"{title} ({wake.ports.clock():%Y-%m-%d})" if day else title
    for issue in forge.issues(state="open", labels=[effects.HUMAN_ACTION_LABEL]):
        if issue.title == key:
            return
    mentions = " ".join(f"@{m.login}" for m in wake.org.org.maintainers)
    forge.open_issue(
        title=key,
        body=f"{body}\n\n---\nRaised by AITO for `{wake.agent_id}` (run `{wake.run_id}`). "
        f"{mentions}",
        labels=[effects.HUMAN_ACTION_LABEL, effects.ALERT_LABEL],
        author=_issuer(wake),
    )


def _issuer(wake: Wake) -> Identity:
    """Who opens the agent's alert: its own bot (a worker's: its manager's), since on
    GitHub an agent writes only with its own App's token and its job holds no governance
    key; the governance bot for an agent without one."""
    spec = wake.org.agents.get(wake.agent_id)
    for name in (wake.agent_id, spec.reports_to if spec else None):
        if name and name in wake.org.org.bots:
            bot = wake.org.org.bots[name]
            return Identity(bot.login, bot.id)
    return reading.governance_identity(wake.org)
