"""Results reach the agents concerned, once: Postgres history and their Redis inboxes."""

from __future__ import annotations

from pathlib import Path

from support.local_repo import Clock

from aito.bus.redis import RedisBus
from aito.decisions import applying, proposing, recording
from aito.forge.local import LocalForge
from aito.memory import base
from aito.memory.postgres import PostgresMemory
from aito.org import loading
from aito.org.organization import Tier


def test_escalation_and_final_result_are_announced_once(
    local_forge: LocalForge,
    governance_repo: Path,
    clock: Clock,
    memory: PostgresMemory,
    bus: RedisBus,
) -> None:
    org = loading.load_valid(governance_repo)
    memory.migrate()
    memory.register_agents(base.agent_rows(org))
    recorder = recording.ServicesRecorder(memory=memory, bus=bus)

    def tally() -> applying.Tally:
        clock.advance(minutes=1)
        return applying.tally(local_forge, number, now=clock(), recorder=recorder)

    _, pull = proposing.propose(
        local_forge,
        org=org,
        proposer="cmo",
        tier=Tier.MAJOR,
        title="Split",
        body="b",
        files={"content/s.md": b"s"},
        amount_usd=0,
        now=clock(),
    )
    number = pull.number
    votes = [("ceo", "approve"), ("dao", "veto")]
    for voter, vote in votes:
        proposing.review(
            local_forge, number, author=proposing.identity_for(org, voter), vote=vote, body=""
        )
    tally()
    clock.advance(hours=25)  # analysis deadline passes
    tally()
    for voter, vote in [
        *votes,
        ("cto", "approve"),
        ("cfo", "veto"),
        ("coo", "abstain"),
        ("cco", "abstain"),
    ]:
        proposing.review(
            local_forge, number, author=proposing.identity_for(org, voter), vote=vote, body=""
        )
    assert tally().verdict.status.value == "escalated"
    tally()  # nothing new to say
    statuses = [m.payload["status"] for m in bus.inbox("cmo")]
    assert statuses == ["escalated"]

    proposing.review(
        local_forge,
        number,
        author=proposing.identity_for(org, "shiba-maintainer"),
        vote="veto",
        body="Not now.",
    )
    assert tally().verdict.status.value == "rejected"
    tally()
    assert [m.payload["status"] for m in bus.inbox("cmo")] == ["escalated", "rejected"]
    assert [m.payload["status"] for m in bus.inbox("dao")] == ["escalated", "rejected"]
    rejected = bus.inbox("cmo")[-1]
    assert rejected.payload["human_decision"] == "reject"
    assert rejected.payload["decided_by"] == "shiba-maintainer"
    summaries = [h["summary"] for h in memory.history("cmo")]
    assert len(summaries) == 2 and "rejected" in summaries[0]
    row = memory.decision(rejected.payload["decision_id"])
    assert row is not None and row["status"] == "rejected" and row["human_decision"] == "reject"
