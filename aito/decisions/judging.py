"""What a tally judges, fixed where no proposer can move it: the decision as proposed, the
paths it really changes, and the record without the fields only the tally writes.

A later push may raise a decision's tier or amount, never lower them, nor change its id
or its proposer (:func:`fixed_proposal`); the record's own ``changes`` claim is replaced
by the paths the pull request changes (:func:`judged_paths`), and what a proposer wrote
in the tally's fields is reported and dropped (:func:`judged_record`).
"""

from __future__ import annotations

from collections.abc import Sequence

from aito.decisions import marks, reading
from aito.forge.base import FileChange, FileStatus
from aito.governance import authority
from aito.org.organization import Tier
from aito.org.records import Decision


def fixed_proposal(
    head: Decision, first: Decision | None, frozen: marks.Proposal | None
) -> tuple[marks.Proposal, str | None]:
    """The decision as proposed (the mark, else its first commit, else the head), its
    tier and amount raised to the highest any of them says; and why the head is blocked
    if it changed what cannot change (the id, the proposer)."""
    said = [
        marks.Proposal(decision=d.id, proposer=d.proposed_by, tier=d.tier, amount_usd=d.amount_usd)
        for d in (first, head)
        if d is not None
    ]
    origin = frozen or said[0]
    every = [origin, *said]
    proposal = marks.Proposal(
        decision=origin.decision,
        proposer=origin.proposer,
        tier=max((p.tier for p in every), key=authority.TIER_ORDER.index),
        amount_usd=max(p.amount_usd for p in every),
    )
    blocked = None
    if head.id != origin.decision:
        blocked = (
            f"the decision record changed from {origin.decision} to {head.id} after it was proposed"
        )
    elif head.proposed_by != origin.proposer:
        blocked = (
            f"proposed_by cannot be claimed: it changed from {origin.proposer} to "
            f"{head.proposed_by} after the proposal"
        )
    return proposal, blocked


def judged_paths(changes: list[FileChange], decision_id: str) -> list[str]:
    """Every path the change touches except its own new record (a rename: both names)."""
    record = f"{reading.DECISIONS_PREFIX}{decision_id}.yaml"
    found: list[str] = []
    for change in changes:
        if change.path == record and reading.record_path(change):
            continue
        found.append(change.path)
        if change.status is FileStatus.RENAMED and change.previous_path:
            found.append(change.previous_path)
    return found


# Record fields that say how a decision went: written by the tally, never by a proposer.
TALLY_FIELDS = (
    "status",
    "round",
    "rounds",
    "human_decision",
    "decided_by",
    "decided_via",
    "violation",
    "resolved_at",
    "result",
    "pr",
    "due",
)


def judged_record(
    head: Decision, *, tier: Tier, proposal: marks.Proposal, paths: Sequence[str]
) -> tuple[Decision, list[str]]:
    """The record as judged: the proposal's fixed values, the judged tier, ``changes`` as
    the paths the pull request really changes (``paths``, not the record's own claim), and
    none of the fields the tally owns (what a proposer wrote there is reported and
    dropped)."""
    fields = Decision.model_fields
    claimed = [
        name
        for name in TALLY_FIELDS
        if name != "round"  # proposals start at round 1; the tally counts its own
        and getattr(head, name) != fields[name].get_default(call_default_factory=True)
    ]
    problems = (
        [f"the record sets {', '.join(claimed)}, which only the tally writes: ignored"]
        if claimed
        else []
    )
    judged = Decision.model_validate(
        head.model_dump(exclude=set(TALLY_FIELDS))
        | {
            "tier": tier,
            "amount_usd": proposal.amount_usd,
            "proposed_by": proposal.proposer,
            "changes": sorted(set(paths)),
        }
    )
    return judged, problems
