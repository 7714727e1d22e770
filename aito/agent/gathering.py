"""Gathering an agent's context from the services: inbox, memory, world and profile."""

from __future__ import annotations

from aito.agent import context, world
from aito.agent.ports import LoopPorts
from aito.memory import recalling
from aito.org import loading
from aito.org.messages import AgentMessage


def take_inbox(ports: LoopPorts, agent_id: str) -> int:
    """Move delivered messages from the agent's stream into Postgres, then acknowledge.

    Stored before the acknowledgement, so a crash loses nothing; stored once per
    message id, so a redelivery is not a second message.
    """
    consumer = ports.bus.poller(agent_id, batch_size=200)
    taken: list[AgentMessage] = []
    now = ports.clock()

    def keep(message: AgentMessage) -> None:
        ports.memory.store_inbox(
            agent_id, [(message.id, message.model_dump(mode="json", by_alias=True))], at=now
        )
        taken.append(message)

    for _ in range(50):
        result = consumer.poll(keep)
        if not (result.handled or result.reclaimed or result.duplicates):
            break
    return len(taken)


def gather(
    ports: LoopPorts,
    org: loading.Organization,
    *,
    agent_id: str,
    run_id: str,
    trigger: str,
    budget: context.BudgetView,
    caps: dict[str, int],
) -> context.Context:
    now = ports.clock()
    spec = org.agents[agent_id]
    memory = ports.memory
    take_inbox(ports, agent_id)
    inbox = [context.inbox_item(m) for m in memory.unhandled_inbox(agent_id)]
    awaiting = [
        context.AwaitedAnswer(request_id=r.request_id, to=r.recipient, deadline=r.deadline)
        for r in ports.bus.outbox().open_requests()
        if r.sender == agent_id
    ]
    seen = world.world_of(ports, org, agent_id, budget=budget, now=now)
    mine, delegated, decisions = seen.tasks, seen.delegated, seen.decisions
    outcomes = [
        context.OutcomeView(
            id=int(o["id"]),
            kind=str(o["kind"]),
            ref=o["ref"],
            summary=str(o["summary"]),
            details=dict(o["details"] or {}),
        )
        for o in memory.unseen_outcomes(agent_id)
    ]
    history = [
        context.MemoryItem(
            action_type=str(h["action_type"]),
            summary=str(h["summary"]),
            at=h["created_at"],
            run_id=h.get("run_id"),
            score=None,
        )
        for h in memory.history(agent_id, limit=context.HISTORY_LAST_N)
    ]
    recalled = _recall(
        ports, agent_id, inbox=inbox, tasks=mine, decisions=decisions, history=history
    )
    lead = lead_of(ports, org, agent_id)
    forge = ports.governance
    profile_file = forge.read_tree(forge.default_branch, prefixes=[spec.profile]).get(spec.profile)
    profile = profile_file.decode("utf-8") if profile_file else ""
    return context.Context(
        agent=context.card(org, agent_id),
        run_id=run_id,
        trigger=trigger,
        now=now,
        organization=org.org.name,
        agents=context.org_chart(org),
        profile=profile,
        permissions=context.permissions_of(org, agent_id, caps=caps),
        state={k: v.value for k, v in memory.all_state(agent_id).items()},
        history=history,
        recalled=recalled,
        lead=lead,
        tasks=mine,
        delegated=delegated,
        inbox=inbox,
        awaiting_answers=awaiting,
        decisions=decisions,
        outcomes=outcomes,
        facts=seen.facts,
        budget=budget,
    )


def _recall(
    ports: LoopPorts,
    agent_id: str,
    *,
    inbox: list[context.InboxItem],
    tasks: list[context.TaskView],
    decisions: list[context.DecisionView],
    history: list[context.MemoryItem],
) -> list[context.MemoryItem]:
    """Older memories about what is on the table now (RAG beyond the last N)."""
    topics = [m.subject for m in inbox] + [t.title for t in tasks] + [d.title for d in decisions]
    if ports.embedder is None or not topics:
        return []
    recent = {(h.action_type, h.summary) for h in history}
    found = recalling.recall(
        ports.memory,
        ports.embedder,
        agent_id=agent_id,
        query="; ".join(topics)[:2000],
        k=context.RECALL_K,
        recent=0,
    )
    return [
        context.MemoryItem(
            action_type=item.action_type,
            summary=item.summary,
            at=item.created_at,
            run_id=item.run_id,
            score=item.score,
        )
        for item in found
        if (item.action_type, item.summary) not in recent
    ]


def lead_of(
    ports: LoopPorts,
    org: loading.Organization,
    agent_id: str,
) -> context.LeadView | None:
    """Who leads; for the DAO holding the temporary lead, the CEO's duties with it."""
    ceo = next((a.id for a in org.agents.values() if a.type == "ceo"), None)
    if ceo is None:
        return None
    leader = ports.bus.leader(ceo)
    if leader != agent_id or agent_id == ceo:
        return context.LeadView(leader=leader)
    memory = ports.memory
    found = memory.get_state(ceo, "status_round")
    duties = [
        context.task_view(task)
        for task in org.tasks.values()
        if task.assigned_to == ceo and task.status.value in ("pending", "in_progress")
    ]
    return context.LeadView(
        leader=leader,
        acting_for=ceo,
        status_round=found.value if found is not None and isinstance(found.value, dict) else None,
        tasks=duties,
        inbox=[context.inbox_item(m) for m in memory.unhandled_inbox(ceo, limit=20)],
    )
