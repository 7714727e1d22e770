"""Turn what a forge holds into what the pure engine reads.

Trust rules live here: the organization that judges a decision is read from the
**base branch** (never from the pull request); its policy is frozen in the tally
comment, which is trusted only when written by the governance bot (matched by
numeric id); identities are numeric ids; maintainers come from the forge's
permission data or the base branch's maintainer list.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
import tempfile
from pathlib import Path

import pydantic

from aito.errors import GovernanceError, OrgDefinitionError
from aito.forge.base import Comment, Forge, Identity, Permission, PullRequest, PullState
from aito.governance.history import (
    CommentEvent,
    PullFacts,
    PullStatus,
    Push,
    ReviewEvent,
    ReviewKind,
)
from aito.governance.policies import Policy, policy_for
from aito.org import loading, yamlfiles
from aito.org.organization import Tier
from aito.org.records import Decision

TALLY_MARK = "<!-- aito:tally -->"
_POLICY = re.compile(r"<!-- aito:policy ([A-Za-z0-9+/=]+) -->")
_STATE = re.compile(r"<!-- aito:state ([a-z_]+) -->")
DECISIONS_PREFIX = "org/decisions/"


def base_organization(forge: Forge, ref: str) -> loading.Organization:
    """The organization on ``ref`` (the base branch), validated.

    Loaded once per distinct content (a small cache), so tallies and agent runs that
    read the same base branch again do not parse it again. Treat the result as
    read-only: it is shared.
    """
    files = forge.read_tree(ref, prefixes=["org/", "profiles/"])
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    key = digest.hexdigest()
    if key in _LOADED:
        return _LOADED[key]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for path, content in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        try:
            org = loading.load_valid(root)
        except OrgDefinitionError as exc:
            raise GovernanceError(
                f"the organization on {ref!r} is invalid, so no decision can be judged: "
                f"{exc.problems[0].message if exc.problems else exc}"
            ) from exc
    if len(_LOADED) >= _CACHE_SIZE:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[key] = org
    return org


_CACHE_SIZE = 16
_LOADED: dict[str, loading.Organization] = {}


def governance_identity(org: loading.Organization) -> Identity:
    """Who applies verdicts: `governance_repo.bot`, else GitHub Actions' own bot."""
    bot = org.org.governance_repo.bot
    return Identity(bot.login, bot.id) if bot else Identity("github-actions[bot]", 41898282)


def decision_of(forge: Forge, pull: PullRequest, changed: list[str] | None = None) -> Decision:
    """The decision record the pull request adds (exactly one `org/decisions/*.yaml`)."""
    if changed is None:
        changed = forge.changed_files(pull.number)
    records = [
        path for path in changed if path.startswith(DECISIONS_PREFIX) and path.endswith(".yaml")
    ]
    if len(records) != 1:
        raise GovernanceError(
            f"#{pull.number} is not a decision: it must add exactly one org/decisions/<id>.yaml "
            f"(it changes {len(records)})"
        )
    content = forge.read_tree(pull.head_sha, prefixes=[records[0]]).get(records[0])
    if content is None:
        raise GovernanceError(f"#{pull.number} deletes {records[0]}; that is not a proposal")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / Path(records[0]).name
        path.write_bytes(content)
        try:
            data = yamlfiles.read_yaml(path)
            decision = Decision.model_validate(data)
        except (yamlfiles.YamlFileError, pydantic.ValidationError) as exc:
            raise GovernanceError(f"#{pull.number}: {records[0]} is invalid: {exc}") from exc
    if f"{DECISIONS_PREFIX}{decision.id}.yaml" != records[0]:
        raise GovernanceError(f"#{pull.number}: {records[0]} has id {decision.id!r}")
    return decision


@dataclasses.dataclass(frozen=True)
class TallyComment:
    comment: Comment
    policies: dict[Tier, Policy]
    state: str | None


def tally_comment(comments: list[Comment], governance: Identity) -> TallyComment | None:
    """The governance bot's tally comment (anyone else's look-alike is ignored)."""
    for comment in comments:
        if comment.user.id != governance.id or TALLY_MARK not in comment.body:
            continue
        found = _POLICY.search(comment.body)
        if found is None:
            continue
        raw = json.loads(base64.b64decode(found.group(1)))
        policies = {Tier(k): Policy.model_validate(v) for k, v in raw.items()}
        state = _STATE.search(comment.body)
        return TallyComment(comment, policies, state.group(1) if state else None)
    return None


def encode_policies(policies: dict[Tier, Policy]) -> str:
    raw = {tier.value: policy.model_dump(mode="json") for tier, policy in policies.items()}
    text = base64.b64encode(json.dumps(raw, sort_keys=True).encode()).decode()
    return f"<!-- aito:policy {text} -->"


def encode_state(state: str) -> str:
    return f"<!-- aito:state {state} -->"


def freeze(org: loading.Organization) -> dict[Tier, Policy]:
    return {tier: policy_for(org, tier) for tier in Tier}


def facts_of(forge: Forge, pull: PullRequest, policy: Policy, comments: list[Comment]) -> PullFacts:
    """The pull request's history as plain facts for the engine."""
    pushes: list[Push] = []
    last: dt.datetime | None = None
    for commit in forge.commits(pull.number):
        # Push times never run backwards (a commit date can lie; the order cannot).
        at = commit.pushed_at if last is None or commit.pushed_at > last else last
        last = at
        pushes.append(
            Push(at, commit.sha, commit.tree_sha, commit.author.id if commit.author else None)
        )
    if not pushes or pushes[-1].sha != pull.head_sha:
        pushes.append(Push(last or pull.created_at, pull.head_sha, pull.head_sha, None))
    reviews = forge.reviews(pull.number)
    logins = {r.user.id: r.user.login for r in reviews}
    people = {r.user for r in reviews} | {i for i in (pull.merged_by, pull.closed_by) if i}
    bots = set(policy.bots.values()) | ({policy.governance_bot} if policy.governance_bot else set())
    maintainers = frozenset(
        person.id
        for person in people
        if person.id not in bots
        and forge.permission(person) in (Permission.ADMIN, Permission.MAINTAIN)
    )
    status = {
        PullState.OPEN: PullStatus.OPEN,
        PullState.CLOSED: PullStatus.CLOSED,
        PullState.MERGED: PullStatus.MERGED,
    }[pull.state]
    return PullFacts(
        number=pull.number,
        opened_at=pull.created_at,
        author=pull.author.id,
        status=status,
        pushes=tuple(pushes),
        reviews=tuple(
            ReviewEvent(
                r.submitted_at, r.id, r.user.id, ReviewKind(r.state.value), r.commit_id, r.body
            )
            for r in reviews
        ),
        comments=tuple(CommentEvent(c.created_at, c.id, c.user.id) for c in comments),
        labels=pull.labels,
        merged_by=pull.merged_by.id if pull.merged_by else None,
        closed_by=pull.closed_by.id if pull.closed_by else None,
        maintainers=maintainers,
        logins=logins,
    )
