"""`aito decide propose|new|review|merge|close|hold|unhold`: the actions on a decision
pull request, by an agent's bot or by a person (a maintainer or human member)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import yaml

from aito.decisions import judging, reading
from aito.errors import GovernanceError, PermissionDenied
from aito.forge.base import Forge, Identity, MergeConflict, PullRequest, ReviewState
from aito.governance import authority, proposers, verdicts
from aito.org import loading
from aito.org import paths as repo_paths
from aito.org.agents import Layer
from aito.org.organization import Tier
from aito.org.records import Decision

BRANCH_PREFIX = "aito/decision/"
REVIEW_STATES = {
    "approve": ReviewState.APPROVED,
    "veto": ReviewState.CHANGES_REQUESTED,
    "abstain": ReviewState.COMMENTED,
    "comment": ReviewState.COMMENTED,
}


def identity_for(org: loading.Organization, name: str) -> Identity:
    """The forge account of an agent id (its bot), or of a maintainer's or human member's
    login (ignoring case)."""
    if name in org.org.bots:
        bot = org.org.bots[name]
        return Identity(bot.login, bot.id)
    people = [(m.login, m.id) for m in org.org.maintainers]
    people += [(h.login, h.id) for h in org.org.humans]
    for login, user_id in people:
        if login.lower() == name.lower():
            return Identity(login, user_id)
    known = ", ".join([*sorted(org.org.bots), *(login for login, _ in people)])
    raise PermissionDenied(
        f"{name!r} is neither an agent with a bot, a maintainer nor a human member; "
        f"use one of: {known}"
    )


def check_proposer(
    org: loading.Organization,
    *,
    proposer: str,
    tier: Tier,
    files: Mapping[str, bytes] | list[str],
    amount_usd: float,
) -> str:
    """The name the record's ``proposed_by`` carries for ``proposer`` (an agent id, or a
    maintainer's or human member's login as org.yaml spells it). PermissionDenied when
    they may not propose this: a worker or a non-member, a tier below what the files and
    the amount need, or a person's tier above their ``may_propose`` ceiling."""
    spec = org.agents.get(proposer)
    member = proposers.by_name(org, proposer) if spec is None else None
    if spec is not None and spec.layer is Layer.WORKER:
        raise PermissionDenied(f"{proposer!r} cannot propose: only head and c-level agents can")
    if spec is None and (member is None or member.kind is proposers.Kind.AGENT):
        raise PermissionDenied(
            f"{proposer!r} cannot propose: only head and c-level agents, maintainers and the "
            "human members listed in org/org.yaml `humans` can"
        )
    name = member.name if member is not None else proposer
    requirement = authority.required_tier(org, proposer=name, paths=files, amount_usd=amount_usd)
    if authority.TIER_ORDER.index(tier) < authority.TIER_ORDER.index(requirement.tier):
        raise PermissionDenied(
            f"{name} cannot file this as {tier.value}: it needs at least "
            f"{requirement.tier.value} ({'; '.join(requirement.reasons)})"
        )
    if member is not None:
        above = proposers.above_ceiling(member, tier)
        if above is not None:
            raise PermissionDenied(above)
    return name


def record_yaml(decision: Decision, *, proposal_only: bool = False) -> bytes:
    """The record as YAML; ``proposal_only`` leaves out the fields only the tally writes."""
    excluded = set(judging.TALLY_FIELDS) if proposal_only else set()
    data = decision.model_dump(mode="json", exclude_none=True, exclude=excluded)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def template(
    forge: Forge,
    *,
    org: loading.Organization,
    proposer: str,
    tier: Tier,
    title: str,
    body: str,
    amount_usd: float,
    now: dt.datetime,
) -> Decision:
    """A new decision record with a fresh id, for a pull request opened by hand (the
    files it carries are added to that pull request; the tally judges them)."""
    name = check_proposer(org, proposer=proposer, tier=tier, files=[], amount_usd=amount_usd)
    return Decision(
        id=new_decision_id(org, forge, title=title, now=now),
        title=title,
        description=body,
        proposed_by=name,
        tier=tier,
        round=1,
        amount_usd=amount_usd,
        created_at=now,
    )


