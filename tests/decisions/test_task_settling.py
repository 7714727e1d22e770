"""The governance tally settles task record pull requests (`aito.agent.task_settling`).

On a LocalForge (real git): a task record an agent's bot may write is merged once, pinned
to the head it read; forged ones (another creator, an assignee out of reach, two files, a
file outside org/tasks, a symbolic link, bad YAML, a person's pull request, an update the
author may not make) are never merged, commented on once per head, and closed when
malformed; a decision is never a task and a task never a decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.local_repo import Clock, git, plain_push

from aito import bootstrap
from aito.agent import effects, task_settling
from aito.decisions import proposing, reading, sweeping
from aito.forge.base import Identity, PullRequest, PullState
from aito.forge.local import LocalForge
from aito.org import loading
from aito.org.organization import Tier
from aito.settings import Settings


@pytest.fixture
def org(governance_repo: Path) -> loading.Organization:
    return loading.load_valid(governance_repo)


def bot(org: loading.Organization, agent_id: str) -> Identity:
    return proposing.identity_for(org, agent_id)


def record(task_id: str = "20261102-launch-thread", **values: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "title": "Draft the launch thread",
        "description": "Five posts.",
        "assigned_to": "content-writer",
        "created_by": "cmo",
        "priority": 3,
        "created_at": "2026-11-02T09:00:00+00:00",
    } | values


def text(data: dict[str, Any]) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()


def open_pr(
    forge: LocalForge, author: Identity, files: dict[str, bytes], *, branch: str
) -> PullRequest:
    forge.commit_files(branch=branch, base="main", files=files, message="task", author=author)
    return forge.open_pull(head=branch, base="main", title="Task", body="", author=author)


def task_pr(
    forge: LocalForge, author: Identity, data: dict[str, Any], *, branch: str | None = None
) -> PullRequest:
    path = f"org/tasks/{data['id']}.yaml"
    # the branch `aito` writes it on (named by the content's hash) unless a test pushes it elsewhere
    own = effects.task_branch(str(data["id"]), text(data))
    return open_pr(forge, author, {path: text(data)}, branch=branch or own)


def on_main(forge: LocalForge, task_id: str) -> dict[str, Any] | None:
    path = f"org/tasks/{task_id}.yaml"
    content = forge.read_tree("main", prefixes=[path]).get(path)
    return None if content is None else yaml.safe_load(content)


def settle(forge: LocalForge) -> dict[int, task_settling.Settled]:
    settled, problems = task_settling.settle_open(forge)
    assert problems == []
    return {s.pr: s for s in settled}


def governance_comments(forge: LocalForge, org: loading.Organization, number: int) -> list[str]:
    governance = reading.governance_identity(org)
    return [c.body for c in forge.comments(number) if c.user.id == governance.id]


def test_a_new_task_written_by_its_creators_bot_is_merged_once(
    local_forge: LocalForge, org: loading.Organization
) -> None:
    pull = task_pr(local_forge, bot(org, "cmo"), record())
    first = settle(local_forge)
    assert first[pull.number].outcome == task_settling.MERGED
    assert first[pull.number].task == "20261102-launch-thread"
    merged = local_forge.pull(pull.number)
    assert merged.state is PullState.MERGED
    assert merged.merged_by == reading.governance_identity(org)
    assert on_main(local_forge, "20261102-launch-thread") == record()
    assert settle(local_forge) == {}  # a re-run finds nothing left to do
    assert governance_comments(local_forge, org, pull.number) == []


def test_an_update_is_merged_only_for_the_assignee_or_the_creator(
    local_forge: LocalForge, org: loading.Organization
) -> None:
    created = record("20261102-audit", assigned_to="cto", created_by="ceo")
    task_pr(local_forge, bot(org, "ceo"), created)
    settle(local_forge)
    started = task_pr(local_forge, bot(org, "cto"), created | {"status": "in_progress"})
    cancelled = task_pr(local_forge, bot(org, "cmo"), created | {"status": "cancelled"})
    settled = settle(local_forge)
    assert settled[started.number].outcome == task_settling.MERGED
    assert settled[cancelled.number].outcome == task_settling.REFUSED
    assert "neither assigned to you nor delegated by you" in settled[cancelled.number].reason
    assert on_main(local_forge, "20261102-audit")["status"] == "in_progress"  # type: ignore[index]
    assert local_forge.pull(cancelled.number).state is PullState.OPEN  # authority: left open
    assert len(governance_comments(local_forge, org, cancelled.number)) == 1
    again = settle(local_forge)  # idempotent: no second comment for the same head
    assert again[cancelled.number].commented is False
    assert len(governance_comments(local_forge, org, cancelled.number)) == 1


def test_only_the_assignee_starts_a_task_and_the_creator_may_cancel_it(
    local_forge: LocalForge, org: loading.Organization
) -> None:
    created = record("20261102-audit", assigned_to="cto", created_by="ceo")
    task_pr(local_forge, bot(org, "ceo"), created)
    settle(local_forge)
    start = task_pr(local_forge, bot(org, "ceo"), created | {"status": "in_progress"})
    assert settle(local_forge)[start.number].reason.endswith("only the assignee starts a task")
    local_forge.close(start.number, actor=bot(org, "ceo"))
    cancel = task_pr(local_forge, bot(org, "ceo"), created | {"status": "cancelled"})
    assert settle(local_forge)[cancel.number].outcome == task_settling.MERGED


def forged(forge: LocalForge, org: loading.Organization, repo: Path, case: str) -> PullRequest:
    cmo = bot(org, "cmo")
    path = "org/tasks/20261102-launch-thread.yaml"
    match case:
        case "created by another agent":
            return task_pr(forge, bot(org, "cto"), record())
        case "assigned out of reach":
            return task_pr(forge, cmo, record(assigned_to="cto"))
        case "a new task done by its creator":
            done = {"status": "done", "result": {"summary": "x"}, "completed_at": "2026-11-02"}
            return task_pr(
                forge, bot(org, "ceo"), record(assigned_to="cto", created_by="ceo") | done
            )
        case "two task files":
            other = record("20261102-second")
            files = {path: text(record()), "org/tasks/20261102-second.yaml": text(other)}
            return open_pr(forge, cmo, files, branch="two")
        case "a file outside org/tasks":
            files = {path: text(record()), "content/extra.md": b"x"}
            return open_pr(forge, cmo, files, branch="extra")
        case "a symbolic link":
            git(repo, "branch", "linked", "main")
            plain_push(repo, "linked", {path: b"../org.yaml"}, modes={path: "120000"})
            return forge.open_pull(head="linked", base="main", title="t", body="", author=cmo)
        case "invalid YAML":
            return open_pr(forge, cmo, {path: b"id: [unclosed\n"}, branch="bad")
        case "not a task":
            return open_pr(forge, cmo, {path: text({"id": "20261102-launch-thread"})}, branch="x")
        case "a misnamed record":
            return open_pr(forge, cmo, {"org/tasks/other.yaml": text(record())}, branch="name")
        case "a valid record on another branch":
            # e.g. pushed onto a pull request cmo's bot opened for something else
            return task_pr(forge, cmo, record(), branch="aito/cmo/run-1-0")
        case "a person's pull request":
            maintainer = org.org.maintainers[0]
            return task_pr(forge, Identity(maintainer.login, maintainer.id), record())
    raise AssertionError(case)


CLOSED = {
    "two task files": "exactly one file",
    "a file outside org/tasks": "exactly one file",
    "a symbolic link": "not a regular file",
    "invalid YAML": "YAML",
    "not a task": "not a valid task record",
    "a misnamed record": "holds task",
    "a valid record on another branch": "merged only from the branch its content names",
}
KEPT_OPEN = {
    "created by another agent": "cto's bot acts for",
    "assigned out of reach": "may not create task",
    "a new task done by its creator": "is not an open task assigned to you",
}


@pytest.mark.parametrize("case", [*CLOSED, *KEPT_OPEN, "a person's pull request"])
def test_a_forged_task_record_is_never_merged(
    local_forge: LocalForge, org: loading.Organization, governance_repo: Path, case: str
) -> None:
    pull = forged(local_forge, org, governance_repo, case)
    settled = settle(local_forge)[pull.number]
    assert settled.outcome != task_settling.MERGED
    assert on_main(local_forge, "20261102-launch-thread") is None
    state = local_forge.pull(pull.number).state
    comments = governance_comments(local_forge, org, pull.number)
    if case in CLOSED:
        assert settled.outcome == task_settling.REFUSED and CLOSED[case] in settled.reason
        assert state is PullState.CLOSED and len(comments) == 1
    elif case in KEPT_OPEN:
        assert settled.outcome == task_settling.REFUSED and KEPT_OPEN[case] in settled.reason
        assert state is PullState.OPEN and len(comments) == 1
    else:  # a person's: left to people, without a word
        assert settled.outcome == task_settling.LEFT and "not an agent's bot" in settled.reason
        assert state is PullState.OPEN and comments == []
    settle(local_forge)  # a re-run changes nothing
    assert governance_comments(local_forge, org, pull.number) == comments
    assert on_main(local_forge, "20261102-launch-thread") is None


def test_an_update_may_change_only_the_status(
    local_forge: LocalForge, org: loading.Organization
) -> None:
    created = record("20261102-audit", assigned_to="cto", created_by="ceo")
    task_pr(local_forge, bot(org, "ceo"), created)
    settle(local_forge)
    moved = created | {"assigned_to": "cmo", "status": "in_progress"}
    pull = task_pr(local_forge, bot(org, "cto"), moved)
    settled = settle(local_forge)[pull.number]
    assert settled.outcome == task_settling.REFUSED and "not assigned_to" in settled.reason
    assert on_main(local_forge, "20261102-audit")["assigned_to"] == "cto"  # type: ignore[index]


def test_the_merge_is_pinned_to_the_head_that_was_read(
    local_forge: LocalForge, org: loading.Organization, governance_repo: Path
) -> None:
    pull = task_pr(local_forge, bot(org, "cmo"), record())
    plain_push(governance_repo, pull.head_ref, {"org/tasks/20261102-launch-thread.yaml": b"x"})
    settled = task_settling.settle(local_forge, pull)  # ``pull`` as read before the push
    assert settled is not None and settled.outcome == task_settling.LEFT
    assert local_forge.pull(pull.number).state is PullState.OPEN
    assert on_main(local_forge, "20261102-launch-thread") is None


def test_a_dry_run_writes_nothing(local_forge: LocalForge, org: loading.Organization) -> None:
    good = task_pr(local_forge, bot(org, "cmo"), record())
    bad = task_pr(local_forge, bot(org, "cto"), record("20261102-other"))
    settled, _ = task_settling.settle_open(local_forge, apply=False)
    assert [(s.pr, s.outcome) for s in settled] == [
        (good.number, task_settling.MERGED),
        (bad.number, task_settling.REFUSED),
    ]
    assert all(local_forge.pull(n).state is PullState.OPEN for n in (good.number, bad.number))
    assert governance_comments(local_forge, org, bad.number) == []


def test_a_decision_is_never_a_task_nor_a_task_a_decision(
    local_forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    _, decision = proposing.propose(
        local_forge,
        org=org,
        proposer="cmo",
        tier=Tier.CRITICAL,
        title="Tasks too",
        body="Why.",
        files={"org/tasks/20261102-launch-thread.yaml": text(record())},
        amount_usd=0,
        now=clock(),
    )
    task = task_pr(local_forge, bot(org, "cmo"), record("20261102-mine"))
    assert sweeping.open_decisions(local_forge) == [decision.number]
    assert list(settle(local_forge)) == [task.number]
    assert local_forge.pull(decision.number).state is PullState.OPEN


def test_decide_tally_lists_task_records_beside_decisions(  # type: ignore[no-untyped-def]
    governance_repo: Path, postgres_url: str, redis_url: str, monkeypatch, run_aito, clock: Clock
) -> None:
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    org = loading.load_valid(governance_repo)
    forge = bootstrap.forge(Settings.from_env({}, repo=governance_repo), org)
    assert isinstance(forge, LocalForge)
    _, decision = proposing.propose(
        forge,
        org=org,
        proposer="cmo",
        tier=Tier.MAJOR,
        title="Winter",
        body="Why.",
        files={"content/winter.md": b"text"},
        amount_usd=0,
        now=clock(),
    )
    good = task_pr(forge, bot(org, "cmo"), record())
    bad = task_pr(forge, bot(org, "cto"), record("20261102-forged"))

    one = run_aito("--repo", str(governance_repo), "decide", "tally", str(bad.number), "--json")
    assert one.code == 0, one.err  # a refusal is a verdict, not a failure
    assert json.loads(one.out) | {"reason": ""} == {
        "kind": "task",
        "pr": bad.number,
        "task": "20261102-forged",
        "author": "shiba-cto[bot]",
        "outcome": "refused",
        "reason": "",
        "closed": False,
        "commented": True,
    }
    every = run_aito("--repo", str(governance_repo), "decide", "tally", "--all")
    assert every.code == 0, every.err
    assert f"#{good.number} task 20261102-launch-thread [shiba-cmo[bot]] merged" in every.out
    assert f"#{bad.number} task 20261102-forged [shiba-cto[bot]] refused" in every.out
    assert f"#{decision.number} " in every.out
    listed = run_aito("--repo", str(governance_repo), "decide", "tally", "--all", "--json")
    kinds = [(e["kind"], e["pr"]) for e in json.loads(listed.out)]
    assert kinds == [("decision", decision.number), ("task", bad.number)]  # good is merged
    assert forge.pull(good.number).state is PullState.MERGED


def test_a_merged_new_task_wakes_its_assignee_once(
    local_forge: LocalForge, org: loading.Organization
) -> None:
    woken: list[str] = []
    audit = record("20261102-audit", assigned_to="cto", created_by="ceo")
    task_pr(local_forge, bot(org, "ceo"), audit)
    task_pr(local_forge, bot(org, "cmo"), record())  # a worker: no loop to wake
    settled, _ = task_settling.settle_open(local_forge, wake=lambda agent, _: woken.append(agent))
    assert [s.outcome for s in settled] == [task_settling.MERGED, task_settling.MERGED]
    assert woken == ["cto"]
    started = task_pr(local_forge, bot(org, "cto"), audit | {"status": "in_progress"})
    task_settling.settle_open(local_forge, wake=lambda agent, _: woken.append(agent))
    assert local_forge.pull(started.number).state is PullState.MERGED
    assert woken == ["cto"]  # an update wakes nobody; a re-run neither
