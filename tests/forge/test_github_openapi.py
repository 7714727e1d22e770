"""The fake GitHub stays honest: every body it serves matches GitHub's published description.

The description is the npm package ``@octokit/openapi`` (GitHub's own OpenAPI 3.0 file
with Octokit extensions), installed by ``scripts/fetch-github-specs`` into
``.aito/cache/npm``. Its ``generated/api.github.com.deref.json`` has every ``$ref``
inlined, so an operation's response schema is read straight from
``paths[template][method].responses[status].content["application/json"].schema``; the
fake records the same OpenAPI path template with each response. OpenAPI 3.0's
``nullable`` is turned into JSON Schema (``anyOf: [schema, {type: null}]``) before
validating with jsonschema.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import github
import jsonschema
import pytest
from pydantic import SecretStr
from support.fake_github import (
    WEB_PREFIX,
    FakeGitHub,
    api_routes,
    make_github_forge,
    start_fake_github,
)
from support.github_admin_session import run_admin_session
from support.github_app_session import run_app_session

from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.forge.base import CheckState, Identity, MergeConflict, PullState, ReviewState
from aito.forge.github import GitHubForge

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = (
    ROOT / ".aito/cache/npm/node_modules/@octokit/openapi/generated/api.github.com.deref.json"
)
CEO, CTO, DAO = Identity("ceo-bot", 7001), Identity("cto-bot", 7002), Identity("dao-bot", 7003)
GOVERNANCE = Identity("aito-governance", 7000)
_DROP = {"example", "examples", "discriminator", "xml", "externalDocs", "deprecated"}


@pytest.fixture(scope="module")
def description() -> dict[str, Any]:
    if not DESCRIPTION.exists():
        reason = (
            f"GitHub's OpenAPI description is missing ({DESCRIPTION.relative_to(ROOT)}); "
            "run scripts/fetch-github-specs (needs npm)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    data: dict[str, Any] = json.loads(DESCRIPTION.read_text())
    return data


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema (draft 4): ``nullable`` becomes a union."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(schema) for name, schema in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(schema) for schema in value]
        else:
            out[key] = value
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(
    description: dict[str, Any], method: str, template: str, status: int
) -> dict[str, Any] | None:
    """The JSON Schema of ``status``'s body for the operation; None when it has no body.

    Error statuses an operation does not list (502, a rate-limit 403, 401 …) are checked
    against GitHub's "Basic Error" schema, which every error body follows."""
    operation = description["paths"][template][method.lower()]
    response = operation["responses"].get(str(status))
    if response is None:
        assert status >= 400, f"{method} {template}: {status} is not a documented success"
        response = description["paths"]["/repos/{owner}/{repo}"]["get"]["responses"]["404"]
    content = response.get("content")
    if content is None:
        return None
    schema: dict[str, Any] = to_json_schema(content["application/json"]["schema"])
    return schema


@pytest.fixture
def session() -> Iterator[tuple[FakeGitHub, GitHubForge]]:
    server = start_fake_github(users={})
    forge = make_github_forge(
        server,
        repo="acme/governance",
        governance=(GOVERNANCE.login, GOVERNANCE.id),
        agents={"ceo": (CEO.login, CEO.id), "cto": (CTO.login, CTO.id), "dao": (DAO.login, DAO.id)},
        retries=2,
        sleep=lambda seconds: None,
    )
    server.create_repo("acme/governance", files={"org/org.yaml": "name: acme\n"})
    server.set_permission(GOVERNANCE.login, "admin")
    server.set_permission(CEO.login, "write")
    try:
        yield server, forge
    finally:
        forge.disconnect()
        server.stop()