def new_decision_id(
    org: loading.Organization, forge: Forge, *, title: str, now: dt.datetime
) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "decision"
    stem = f"{now:%Y%m%d}-{slug}"
    candidate, counter = stem, 2
    # One lookup per candidate (usually one), not a listing of every pull request ever.
    while candidate in org.decisions or forge.pull_from(f"{BRANCH_PREFIX}{candidate}"):
        candidate, counter = f"{stem}-{counter}", counter + 1
    return candidate


def propose(
    forge: Forge,
    *,
    org: loading.Organization,
    proposer: str,
    tier: Tier,
    title: str,
    body: str,
    files: Mapping[str, bytes],
    amount_usd: float,
    now: dt.datetime,
) -> tuple[Decision, PullRequest]:
    """Open a pull request adding `org/decisions/<id>.yaml` and the files it authorises.

    ``proposer`` is an agent id (its bot opens the pull request), or a maintainer's or
    human member's login (the pull request is opened as that person: the local forge's
    `decide propose --as-human`). Refused (PermissionDenied) as :func:`check_proposer` says.
    """
    for path in files:
        unsafe = repo_paths.unsafe_reason(path)
        if unsafe is not None:
            shown = path if len(path) <= 120 else path[:119] + "…"
            raise GovernanceError(f"{shown!r} {unsafe}: carry files by their path in the repo")
        if path.startswith(reading.DECISIONS_PREFIX):
            raise GovernanceError(
                f"{path}: the decision record is written by `aito decide propose`"
            )
    proposer = check_proposer(org, proposer=proposer, tier=tier, files=files, amount_usd=amount_usd)
    decision_id = new_decision_id(org, forge, title=title, now=now)
    decision = Decision(
        id=decision_id,
        title=title,
        description=body,
        proposed_by=proposer,
        tier=tier,
        round=1,
        changes=sorted(files),
        amount_usd=amount_usd,
        created_at=now,
    )
    record = record_yaml(decision)
    author = identity_for(org, proposer)
    branch = f"{BRANCH_PREFIX}{decision_id}"
    forge.commit_files(
        branch=branch,
        base=forge.default_branch,
        files={f"{reading.DECISIONS_PREFIX}{decision_id}.yaml": record, **files},
        message=f"Propose {decision_id}: {title}",
        author=author,
    )
    pull = forge.open_pull(
        head=branch,
        base=forge.default_branch,
        title=f"Decision ({tier.value}): {title}",
        body=f"{body}\n\n---\nProposed by `{proposer}` as **{tier.value}**"
        + (f", committing ${amount_usd:g}" if amount_usd else "")
        + ". Votes are reviews by the voters' bot accounts; `aito decide tally` counts them.",
        author=author,
    )
    return decision, pull


def review(
    forge: Forge, number: int, *, author: Identity, vote: str, body: str, sha: str | None = None
) -> None:
    """Post a review as ``author`` on commit ``sha``, or on the pull request's current head."""
    commit = sha or forge.pull(number).head_sha
    if vote not in REVIEW_STATES:
        raise GovernanceError(f"unknown vote {vote!r}; use approve, veto, abstain or comment")
    text = body.strip()
    if vote == "abstain" and not text.lower().startswith("abstain"):
        text = f"Abstain. {text}".strip()
    # GitHub requires a body for request-changes and comment reviews.
    text = text or {"approve": "", "veto": "Veto.", "comment": "No comment."}.get(vote, "")
    forge.post_review(number, author=author, state=REVIEW_STATES[vote], body=text, commit_id=commit)


def by_hand(forge: Forge, number: int, *, actor: Identity, merge: bool, sha: str) -> None:
    """Merge the pull request at ``sha``, or close it, as ``actor`` (a decision by hand;
    the tally that follows judges it). A head that moved from ``sha`` is not merged."""
    if not merge:
        forge.close(number, actor=actor)
        return
    try:
        forge.merge(
            number, sha=sha, actor=actor, message=f"Merge #{number} by hand ({actor.login})"
        )
    except MergeConflict as exc:
        raise GovernanceError(f"#{number} was not merged: {exc}") from exc


def hold(forge: Forge, number: int, *, on: bool) -> None:
    label = [verdicts.HOLD_LABEL]
    forge.set_labels(number, add=label if on else [], remove=[] if on else label)
