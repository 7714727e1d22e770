"""The orchestrator's plan, table- and property-tested: pure, keyed, and idempotent once
its steps are applied (what applying does is modelled here by `applied`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from aito.org import loading
from aito.reconcile import planning, steps
from aito.reconcile.observed import (
    AgentSeen,
    Cause,
    ContainerSeen,
    DecisionSeen,
    Observed,
    WorkerAsked,
)

ROOT = Path(__file__).resolve().parents[2]
ORG = loading.load_valid(ROOT)
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
LOOPING = sorted(a.id for a in ORG.agents.values() if a.loop is not None)


def healthy(agent_id: str, now: dt.datetime = NOW) -> AgentSeen:
    """Ran its latest slot: the slot an hour ago, a heartbeat after it."""
    slot = now - dt.timedelta(hours=1)
    return AgentSeen(agent_id, slot=slot, last_heartbeat=slot + dt.timedelta(minutes=2))


def missed(agent_id: str, **more: object) -> AgentSeen:
    """Its due slot, two hours ago, left no heartbeat."""
    return AgentSeen(agent_id, slot=NOW - dt.timedelta(hours=2), **more)  # type: ignore[arg-type]


def world(**agents: AgentSeen) -> dict[str, AgentSeen]:
    return {a: agents.get(a, healthy(a)) for a in LOOPING}


def with_wake(mode: str) -> loading.Organization:
    orchestrator = ORG.org.orchestrator.model_copy(update={"wake": mode})
    return dataclasses.replace(ORG, org=ORG.org.model_copy(update={"orchestrator": orchestrator}))


def kinds(found: list[steps.Step]) -> list[str]:
    return [type(s).__name__ for s in found]


# -- health --------------------------------------------------------------------------------


def test_a_healthy_organization_needs_nothing() -> None:
    assert planning.plan(ORG, Observed(agents=world()), NOW) == []


def test_an_agent_that_missed_its_slot_is_restarted_with_a_wake_up() -> None:
    found = planning.plan(ORG, Observed(agents=world(cmo=missed("cmo"))), NOW)
    assert found == [steps.Restart("cmo", 1, daemon=False)]


def test_restarts_back_off_and_stop_at_the_budget_with_one_error_and_one_notice() -> None:
    once = missed("cmo", restarts=(NOW - dt.timedelta(seconds=10),))
    assert planning.plan(ORG, Observed(agents=world(cmo=once)), NOW) == []  # 30 s backoff
    later = NOW + dt.timedelta(seconds=31)
    assert planning.plan(ORG, Observed(agents=world(cmo=once)), later) == [
        steps.Restart("cmo", 2, daemon=False)
    ]
    spent = missed("cmo", restarts=tuple(NOW - dt.timedelta(minutes=m) for m in (30, 20, 5)))
    found = planning.plan(ORG, Observed(agents=world(cmo=spent)), NOW)
    assert kinds(found) == ["MarkError", "Notify"]
    mark, notice = found
    assert isinstance(mark, steps.MarkError) and mark.since == NOW - dt.timedelta(minutes=30)
    assert isinstance(notice, steps.Notify) and notice.severity == "critical"
    assert "restart budget" in notice.subject and "orchestrator.restart_budget" in notice.body
    assert notice.link is None  # the local forge has no page for an agent's runs
    runs = "https://github.com/og/gov/actions/workflows/agent-cmo.yml"
    on_github = Observed(agents=world(cmo=spent), agent_links={"cmo": runs})
    assert planning.plan(ORG, on_github, NOW)[1] == dataclasses.replace(notice, link=runs)


def test_an_agent_in_error_is_notified_once_and_cleared_when_healthy() -> None:
    since = NOW - dt.timedelta(minutes=30)
    erred = missed("cmo", error_since=since)
    [notice] = planning.plan(ORG, Observed(agents=world(cmo=erred)), NOW)
    assert isinstance(notice, steps.Notify)  # sent if a crash came before it was
    sent = Observed(agents=world(cmo=erred), notified=frozenset({notice.key}))
    assert planning.plan(ORG, sent, NOW) == []
    back = dataclasses.replace(healthy("cmo"), error_since=since)
    assert planning.plan(ORG, Observed(agents=world(cmo=back)), NOW) == [steps.ClearError("cmo")]


def test_in_daemon_mode_a_missing_daemon_container_is_restarted_at_once() -> None:
    daemons = with_wake("daemon")
    running = {a: dataclasses.replace(healthy(a), daemon_running=True) for a in LOOPING}
    assert planning.plan(daemons, Observed(agents=running), NOW) == []
    gone = {**running, "cto": healthy("cto")}  # heartbeat fine, container gone
    assert planning.plan(daemons, Observed(agents=gone), NOW) == [
        steps.Restart("cto", 1, daemon=True)
    ]


# -- the temporary lead ----------------------------------------------------------------------


def test_the_dao_takes_the_lead_while_the_ceo_is_in_error_and_gives_it_back() -> None:
    spent = missed("ceo", restarts=tuple(NOW - dt.timedelta(minutes=m) for m in (30, 20, 5)))
    found = planning.plan(ORG, Observed(agents=world(ceo=spent)), NOW)
    assert steps.ChangeLead("dao", "ceo is down past its restart budget") in found
    erred = missed("ceo", error_since=NOW)
    led = Observed(
        agents=world(ceo=erred),
        lead="dao",
        notified=frozenset({planning._down_notice(ORG, erred, NOW, link=None).key}),
    )
    assert planning.plan(ORG, led, NOW) == []  # the lead stays while the CEO is down
    back = dataclasses.replace(healthy("ceo"), error_since=NOW)
    found = planning.plan(ORG, Observed(agents=world(ceo=back), lead="dao"), NOW)
    assert found == [steps.ClearError("ceo"), steps.ChangeLead("ceo", "ceo is healthy again")]


def test_a_ceo_being_restarted_keeps_the_lead() -> None:
    found = planning.plan(ORG, Observed(agents=world(ceo=missed("ceo"))), NOW)
    assert found == [steps.Restart("ceo", 1, daemon=False)]


# -- deadlines, workers, containers, notices ------------------------------------------------


def test_a_decision_is_tallied_once_its_round_deadline_passed() -> None:
    due = DecisionSeen("d1", 7, deadline=NOW - dt.timedelta(minutes=1))
    later = DecisionSeen("d2", 8, deadline=NOW + dt.timedelta(hours=1))
    done = DecisionSeen("d3", 9, deadline=NOW - dt.timedelta(hours=1), tallied_at=NOW)
    found = planning.plan(ORG, Observed(agents=world(), decisions=(due, later, done)), NOW)
    assert found == [steps.Tally("d1", 7, due.deadline)]  # type: ignore[arg-type]


def test_workers_start_in_order_at_most_max_workers_per_parent_and_expire_when_stale() -> None:
    asked = tuple(
        WorkerAsked(f"w{n}", "cmo", "content-writer", "t", NOW - dt.timedelta(minutes=10 - n))
        for n in range(5)
    )
    stale = WorkerAsked("old", "cmo", "content-writer", "t", NOW - dt.timedelta(hours=2))
    foreign = WorkerAsked("x", "cmo", "analyst", "t", NOW)  # the CFO's kind
    busy = ContainerSeen("c1", "worker", "content-writer", "r", True, None, parent="cmo")
    seen = Observed(agents=world(), worker_requests=(*asked, stale, foreign), containers=(busy,))
    found = planning.plan(ORG, seen, NOW)
    timeout = ORG.timeout_of("content-writer")
    claim = timeout * 60 + 120.0  # the kind's timeout and the claim's grace
    assert found == [
        steps.ExpireWorker("old", "cmo", timeout),
        steps.SpawnWorker("w0", "cmo", "content-writer", 1, claim),
        steps.SpawnWorker("w1", "cmo", "content-writer", 1, claim),
        steps.ExpireWorker("x", "cmo"),
    ]


def test_workers_running_without_containers_count_and_a_lapsed_start_is_a_new_step() -> None:
    """Workers of in-process runs have no container: the queue's claims count them. A
    request whose runner died is queued again with its attempt counted: its next start
    has a key of its own (the first start's key was used)."""
    retried = WorkerAsked(
        "w9", "cmo", "content-writer", "t", NOW - dt.timedelta(minutes=1), attempts=1
    )
    waiting = WorkerAsked("w10", "cmo", "content-writer", "t", NOW)
    allowed = ORG.max_workers_of("cmo")
    full = Observed(
        agents=world(), worker_requests=(retried, waiting), workers_running={"cmo": allowed}
    )
    assert planning.plan(ORG, full, NOW) == []
    room = dataclasses.replace(full, workers_running={"cmo": allowed - 1})
    (started,) = planning.plan(ORG, room, NOW)
    assert isinstance(started, steps.SpawnWorker)
    assert (started.request, started.attempt, started.key) == ("w9", 2, "spawn:w9:2")


def test_overdue_and_orphaned_containers_are_reaped() -> None:
    overdue = ContainerSeen("a", "agent", "cmo", "r1", True, NOW - dt.timedelta(seconds=1))
    orphan = ContainerSeen("b", "worker", "content-writer", "r2", True, None, "cmo", False)
    daemon = ContainerSeen("c", "daemon", "cto", "", True, None, launcher_alive=False)
    alive = ContainerSeen("d", "daemon", "cfo", "", True, None)  # no deadline: it runs on
    seen = Observed(agents=world(), containers=(overdue, orphan, daemon, alive))
    assert planning.plan(ORG, seen, NOW) == [
        steps.Reap("a", "past its deadline"),
        steps.Reap("b", "its launcher is gone"),
        steps.Reap("c", "its launcher is gone"),  # its gateway went with its launcher
    ]


def test_each_cause_is_notified_once() -> None:
    cause = Cause("escalated:d1", "Decision d1 is deadlocked", "Review it.", "https://x/1")
    found = planning.plan(ORG, Observed(agents=world(), causes=(cause, cause)), NOW)
    assert found == [
        steps.Notify("escalated:d1", cause.subject, "Review it.", cause.link, "warning")
    ]
    notified = Observed(agents=world(), causes=(cause,), notified=frozenset({found[0].key}))
    assert planning.plan(ORG, notified, NOW) == []


# -- properties --------------------------------------------------------------------------------

times = st.integers(min_value=-600, max_value=600).map(lambda m: NOW + dt.timedelta(minutes=m))


@st.composite
def observations(draw: st.DrawFn) -> Observed:
    agents = {}
    for agent_id in LOOPING:
        slot = draw(st.one_of(st.none(), times))
        restarts = tuple(sorted(draw(st.lists(times, max_size=5))))
        agents[agent_id] = AgentSeen(
            agent_id,
            slot=slot,
            last_heartbeat=draw(st.one_of(st.none(), times)),
            daemon_running=draw(st.booleans()),
            restarts=restarts,
            error_since=draw(st.one_of(st.none(), times)),
        )
    workers = tuple(
        WorkerAsked(
            f"w{n}",
            draw(st.sampled_from(["cmo", "cto", "cfo"])),
            draw(st.sampled_from(["content-writer", "code-reviewer", "analyst"])),
            "t",
            draw(times),
        )
        for n in range(draw(st.integers(0, 8)))
    )
    decisions = tuple(
        DecisionSeen(
            f"d{n}", n, draw(st.one_of(st.none(), times)), draw(st.one_of(st.none(), times))
        )
        for n in range(draw(st.integers(0, 5)))
    )
    causes = tuple(Cause(f"c{n % 3}", "s", "b") for n in range(draw(st.integers(0, 5))))
    return Observed(
        agents=agents,
        worker_requests=workers,
        decisions=decisions,
        causes=causes,
        lead=draw(st.sampled_from(["ceo", "dao"])),
    )


def applied(seen: Observed, found: list[steps.Step], now: dt.datetime) -> Observed:
    """What applying ``found`` leaves for the next pass to observe."""
    agents = dict(seen.agents)
    notified = set(seen.notified)
    lead = seen.lead
    decisions = {d.id: d for d in seen.decisions}
    gone = set()
    for step in found:
        if isinstance(step, steps.Restart):
            agent = agents[step.agent]
            agents[step.agent] = dataclasses.replace(agent, restarts=(*agent.restarts, now))
        elif isinstance(step, steps.MarkError):
            agents[step.agent] = dataclasses.replace(agents[step.agent], error_since=step.since)
        elif isinstance(step, steps.ClearError):
            agent = agents[step.agent]
            agents[step.agent] = dataclasses.replace(
                agent, error_since=None, restarts=(), generation=agent.generation + 1
            )
        elif isinstance(step, steps.ChangeLead):
            lead = step.to
        elif isinstance(step, steps.Tally):
            decisions[step.decision] = dataclasses.replace(decisions[step.decision], tallied_at=now)
        elif isinstance(step, steps.SpawnWorker | steps.ExpireWorker):
            gone.add(step.request)
        elif isinstance(step, steps.Notify):
            notified.add(step.key)
    return dataclasses.replace(
        seen,
        agents=agents,
        notified=frozenset(notified),
        lead=lead,
        decisions=tuple(decisions.values()),
        worker_requests=tuple(w for w in seen.worker_requests if w.id not in gone),
    )


@settings(max_examples=200, deadline=None)
@given(observations(), st.sampled_from(["actions", "daemon"]))
def test_a_plan_is_keyed_and_applying_it_leaves_nothing_to_repeat(
    seen: Observed, mode: str
) -> None:
    org = with_wake(mode)
    found = planning.plan(org, seen, NOW)
    assert planning.plan(org, seen, NOW) == found  # pure: the same input, the same plan
    keys = [s.key for s in found]
    assert len(keys) == len(set(keys))
    assert not {s.key for s in found if isinstance(s, steps.Notify)} & seen.notified
    after = applied(seen, found, NOW)
    again = planning.plan(org, after, NOW)
    repeated = {s.key for s in again} & set(keys)
    assert not repeated, repeated
    leads = [s for s in found if isinstance(s, steps.ChangeLead)]
    assert len(leads) <= 1
    if leads and leads[0].to == "dao":
        assert seen.lead == "ceo" and "ceo" not in {
            s.agent for s in again if isinstance(s, steps.ClearError)
        }


@settings(max_examples=100, deadline=None)
@given(observations())
def test_never_more_workers_per_parent_than_max_workers(seen: Observed) -> None:
    found = planning.plan(ORG, seen, NOW)
    started: dict[str, int] = {}
    for step in found:
        if isinstance(step, steps.SpawnWorker):
            started[step.parent] = started.get(step.parent, 0) + 1
            assert step.kind in ORG.agents[step.parent].workers
    assert all(n <= ORG.max_workers_of(p) for p, n in started.items())