def run_representative_session(server: FakeGitHub, forge: GitHubForge) -> None:
    """Every endpoint GitHubForge uses, on its happy and its error paths."""
    assert forge.default_branch == "main"
    assert forge.read_tree("main", prefixes=["org"]) == {"org/org.yaml": b"name: acme\n"}
    files = {"org/decisions/d1.yaml": b"id: d1\n", "org/notes.md": b"# notes\n"}
    first = forge.commit_files(branch="ceo/d1", base="main", files=files, message="d1", author=CEO)
    head = forge.commit_files(
        branch="ceo/d1", base="main", files={"org/notes.md": None}, message="drop", author=CEO
    )
    assert head != first
    pr = forge.open_pull(head="ceo/d1", base="main", title="Decision d1", body="", author=CEO)
    assert forge.open_pull(head="ceo/d1", base="main", title="again", body="", author=CEO) == pr
    assert [c.sha for c in forge.commits(pr.number)] == [first, head]
    assert forge.changed_files(pr.number) == ["org/decisions/d1.yaml"]
    forge.post_review(pr.number, author=DAO, state=ReviewState.APPROVED, body="", commit_id=head)
    forge.post_review(
        pr.number, author=CTO, state=ReviewState.CHANGES_REQUESTED, body="no", commit_id=first
    )
    forge.post_review(pr.number, author=CTO, state=ReviewState.COMMENTED, body="hm", commit_id=head)
    with pytest.raises(PermanentAdapterError):  # 422: GitHub refuses self-approval
        forge.post_review(
            pr.number, author=CEO, state=ReviewState.APPROVED, body="", commit_id=head
        )
    assert len(forge.reviews(pr.number)) == 3
    veto = next(r for r in forge.reviews(pr.number) if r.state is ReviewState.CHANGES_REQUESTED)
    forge.dismiss_review(pr.number, review_id=veto.id, actor=CEO, message="stale")
    dismissed = next(r for r in forge.reviews(pr.number) if r.id == veto.id)  # events read
    assert (dismissed.dismissed_by, dismissed.dismissed_state) == (
        CEO,
        ReviewState.CHANGES_REQUESTED,
    )
    assert [f.status.value for f in forge.file_changes(pr.number)] == ["added"]
    comment = forge.post_comment(pr.number, author=GOVERNANCE, body="round 1")
    forge.edit_comment(pr.number, comment_id=comment.id, body="round 1: open")
    assert [c.body for c in forge.comments(pr.number)] == ["round 1: open"]
    forge.set_labels(pr.number, add=["decision", "round-1"], remove=["round-0"])  # 404 inside
    forge.set_labels(pr.number, add=[], remove=["round-1"])
    forge.set_status(sha=head, context="aito/tally", state=CheckState.PENDING, description="…")
    assert forge.statuses(head)[0].state is CheckState.PENDING
    forge.request_reviewers(pr.number, logins=[DAO.login])
    assert forge.requested_reviewers(pr.number) == [DAO.login]
    assert forge.permission(CEO).value == "write"
    assert forge.permission(Identity("nobody-at-all", 1)).value == "none"  # 404 inside
    server.fail_next(status=502, path="/repos/{owner}/{repo}/pulls/{pull_number}")
    server.rate_limit_next(retry_after=1, path="/repos/{owner}/{repo}/pulls/{pull_number}")
    assert forge.pull(pr.number).labels == {"decision"}
    with pytest.raises(MergeConflict):  # 409
        forge.merge(pr.number, sha=first, actor=GOVERNANCE, message="stale")
    forge.merge(pr.number, sha=head, actor=GOVERNANCE, message="approved")
    with pytest.raises(MergeConflict):  # 405: already merged
        forge.merge(pr.number, sha=head, actor=GOVERNANCE, message="again")
    other = forge.commit_files(
        branch="cto/x", base="main", files={"org/x.yaml": b"x\n"}, message="x", author=CTO
    )
    second = forge.open_pull(head="cto/x", base="main", title="x", body="x", author=CTO)
    assert second.head_sha == other
    forge.close(second.number, actor=GOVERNANCE)
    ask = forge.open_issue(
        title="Rotate the key", body="@alice please", labels=["human-action-required"], author=CEO
    )
    assert [i.number for i in forge.issues(state=None)] == [ask.number]  # no pull requests
    forge.close_issue(ask.number, actor=GOVERNANCE)
    forge.dispatch(event_type="aito-wake-dao", client_payload={"reason": "direct"}, author=CEO)
    states = {p.number: p.state for p in forge.pulls(state=None)}
    assert states == {pr.number: PullState.MERGED, second.number: PullState.CLOSED}
    with pytest.raises(PermanentAdapterError):  # 404
        forge.pull(99)
    server.fail_next(status=503, times=3, path="/repos/{owner}/{repo}/pulls/{pull_number}")
    with pytest.raises(TemporaryAdapterError):  # retries=2: three 503s
        forge.pull(pr.number)
    stranger = GitHubForge(
        repo="acme/governance",
        api_url=server.url,
        token=SecretStr("ghp_not_a_known_token"),
        agent_tokens={},
        throttle=False,
    )
    with pytest.raises(PermanentAdapterError):  # 401
        stranger.pull(pr.number)
    stranger.disconnect()


