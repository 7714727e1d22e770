"""Turn what a forge holds into what the pure engine reads.

Trust rules live here:

* The organization that judges a decision is read from the governance branch (the
  forge's default branch) as committed, never from the pull request or a working
  tree, and a pull request against any other branch is not a decision.
* A decision pull request **adds** exactly one `org/decisions/<id>.yaml` (a new,
  regular file); what else it changes is judged by :mod:`aito.governance.authority`
  (changing or deleting an existing record is a rule change: critical); its id,
  proposer, tier and amount as judged are fixed at proposal (:mod:`aito.decisions.judging`).
* Identities are numeric ids; maintainers come from the forge's permission data or
  the governance branch's maintainer list.
* Time is the forge server's: a push's time is what the forge knows (LocalForge records
  every push; GitHub only some, see :mod:`aito.forge.github`), else when the
  governance bot first saw that head (kept in its mark, :mod:`aito.decisions.marks`),
  else the tally's own ``now``. Commit dates are never read.
* Review dismissals count only when the forge says who dismissed (see
  :mod:`aito.governance.tallying`); while a dismissed review's author and former state
  are unknown, nothing is decided (the verdict is blocked, never guessed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pydantic

from aito.decisions import marks
from aito.errors import GovernanceError, OrgDefinitionError
from aito.forge.base import (
    Comment,
    Commit,
    FileChange,
    FileStatus,
    Forge,
    Identity,
    Permission,
    PullRequest,
    PullState,
    ReviewState,
)
from aito.governance.history import (
    CommentEvent,
    DismissalEvent,
    PullFacts,
    PullStatus,
    Push,
    ReviewEvent,
    ReviewKind,
)
from aito.governance.policies import Policy, policy_for
from aito.org import loading, yamlfiles
from aito.org import paths as repo_paths
from aito.org.organization import Tier
from aito.org.records import Decision, DecisionStatus

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
            if repo_paths.unsafe_reason(path) is not None:
                continue  # not a file git would check out; never one of the org's
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


def record_path(change: FileChange) -> bool:
    """True for a new decision record: an added regular `org/decisions/<name>.yaml`."""
    name = change.path.removeprefix(DECISIONS_PREFIX)
    return (
        change.status is FileStatus.ADDED
        and change.path.startswith(DECISIONS_PREFIX)
        and name.endswith(".yaml")
        and "/" not in name
        and not change.special
    )


def decision_of(
    forge: Forge, pull: PullRequest, changes: Sequence[FileChange] | None = None
) -> Decision:
    """The decision record the pull request adds (exactly one new `org/decisions/*.yaml`),
    read at the pull request's head."""
    governance_branch = forge.default_branch
    if pull.base_ref != governance_branch:
        raise GovernanceError(
            f"#{pull.number} is not a decision: it targets {_cut(pull.base_ref, 60)!r}, "
            f"not the governance branch {governance_branch}"
        )
    if changes is None:
        changes = forge.file_changes(pull.number)
    records = [c.path for c in changes if record_path(c)]
    if len(records) != 1:
        raise GovernanceError(
            f"#{pull.number} is not a decision: it must add exactly one new "
            f"org/decisions/<id>.yaml (it adds {len(records)})"
        )
    path = records[0]
    decision = record_at(forge, pull.head_sha, path, number=pull.number)
    if decision is None:
        raise GovernanceError(f"#{pull.number}: {_cut(path)} is missing at its head")
    if f"{DECISIONS_PREFIX}{decision.id}.yaml" != path:
        raise GovernanceError(f"#{pull.number}: {_cut(path)} has id {decision.id!r}")
    return decision


_FINAL = (DecisionStatus.APPROVED, DecisionStatus.REJECTED, DecisionStatus.WITHDRAWN)


def check_id_is_free(base: loading.Organization, decision: Decision, pull: PullRequest) -> None:
    """Refuse a pull request whose decision id is already recorded on the base branch for
    another pull request (or for none): one id, one decision. A second pull request
    adding the same record (the id is readable off the first one's branch name) would
    otherwise overwrite the recorded decision when it is closed or rejected."""
    recorded = base.decisions.get(decision.id)
    if recorded is None or pull.state is PullState.MERGED:
        return  # a merged pull request's own record came with its merge
    if recorded.pr is not None and recorded.pr.number == pull.number:
        if pull.state is PullState.OPEN and recorded.status in _FINAL:
            # Reopened after it was decided (a maintainer's close, a withdrawal): the
            # record on the base branch stands; nothing reopens a vote.
            raise GovernanceError(
                f"#{pull.number}: decision {decision.id} is already recorded on "
                f"{pull.base_ref} as {recorded.status.value}; reopening its pull request "
                "changes nothing: close it, and open a new proposal under a new id"
            )
        return
    owner = f" for #{recorded.pr.number}" if recorded.pr is not None else ""
    raise GovernanceError(
        f"#{pull.number}: decision {decision.id} is already recorded on "
        f"{pull.base_ref}{owner}: a proposal adds a decision of its own, under a new id"
    )


def record_at(forge: Forge, sha: str, path: str, *, number: int) -> Decision | None:
    """The decision record at ``path`` in commit ``sha`` (None if there is none there);
    an unreadable one raises :class:`GovernanceError`, its message cut short."""
    content = forge.read_tree(sha, prefixes=[path]).get(path)
    if content is None:
        return None
    try:
        data = yamlfiles.load_bytes(content, Path(path))
        return Decision.model_validate(data)
    except yamlfiles.YamlFileError as exc:
        raise GovernanceError(f"#{number}: {_cut(exc.problem.render(), 300)}") from exc
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(step) for step in first["loc"]) or "the record"
        raise GovernanceError(
            f"#{number}: {_cut(path)} is not a valid decision record: {_cut(where, 60)}: "
            f"{_cut(str(first['msg']), 200)}"
        ) from exc


