"""A worker kind with ``engine: claude-code``: Claude Code (the CLI claude-agent-sdk
bundles) runs in the worker's sandbox against the local Messages API server, through the
gateway. It edits a copy of the files its paths allow, with its file tools; its changes
come back as one pull request, checked and opened on the trusted side; every call is
checked, budgeted and recorded there, with the launcher's key (never the sandbox's)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from support.agent_world import World, edit_agent
from support.fake_anthropic import API_KEY, FakeAnthropic, running_fake_anthropic, text, tool_use

from aito.agent import executing
from aito.forge.base import Identity
from aito.llm.anthropic import AnthropicModel
from aito.runtime import claude_code, inprocess, messages_relay, sandbox, working

pytest.importorskip("claude_agent_sdk", reason="claude-agent-sdk is a dev dependency")

Make = Callable[..., World]
DRAFT = "content/drafts/launch.md"
WORKDIR = re.compile(r"Primary working directory: (\S+)")


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as fake:
        yield fake


def as_claude_code(repo: Path) -> None:
    edit_agent(repo, "content-writer", lambda spec: spec.update(engine="claude-code"))


def workdir(body: dict[str, Any]) -> Path:
    """Where Claude Code works, as its first message tells the model."""
    found = WORKDIR.search(str(body["messages"]))
    assert found is not None, "Claude Code names its working directory"
    return Path(found.group(1).replace("\\n", ""))


def read_draft(body: dict[str, Any]) -> Any:
    return tool_use(("Read", {"file_path": str(workdir(body) / DRAFT)}))


def edit_draft(body: dict[str, Any]) -> Any:
    path = str(workdir(body) / DRAFT)
    return tool_use(("Edit", {"file_path": path, "old_string": "TBD", "new_string": "We ship."}))


def spawn(
    world: World, anthropic: FakeAnthropic, *, runtime: Any = None, image: str = "aito:latest"
) -> Any:
    world.ports.model = AnthropicModel(api_key=SecretStr(API_KEY), base_url=anthropic.base_url)
    social = world.forge("social")
    social.commit_files(
        branch=social.default_branch,
        base=social.default_branch,
        files={DRAFT: b"# Launch\n\nTBD\n", "README.md": b"not for the writer\n"},
        message="seed",
        author=Identity(login="maintainer", id=1),
    )
    engine = runtime or inprocess.InProcessRuntime({"aito worker exec": working.in_process})
    workers = sandbox.SandboxWorkers(
        ports=world.ports, runtime=engine, image=image, user="10001:10001"
    )
    request = executing.WorkerRequest(
        requester="cmo",
        requester_run="cmo:manual:1",
        position=0,
        kind="content-writer",
        task="weekly-post",
        instructions="Rewrite the launch draft: one line, we ship.",
    )
    return workers("content-writer", "content-writer:spawn:cmo:manual:1#0", request)


def test_claude_code_edits_its_files_and_its_changes_come_back_as_a_checked_pull_request(
    make_world: Make, anthropic: FakeAnthropic
) -> None:
    world = make_world(None, edit=as_claude_code)
    anthropic.plan(read_draft, edit_draft, text("Rewrote the launch draft to one line."))
    outcome = spawn(world, anthropic)
    assert outcome.status == "completed", outcome.error
    kinds = [(a.type, a.status) for a in outcome.actions]
    assert kinds == [("open_pr", "executed"), ("summary", "executed")], outcome.actions
    social = world.forge("social")
    [pull] = social.pulls()
    changed = social.read_tree(pull.head_sha, prefixes=[DRAFT])
    assert changed == {DRAFT: b"# Launch\n\nWe ship.\n"}
    assert social.changed_files(pull.number) == [DRAFT]
    assert "Rewrote the launch draft" in pull.body
    assert outcome.summary == "Rewrote the launch draft to one line."

    first, *others = anthropic.requests
    assert "TBD" in str(others[0].body["messages"][-1])  # it read the copy it was given
    for made in anthropic.requests:
        assert made.path.startswith("/v1/messages")
        assert made.headers["x-api-key"] == API_KEY  # the launcher's key, added outside
        assert made.body["model"] == world.org.model_of("content-writer")
        assert made.body["max_tokens"] <= messages_relay.MAX_OUTPUT_TOKENS
        assert {t["name"] for t in made.body["tools"]} <= set(claude_code.TOOLS)
    brief = str(first.body["messages"])
    assert "Rewrite the launch draft" in brief
    assert API_KEY not in brief
    assert world.usage_rows("content-writer") == 3  # each call accounted, once


def test_a_change_outside_the_workers_paths_is_refused_on_the_trusted_side(
    make_world: Make, anthropic: FakeAnthropic
) -> None:
    """The coding agent can write anything in its scratch copy; what comes back is
    checked as any pull request is: a file outside its paths is refused, none opened."""
    world = make_world(None, edit=as_claude_code)

    def escape(body: dict[str, Any]) -> Any:
        return tool_use(("Write", {"file_path": str(workdir(body) / "README.md"), "content": "x"}))

    anthropic.plan(escape, text("Changed the README."))
    outcome = spawn(world, anthropic)
    pr, _ = outcome.actions
    assert (pr.type, pr.status) == ("open_pr", "refused"), outcome.actions
    assert "README.md" in (pr.reason or "")
    assert world.forge("social").pulls() == []


def test_a_budget_that_would_break_stops_the_session_before_the_call(
    make_world: Make, anthropic: FakeAnthropic
) -> None:
    def tiny(repo: Path) -> None:
        as_claude_code(repo)
        edit_agent(repo, "content-writer", lambda spec: spec["budget"].update(daily_usd=0.0001))

    world = make_world(None, edit=tiny)
    anthropic.plan(edit_draft, text("done"))
    outcome = spawn(world, anthropic)
    assert outcome.status == "budget_exhausted", outcome.error
    assert "daily budget" in (outcome.error or "")
    assert anthropic.requests == []  # nothing was asked of the provider
    assert world.forge("social").pulls() == []


def test_without_the_anthropic_provider_the_worker_fails_saying_why(make_world: Make) -> None:
    world = make_world(None, edit=as_claude_code)  # the offline model
    engine = inprocess.InProcessRuntime({"aito worker exec": working.in_process})
    workers = sandbox.SandboxWorkers(
        ports=world.ports, runtime=engine, image="aito:latest", user="10001:10001"
    )
    request = executing.WorkerRequest(
        requester="cmo",
        requester_run="cmo:manual:1",
        position=0,
        kind="content-writer",
        task="weekly-post",
        instructions="Draft it.",
    )
    outcome = workers("content-writer", "content-writer:spawn:cmo:manual:1#0", request)
    assert outcome.status == "failed"
    assert "anthropic model provider" in (outcome.error or "")


@pytest.mark.docker
def test_in_a_container_claude_code_works_with_no_network_and_no_key(
    make_world: Make,
    anthropic: FakeAnthropic,
    docker_runtime: Any,
    aito_image: str,
) -> None:
    """The same session in the worker's real sandbox (network none, read-only root, no
    credential): Claude Code reaches only its loopback port, which the worker forwards
    to the gateway's socket; the pull request comes back and is opened outside."""

    def roomy(repo: Path) -> None:
        as_claude_code(repo)
        edit_agent(repo, "content-writer", lambda spec: spec["container"].update(memory="1g"))

    world = make_world(None, edit=roomy)
    anthropic.plan(read_draft, edit_draft, text("Rewrote the launch draft to one line."))
    outcome = spawn(world, anthropic, runtime=docker_runtime, image=aito_image)
    assert outcome.status == "completed", outcome.error
    kinds = [(a.type, a.status) for a in outcome.actions]
    assert kinds == [("open_pr", "executed"), ("summary", "executed")], outcome.actions
    record = world.runtime.memory.run_record(outcome.run_id)
    assert record is not None and record["container"]["network"] == "none"
    assert all(r.headers["x-api-key"] == API_KEY for r in anthropic.requests)
