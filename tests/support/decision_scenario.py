"""The end-to-end decision scenario, run unchanged against every forge.

propose → CEO approves, DAO vetoes → round 2 analysis → round 3 tie → escalated →
a maintainer approves → merged, recorded on the base branch; re-tallying is a no-op.
The decision tests on each forge share its helpers: :func:`who` and :func:`propose_campaign`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aito.decisions import applying, proposing
from aito.forge.base import Forge, Identity, PullRequest, PullState, ReviewState
from aito.org import loading
from aito.org.organization import Tier
from aito.org.records import Decision


def who(org: loading.Organization, name: str) -> Identity:
    """The forge account of agent (or maintainer) ``name``."""
    return proposing.identity_for(org, name)


def propose_campaign(
    forge: Forge, org: loading.Organization, *, now: dt.datetime, **values: object
) -> tuple[Decision, PullRequest]:
    """A proposal by cmo (major, one content file, no spend) unless ``values`` say otherwise."""
    given: dict[str, object] = dict(
        proposer="cmo",
        tier=Tier.MAJOR,
        title="Campaign",
        body="why",
        files={"content/c.md": b"c\n"},
        amount_usd=0.0,
    )
    given.update(values)
    return proposing.propose(forge, org=org, now=now, **given)  # type: ignore[arg-type]


def propose_cdn(forge: Forge, org: loading.Organization) -> tuple[Decision, PullRequest]:
    """The CTO's major proposal of a new CDN ($200, one site file), made now."""
    return propose_campaign(
        forge, org, now=dt.datetime.now(dt.UTC), proposer="cto", title="New CDN",
        body="faster", files={"site/cdn.txt": b"cdn\n"}, amount_usd=200,
    )  # fmt: skip


def run_full_scenario(
    forge: Forge, org: loading.Organization, *, now: Callable[[], dt.datetime]
) -> None:
    decision, pull = proposing.propose(
        forge,
        org=org,
        proposer="cmo",
        tier=Tier.MAJOR,
        title="Q1 influencer campaign",
        body="Three influencers, one month.",
        files={"content/campaigns/q1.md": b"# Q1\n"},
        amount_usd=500,
        now=now(),
    )
    number = pull.number
    first = applying.tally(forge, number, now=now())
    assert (first.verdict.status.value, first.verdict.round) == ("pending", 1)
    assert first.verdict.missing == ("ceo", "dao")

    proposing.review(forge, number, author=who(org, "ceo"), vote="approve", body="Worth it.")
    proposing.review(forge, number, author=who(org, "dao"), vote="veto", body="Too expensive.")
    second = applying.tally(forge, number, now=now())
    assert (second.verdict.stage.value, second.verdict.round) == ("analysis", 2)
    assert "aito/round-2" in forge.pull(number).labels

    for advisor in ("cto", "cfo", "coo", "cco"):
        forge.post_review(
            number,
            author=who(org, advisor),
            state=ReviewState.COMMENTED,
            body=f"{advisor}: analysis",
            commit_id=forge.pull(number).head_sha,
        )
    third = applying.tally(forge, number, now=now())
    assert (third.verdict.stage.value, third.verdict.round) == ("final", 3)

    for voter, vote in (
        ("ceo", "approve"),
        ("dao", "veto"),
        ("cto", "approve"),
        ("cfo", "veto"),
        ("coo", "abstain"),
        ("cco", "abstain"),
    ):
        proposing.review(forge, number, author=who(org, voter), vote=vote, body="")
    tie = applying.tally(forge, number, now=now())
    assert tie.verdict.status.value == "escalated" and "tie" in tie.verdict.reason
    assert "shiba-maintainer" in forge.requested_reviewers(number)
    assert "aito/escalated" in forge.pull(number).labels

    proposing.review(forge, number, author=who(org, "shiba-maintainer"), vote="approve", body="Go.")
    done = applying.tally(forge, number, now=now())
    assert done.verdict.status.value == "approved"
    assert done.verdict.human_decision is not None and done.verdict.decided_by == "shiba-maintainer"
    merged = forge.pull(number)
    assert merged.state is PullState.MERGED
    assert "aito/approved" in merged.labels

    base = forge.read_tree(forge.default_branch, prefixes=["org/decisions/", "content/"])
    assert base["content/campaigns/q1.md"] == b"# Q1\n"  # merging executed the decision
    record = base[f"org/decisions/{decision.id}.yaml"].decode()
    assert "status: approved" in record and "human_decision: approve" in record
    assert "decided_by: shiba-maintainer" in record

    again = applying.tally(forge, number, now=now())
    assert again.changes == ()  # idempotent
    tally_comments = [c for c in forge.comments(number) if "aito:tally" in c.body]
    assert len(tally_comments) == 1  # one comment, updated in place