def _cut(text: str, limit: int = 120) -> str:
    # Paths and values come from the proposer: never repeat an unbounded one, nor one
    # that would act on a terminal (see aito.org.paths.shown).
    return repo_paths.shown(text, limit)


def freeze(org: loading.Organization) -> dict[Tier, Policy]:
    return {tier: policy_for(org, tier) for tier in Tier}


@dataclasses.dataclass(frozen=True)
class Reading:
    """The engine's facts, the heads as now known (for the mark), and why nothing may be
    applied (``doubt``: the forge left out something a vote depends on)."""

    facts: PullFacts
    heads: tuple[marks.Head, ...]
    doubt: str | None = None


def facts_of(
    forge: Forge,
    pull: PullRequest,
    policy: Policy,
    comments: list[Comment],
    *,
    commits: Sequence[Commit],
    seen: Sequence[marks.Head] = (),
    now: dt.datetime,
) -> Reading:
    """The pull request's history as plain facts for the engine.

    ``seen`` are the heads the governance bot saw before (from its mark); the current
    head, if new, is dated ``now`` unless the forge knows better. Raises
    :class:`HeadMoved` when ``pull``'s head is not among ``commits`` (it moved while
    being read: judge it again).
    """
    trees = {head.sha: head.tree for head in seen} | {c.sha: c.tree_sha for c in commits}
    if pull.head_sha not in trees:
        raise HeadMoved(
            f"#{pull.number}: its head is not among the commits the forge lists (it moved "
            "while it was read: tally again; or it has more commits than the forge lists, "
            "250 on GitHub: squash them)"
        )
    heads = head_timeline(commits, seen, head=pull.head_sha, tree=trees[pull.head_sha], now=now)
    pushes = tuple(Push(h.at, h.sha, h.tree, None, seq) for seq, h in enumerate(heads))
    reviews = forge.reviews(pull.number)
    logins = {r.user.id: r.user.login for r in reviews}
    logins |= {r.dismissed_by.id: r.dismissed_by.login for r in reviews if r.dismissed_by}
    logins |= {i.id: i.login for i in (pull.merged_by, pull.closed_by, pull.author) if i}
    people = {r.user for r in reviews} | {i for i in (pull.merged_by, pull.closed_by) if i}
    people |= {r.dismissed_by for r in reviews if r.dismissed_by}
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
    events: list[ReviewEvent] = []
    dismissals: list[DismissalEvent] = []
    doubt: str | None = None
    for r in reviews:
        kind = ReviewKind(r.state.value)
        dismissed = r.state is ReviewState.DISMISSED
        if dismissed and r.dismissed_state is not None and r.dismissed_by is not None:
            kind = ReviewKind(r.dismissed_state.value)
            at = r.dismissed_at or now
            dismissals.append(DismissalEvent(at, r.id, r.id, r.user.id, r.dismissed_by.id))
        elif dismissed:
            # Only the voter or a maintainer may withdraw a vote: a dismissal whose author
            # the forge does not report (yet) can neither be trusted nor ignored.
            doubt = doubt or (
                f"a review by {_cut(r.user.login, 60)} was dismissed and the forge does not "
                "say by whom or what it was: nothing is decided until it does (tally again)"
            )
        events.append(ReviewEvent(r.submitted_at, r.id, r.user.id, kind, r.commit_id, r.body))
    facts = PullFacts(
        number=pull.number,
        opened_at=pull.created_at,
        author=pull.author.id,
        status=status,
        pushes=pushes,
        reviews=tuple(events),
        comments=tuple(CommentEvent(c.created_at, c.id, c.user.id) for c in comments),
        dismissals=tuple(dismissals),
        labels=pull.labels,
        merged_by=pull.merged_by.id if pull.merged_by else None,
        closed_by=pull.closed_by.id if pull.closed_by else None,
        closed_at=pull.closed_at,
        maintainers=maintainers,
        logins=logins,
    )
    return Reading(facts, heads, doubt)


class HeadMoved(GovernanceError):
    """The pull request's head moved while a tally read it: nothing was judged."""


def head_timeline(
    commits: Sequence[Commit],
    seen: Sequence[marks.Head],
    *,
    head: str,
    tree: str,
    now: dt.datetime,
) -> tuple[marks.Head, ...]:
    """Every head the pull request had, in order, each with when it became the head.

    Merges the forge's own push times with the heads the bot saw before (never earlier
    than the push) for those the forge cannot date, keeps one entry per change of head,
    and appends the current head at ``now`` if it is new. Times never run backwards (two
    heads seen at the same instant keep their order through :attr:`Push.seq`).
    """
    known = [
        (commit.pushed_at, 0, marks.Head(sha=commit.sha, tree=commit.tree_sha, at=commit.pushed_at))
        for commit in commits
        if commit.pushed_at is not None
    ]
    # The forge's own times win; the bot's memory dates only the heads the forge cannot.
    dated = {commit.sha for commit in commits if commit.pushed_at is not None}
    remembered = [(h.at, 1, h) for h in seen if h.sha not in dated]
    timeline: list[marks.Head] = []
    for _, _, entry in sorted(known + remembered, key=lambda item: (item[0], item[1])):
        if timeline and timeline[-1].sha == entry.sha:
            continue
        if timeline and entry.at < timeline[-1].at:
            entry = entry.model_copy(update={"at": timeline[-1].at})
        timeline.append(entry)
    if not timeline or timeline[-1].sha != head:
        at = max(now, timeline[-1].at) if timeline else now
        timeline.append(marks.Head(sha=head, tree=tree, at=at))
    return tuple(timeline)