def run_reader_session(server: FakeGitHub) -> None:
    """What the github connector reads of a public repository, without a token: the
    repository and its releases (a draft hidden from whoever may not push)."""
    repo = server.create_repo("acme/public", private=False)
    repo.description, repo.stars, repo.forks, repo.watchers = "Public", 5, 2, 1
    server.add_release("acme/public", "v1.0.0", name="One", body="The first.")
    server.add_release("acme/public", "v1.1.0", draft=True)
    client = github.Github(base_url=server.url, retry=None, seconds_between_requests=None)
    try:
        public = client.get_repo("acme/public")
        assert (public.stargazers_count, public.subscribers_count) == (5, 1)
        assert [r.tag_name for r in public.get_releases()] == ["v1.0.0"]
    finally:
        client.close()
    # who a token is (the dashboard's GitHub login asks it of a maintainer's token)
    server.add_user(token="ghp_reader", login="reader", id=4242)
    reader = github.Github(
        auth=github.Auth.Token("ghp_reader"),
        base_url=server.url,
        retry=None,
        seconds_between_requests=None,
    )
    try:
        assert (reader.get_user().login, reader.get_user().id) == ("reader", 4242)
    finally:
        reader.close()


def test_fake_routes_are_github_operations(description: dict[str, Any]) -> None:
    for method, template, _, _ in api_routes():
        assert method.lower() in description["paths"].get(template, {}), f"{method} {template}"


def test_every_response_of_a_session_matches_the_description(
    description: dict[str, Any], session: tuple[FakeGitHub, GitHubForge], tmp_path: Path
) -> None:
    server, forge = session
    run_representative_session(server, forge)
    run_app_session(server)
    run_admin_session(server, tmp_path)
    run_reader_session(server)

    served = {(r.method, r.template) for r in server.responses if r.status < 300}
    missing = {(m, t) for m, t, _, _ in api_routes()} - served
    assert not missing, f"the session did not exercise {sorted(missing)}"
    statuses = {r.status for r in server.responses}
    assert {200, 201, 401, 403, 404, 405, 409, 422, 502, 503} <= statuses

    cache: dict[tuple[str, str, int], dict[str, Any] | None] = {}
    problems = []
    for recorded in server.responses:
        key = (recorded.method, recorded.template, recorded.status)
        if recorded.template.startswith(WEB_PREFIX):
            continue  # github.com's web endpoints: not in the REST API's description
        if recorded.template == "<unknown>":
            problems.append(f"{key}: not a route of the fake")
            continue
        if key not in cache:
            cache[key] = response_schema(description, *key)
        schema = cache[key]
        if schema is None:
            if recorded.body not in (None, "", {}):
                problems.append(f"{key}: a body where GitHub documents none")
            continue
        validator = jsonschema.Draft4Validator(
            schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
        )
        for error in validator.iter_errors(recorded.body):
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{key} at {where or '<root>'}: {error.message[:300]}")
    assert not problems, "\n".join(problems[:30])


def test_the_check_catches_a_payload_github_would_not_send(description: dict[str, Any]) -> None:
    schema = response_schema(
        description, "GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", 200
    )
    assert schema is not None
    review = {
        "id": "17",  # GitHub's ids are numbers
        "node_id": "PRR_1",
        "user": None,  # nullable: fine
        "body": "",
        "state": "APPROVED",
        "commit_id": "0" * 40,
        "html_url": "https://github.com/o/r/pull/1#pullrequestreview-17",
        "pull_request_url": "https://api.github.com/repos/o/r/pulls/1",
        "_links": {"html": {"href": "h"}, "pull_request": {"href": "p"}},
    }  # and author_association is missing
    errors = list(jsonschema.Draft4Validator(schema).iter_errors([review]))
    assert sorted(e.message for e in errors) == [
        "'17' is not of type 'integer'",
        "'author_association' is a required property",
    ]
