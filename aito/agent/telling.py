"""Actions that tell someone something: messages, alerts, requests to the humans,
scheduled events, initiatives, the agent's own state and its summary. Message and
issue ids derive from the run and the action's position, so a resumed run finds
what it already sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from aito.agent import actions, effects
from aito.org.agents import Severity
from aito.org.messages import GROUP_TARGETS, MessageType, Priority

INITIATIVE_COOLDOWN = dt.timedelta(hours=12)
TOPIC_COOLDOWN = dt.timedelta(days=7)
"""One topic is raised once a week, whoever raises it (the organization does not spam
itself about the same thing)."""


def send_message(ex: effects.Effects, position: int, action: actions.SendMessage) -> effects.Result:
    kind = {
        actions.MessageKind.DIRECT: MessageType.DIRECT,
        actions.MessageKind.STATUS_REQUEST: MessageType.STATUS_REQUEST,
        actions.MessageKind.STATUS_RESPONSE: MessageType.STATUS_RESPONSE,
        actions.MessageKind.BROADCAST: MessageType.BROADCAST,
    }[action.kind]
    deadline = None
    if action.kind is actions.MessageKind.STATUS_REQUEST:
        deadline = ex.ports.clock() + dt.timedelta(minutes=action.deadline_minutes or 60)
    message_id = ex.send(
        position,
        to=action.to,
        type=kind,
        payload={"subject": action.subject, "body": action.body, "cites": action.cites},
        correlation_id=action.correlation_id,
        deadline=deadline,
    )
    ex.remember(
        "message_sent",
        f"{action.kind.value} to {action.to}: {action.subject}",
        {"to": action.to, "id": message_id},
    )
    return effects.Result("executed", ref=message_id)


def alert(ex: effects.Effects, position: int, action: actions.Alert) -> effects.Result:
    spec = ex.org.agents[ex.agent_id]
    targets: set[str] = set()
    for rule in spec.escalation:
        if rule.severity is action.severity:
            targets.update(t for t in rule.notify if t != "maintainers")
    if not targets:
        targets.add(spec.reports_to or "ceo")
    if action.severity is Severity.CRITICAL:
        targets.add("head")
    targets.discard(ex.agent_id)
    payload = {
        "subject": f"[{action.severity.value}] {action.title}",
        "body": action.details,
        "severity": action.severity.value,
    }
    sent = []
    for index, target in enumerate(sorted(targets)):
        if target in GROUP_TARGETS or target in ex.org.agents:
            sent.append(
                ex.send(
                    position,
                    to=target,
                    type=MessageType.ALERT,
                    payload=payload,
                    priority=Priority.URGENT
                    if action.severity is Severity.CRITICAL
                    else Priority.HIGH,
                    suffix=str(index),
                )
            )
    ref = ", ".join(sorted(targets))
    if action.severity is Severity.CRITICAL:
        issue = ex.issue(
            f"[critical] {action.title}",
            action.details,
            labels=[effects.ALERT_LABEL, effects.HUMAN_ACTION_LABEL],
        )
        ref += f"; humans: issue #{issue}"
    ex.remember(
        "alert",
        f"{action.severity.value} alert to {ref}: {action.title}",
        {"targets": sorted(targets)},
    )
    return effects.Result("executed", ref=ref)


def request_human_action(
    ex: effects.Effects, position: int, action: actions.RequestHumanAction
) -> effects.Result:
    number = ex.issue(action.title, action.body, labels=[effects.HUMAN_ACTION_LABEL])
    ex.item(
        "human_action",
        f"issue#{number}",
        action.title,
        effects.content_hash(action.title, action.body),
    )
    ex.remember(
        "human_action_requested",
        f"Asked the maintainers (issue #{number}): {action.title}",
        {"issue": number},
    )
    return effects.Result("executed", ref=f"issue#{number}")


def schedule_event(
    ex: effects.Effects, position: int, action: actions.ScheduleEvent
) -> effects.Result:
    ref = f"{ex.agent_id}:{effects.slug(ex.run_id, limit=60)}-{position}"
    assignee = action.assigned_to or ex.agent_id
    ex.ports.memory.add_item(
        kind="schedule",
        ref=ref,
        agent_id=ex.agent_id,
        title=action.title,
        content_hash=effects.content_hash(action.title, action.at.isoformat(), assignee),
        embedding=None,
        at=ex.ports.clock(),
        details={
            "at": action.at.isoformat(),
            "assigned_to": assignee,
            "description": action.description,
        },
    )
    ex.remember(
        "event_scheduled",
        f"Scheduled for {action.at.isoformat()} ({assignee}): {action.title}",
        {"ref": ref},
    )
    return effects.Result("executed", ref=ref)


def propose_initiative(
    ex: effects.Effects, position: int, action: actions.ProposeInitiative
) -> effects.Result:
    now = ex.ports.clock()
    last = ex.ports.memory.get_state(ex.agent_id, "aito.initiative_at")
    if last is not None and now - dt.datetime.fromisoformat(str(last.value)) < INITIATIVE_COOLDOWN:
        return effects.Result(
            "refused",
            reason=f"one initiative per {INITIATIVE_COOLDOWN}; the last was at {last.value}",
        )
    if action.topic is not None:
        since = now - TOPIC_COOLDOWN
        raised = [
            item
            for item in ex.ports.memory.items(kind="initiative", state=None)
            if (item.get("details") or {}).get("topic") == action.topic
            and item["created_at"] >= since
        ]
        if raised:
            return effects.Result(
                "refused",
                reason=f"topic {action.topic!r} was raised within {TOPIC_COOLDOWN.days} days "
                f"({raised[-1]['ref']}); build on it instead",
            )
    # dated: the same idea may come back once its duplicate window has passed
    ref = f"{ex.agent_id}:{effects.slug(action.title)}:{now:%Y%m%d}"
    ex.item(
        "initiative",
        ref,
        action.title,
        effects.content_hash(action.title, action.rationale),
        details={
            "score": action.score,
            "rationale": action.rationale,
            "topic": action.topic,
            "signal": action.signal,
        },
    )
    ex.ports.memory.put_state(
        ex.agent_id,
        "aito.initiative_at",
        now.isoformat(),
        expected_version=None if last is None else last.version,
    )
    ex.send(
        position,
        to="ceo" if ex.agent_id != "ceo" else "dao",
        type=MessageType.DIRECT,
        payload={
            "subject": f"Initiative ({action.score:g}/10): {action.title}",
            "body": action.rationale + (f"\n\nSignal: {action.signal}" if action.signal else ""),
        },
    )
    ex.remember(
        "initiative",
        f"Proposed initiative {ref} ({action.score:g}/10): {action.title}",
        {"ref": ref},
    )
    return effects.Result("executed", ref=ref)


def update_state(ex: effects.Effects, position: int, action: actions.UpdateState) -> effects.Result:
    current = ex.ports.memory.get_state(ex.agent_id, action.key)
    version = ex.ports.memory.put_state(
        ex.agent_id,
        action.key,
        action.value,
        expected_version=None if current is None else current.version,
    )
    return effects.Result("executed", ref=f"{action.key}@v{version}")


def summary(ex: effects.Effects, position: int, action: actions.RunSummary) -> effects.Result:
    return effects.Result("executed", ref="summary")


HANDLERS: dict[str, Callable[[effects.Effects, int, Any], effects.Result]] = {
    "send_message": send_message,
    "alert": alert,
    "request_human_action": request_human_action,
    "schedule_event": schedule_event,
    "propose_initiative": propose_initiative,
    "update_state": update_state,
    "summary": summary,
}
