"""Humans in the decision flow on the local forge (issue 11): a human member's proposal,
judged by the same engine with the base branch's rules, and maintainers deciding by
merging or closing by hand, recorded on the base branch; anyone else's merge or close
is a violation that alerts the maintainers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import yaml
from support.decision_scenario import propose_campaign, who
from support.humans import CAROL, DAVE, MAINTAINER, OUTSIDER, SECOND_MAINTAINER, with_people
from support.local_repo import Clock, git

from aito.decisions import alerting, applying, proposing, reading
from aito.errors import GovernanceError, PermissionDenied
from aito.forge.base import Identity, Permission, PullRequest, PullState, ReviewState
from aito.forge.local import LocalForge
from aito.org import loading
from aito.org.organization import Tier
from aito.org.records import Decision


@pytest.fixture
def governance_repo(example_repo: Path) -> Path:
    """The example organization with human members, as a git repository."""
    with_people(example_repo)
    (example_repo / ".gitignore").write_text(".aito/\n")
    git(example_repo, "init", "-q", "-b", "main")
    git(example_repo, "add", "-A")
    git(example_repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "org")
    return example_repo


@pytest.fixture
def org(governance_repo: Path) -> loading.Organization:
    return loading.load_valid(governance_repo)


@pytest.fixture
def forge(governance_repo: Path, clock: Clock) -> LocalForge:
    # No permissions map: roles come from org.yaml on main (maintainers administer,
    # bots and human members write), as `aito` itself opens the local forge.
    return LocalForge(repo=governance_repo, store=governance_repo / ".aito" / "forge", clock=clock)


def record_on_main(forge: LocalForge, decision_id: str) -> dict[str, object]:
    path = f"org/decisions/{decision_id}.yaml"
    data = yaml.safe_load(forge.read_tree("main", prefixes=[path])[path])
    assert isinstance(data, dict)
    return data


def vote(forge: LocalForge, org: loading.Organization, number: int, **votes: str) -> None:
    for voter, choice in votes.items():
        proposing.review(forge, number, author=who(org, voter), vote=choice, body="")


def escalate(forge: LocalForge, org: loading.Organization, clock: Clock, number: int) -> None:
    """Round 1 split, round 2 analysis, round 3 tie: escalated to the maintainers."""
    vote(forge, org, number, ceo="approve", dao="veto")
    assert applying.tally(forge, number, now=clock()).verdict.round == 2
    for advisor in ("cmo", "cto", "cfo", "coo", "cco"):
        forge.post_review(
            number,
            author=who(org, advisor),
            state=ReviewState.COMMENTED,
            body="analysis",
            commit_id=forge.pull(number).head_sha,
        )
    assert applying.tally(forge, number, now=clock()).verdict.round == 3
    vote(forge, org, number, ceo="approve", dao="veto", cto="approve", cfo="veto")
    vote(forge, org, number, cmo="abstain", coo="abstain", cco="abstain")
    escalated = applying.tally(forge, number, now=clock())
    assert escalated.verdict.status.value == "escalated" and "tie" in escalated.verdict.reason


def carols_proposal(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> tuple[Decision, PullRequest]:
    return propose_campaign(forge, org, now=clock(), proposer=CAROL.login)


def open_by_hand(
    forge: LocalForge,
    author: Identity,
    record: Decision,
    files: dict[str, bytes] | None = None,
) -> PullRequest:
    """A pull request a person opens by hand: a record from `decide new` plus files."""
    branch = f"people/{record.id}"
    content = {f"org/decisions/{record.id}.yaml": proposing.record_yaml(record), **(files or {})}
    forge.commit_files(branch=branch, base="main", files=content, message="mine", author=author)
    return forge.open_pull(head=branch, base="main", title=record.title, body="", author=author)


def template(
    forge: LocalForge, org: loading.Organization, clock: Clock, proposer: str, tier: Tier
) -> Decision:
    return proposing.template(
        forge, org=org, proposer=proposer, tier=tier, title="By hand", body="why",
        amount_usd=0, now=clock(),
    )  # fmt: skip


# -- a human's proposal through rounds, decided by a maintainer by hand ------------------


def test_a_humans_proposal_escalates_and_a_maintainers_merge_is_recorded(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = carols_proposal(forge, org, clock)
    assert decision.proposed_by == CAROL.login and pull.author == CAROL
    first = applying.tally(forge, pull.number, now=clock())
    assert first.verdict.missing == ("ceo", "dao") and first.verdict.check_state == "pending"
    escalate(forge, org, clock, pull.number)

    clock.advance(hours=1)
    merged_at = clock()
    forge.merge(pull.number, sha=forge.pull(pull.number).head_sha, actor=MAINTAINER, message="ok")
    clock.advance(minutes=5)
    done = applying.tally(forge, pull.number, now=clock())
    assert done.verdict.status.value == "approved" and done.verdict.decided_by == MAINTAINER.login

    record = record_on_main(forge, decision.id)
    assert record["status"] == "approved" and record["proposed_by"] == CAROL.login
    assert record["human_decision"] == "approve" and record["decided_by"] == MAINTAINER.login
    assert record["decided_via"] == "merge"
    assert (
        dt.datetime.fromisoformat(str(record["resolved_at"])) == merged_at
    )  # not the tally's time
    rounds = record["rounds"]
    assert isinstance(rounds, list) and [r["round"] for r in rounds] == [1, 2, 3]
    assert rounds[2]["votes"]["cto"] == "approve"
    assert forge.read_tree("main", prefixes=["content/"])["content/c.md"] == b"c\n"
    assert applying.tally(forge, pull.number, now=clock()).changes == ()  # recorded once


def test_a_maintainers_close_by_hand_is_recorded_as_a_rejection(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = carols_proposal(forge, org, clock)
    escalate(forge, org, clock, pull.number)
    forge.close(pull.number, actor=SECOND_MAINTAINER)
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.status.value == "rejected"
    record = record_on_main(forge, decision.id)
    assert (record["status"], record["human_decision"]) == ("rejected", "reject")
    assert (record["decided_by"], record["decided_via"]) == (SECOND_MAINTAINER.login, "close")
    assert "content/c.md" not in forge.read_tree("main", prefixes=["content/"])


def test_the_proposer_closing_withdraws(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = carols_proposal(forge, org, clock)
    forge.close(pull.number, actor=CAROL)
    assert applying.tally(forge, pull.number, now=clock()).verdict.status.value == "withdrawn"
    record = record_on_main(forge, decision.id)
    assert record["status"] == "withdrawn" and "violation" not in record
    assert forge.issues(state=None, labels=[alerting.ALERT_LABEL]) == []


@pytest.mark.parametrize("merger", [DAVE, OUTSIDER], ids=["human-member", "outsider"])
def test_a_merge_by_a_non_maintainer_raises_the_violation_alert(
    forge: LocalForge, org: loading.Organization, clock: Clock, merger: Identity
) -> None:
    decision, pull = carols_proposal(forge, org, clock)
    escalate(forge, org, clock, pull.number)
    forge.merge(pull.number, sha=forge.pull(pull.number).head_sha, actor=merger, message="x")
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.status.value == "escalated" and result.verdict.human_decision is None
    record = record_on_main(forge, decision.id)
    assert record["status"] == "escalated" and "human_decision" not in record
    assert f"{merger.login} merged it" in str(record["violation"])
    [alert] = forge.issues(state="open", labels=[alerting.ALERT_LABEL])
    assert alerting.HUMAN_ACTION_LABEL in alert.labels and f"#{pull.number}" in alert.title
    assert f"@{MAINTAINER.login}" in alert.body and f"@{SECOND_MAINTAINER.login}" in alert.body
    assert applying.tally(forge, pull.number, now=clock()).changes == ()
    assert len(forge.issues(state=None, labels=[alerting.ALERT_LABEL])) == 1  # alerted once


def test_a_close_by_a_non_maintainer_is_a_violation(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = propose_campaign(forge, org, now=clock())  # cmo's proposal
    forge.close(pull.number, actor=DAVE)
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.status.value == "escalated"
    assert "closed it" in str(record_on_main(forge, decision.id)["violation"])
    assert len(forge.issues(state="open", labels=[alerting.ALERT_LABEL])) == 1


# -- who may propose what ------------------------------------------------------------------


def test_a_human_above_their_ceiling_is_refused(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    with pytest.raises(PermissionDenied, match="may propose up to minor"):
        propose_campaign(forge, org, now=clock(), proposer=DAVE.login)  # files: major
    with pytest.raises(PermissionDenied, match="may propose up to minor"):
        template(forge, org, clock, DAVE.login, Tier.MAJOR)
    # By hand: the tally refuses it the same way (the author, by id, is dave).
    record = template(forge, org, clock, DAVE.login, Tier.MINOR)
    pull = open_by_hand(forge, DAVE, record, {"content/d.md": b"d\n"})
    clock.advance(days=1)  # past every deadline: still never merged
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.tier is Tier.MAJOR and result.verdict.check_state == "failure"
    assert "may propose up to minor" in result.verdict.reason
    assert forge.pull(pull.number).state is PullState.OPEN  # never merged


def test_a_humans_text_only_proposal_within_their_ceiling_passes_lazy_consensus(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    record = template(forge, org, clock, DAVE.login.lower(), Tier.MINOR)
    assert record.proposed_by == DAVE.login  # as org.yaml spells it
    pull = open_by_hand(forge, DAVE, record)
    clock.advance(hours=5)  # past the minor deadline, nobody vetoed
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.status.value == "approved" and result.problems == ()


def test_a_person_has_no_operational_authority(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    with pytest.raises(PermissionDenied, match="at least minor"):
        template(forge, org, clock, CAROL.login, Tier.OPERATIONAL)
    record = template(forge, org, clock, CAROL.login, Tier.MINOR)
    forged = record.model_copy(update={"tier": Tier.OPERATIONAL})
    pull = open_by_hand(forge, CAROL, forged)
    result = applying.tally(forge, pull.number, now=clock())
    assert result.verdict.tier is Tier.MINOR and result.verdict.status.value == "pending"


@pytest.mark.parametrize(
    ("author", "named", "reason"),
    [
        (CAROL, DAVE.login, "cannot be claimed"),  # a human naming another human
        (CAROL, "cmo", "cannot be claimed"),  # a human naming an agent
        (Identity("shiba-cmo[bot]", 190000003), CAROL.login, "cannot be claimed"),
        (OUTSIDER, CAROL.login, "neither an agent's bot, a human member nor a maintainer"),
    ],
    ids=[
        "human-names-human",
        "human-names-agent",
        "bot-names-human",
        "outsider-claims",
    ],
)
def test_a_record_naming_someone_else_or_an_outsiders_pr_is_refused(
    forge: LocalForge,
    org: loading.Organization,
    clock: Clock,
    author: Identity,
    named: str,
    reason: str,
) -> None:
    record = template(forge, org, clock, CAROL.login, Tier.MINOR)
    pull = open_by_hand(forge, author, record.model_copy(update={"proposed_by": named}))
    vote(forge, org, pull.number, ceo="approve")
    result = applying.tally(forge, pull.number, now=clock())
    assert reason in result.verdict.reason and result.verdict.check_state == "failure"
    assert forge.pull(pull.number).state is PullState.OPEN


def test_the_proposers_own_approval_never_counts(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    _, pull = carols_proposal(forge, org, clock)
    escalate(forge, org, clock, pull.number)
    proposing.review(forge, pull.number, author=CAROL, vote="approve", body="mine")
    assert applying.tally(forge, pull.number, now=clock()).verdict.status.value == "escalated"


def test_a_maintainer_who_proposes_is_not_the_maintainer_approval(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = propose_campaign(
        forge, org, now=clock(), proposer=MAINTAINER.login, tier=Tier.CRITICAL,
        files={"org/agents/cmo.yaml": b"changed"},
    )  # fmt: skip
    assert decision.proposed_by == MAINTAINER.login
    vote(forge, org, pull.number, ceo="approve", dao="approve")
    proposing.review(forge, pull.number, author=MAINTAINER, vote="approve", body="mine")
    waiting = applying.tally(forge, pull.number, now=clock())
    assert waiting.verdict.stage.value == "maintainer" and waiting.verdict.check_state == "pending"
    proposing.review(forge, pull.number, author=SECOND_MAINTAINER, vote="approve", body="ok")
    done = applying.tally(forge, pull.number, now=clock())
    assert done.verdict.status.value == "approved"
    assert done.verdict.decided_by == SECOND_MAINTAINER.login
    assert forge.pull(pull.number).state is PullState.MERGED


def test_human_members_may_write_and_maintainers_administer_on_the_local_forge(
    forge: LocalForge,
) -> None:
    assert forge.permission(CAROL) is Permission.WRITE
    assert forge.permission(SECOND_MAINTAINER) is Permission.ADMIN
    assert forge.permission(OUTSIDER) is Permission.READ


def test_an_issue_carrying_the_alert_marker_by_someone_else_silences_nothing(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = carols_proposal(forge, org, clock)
    head = forge.pull(pull.number).head_sha
    # The violator opens a look-alike issue first, with the marker the alert would carry.
    marker = f"<!-- aito:violation:{pull.number}:{head[:12]}:merged -->"
    labels = [alerting.HUMAN_ACTION_LABEL, alerting.ALERT_LABEL]
    forge.open_issue(title="nothing to see", body=marker, labels=labels, author=DAVE)
    forge.merge(pull.number, sha=head, actor=DAVE, message="x")
    applying.tally(forge, pull.number, now=clock())
    alerts = forge.issues(state="open", labels=[alerting.ALERT_LABEL])
    assert [a.title for a in alerts if a.author != DAVE] == [
        f"Decision {decision.id} (#{pull.number}) was merged outside governance"
    ]


def test_a_record_naming_nobody_of_the_organization_is_no_decision(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    record = template(forge, org, clock, CAROL.login, Tier.MINOR)
    named = record.model_copy(update={"proposed_by": OUTSIDER.login})
    pull = open_by_hand(forge, OUTSIDER, named)
    with pytest.raises(GovernanceError, match="nor a maintainer or human member"):
        applying.tally(forge, pull.number, now=clock())
    assert forge.pull(pull.number).state is PullState.OPEN


# -- what a write-access attacker tries by hand ------------------------------------------


def test_a_refused_proposal_merged_by_hand_is_a_violation_not_a_silent_merge(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    """An outsider's record claims the CTO proposed it (the gate refuses it); a member
    merges it anyway: the base branch records the violation and the maintainers hear."""
    record = template(forge, org, clock, CAROL.login, Tier.MINOR)
    forged = record.model_copy(update={"proposed_by": "cto", "tier": Tier.OPERATIONAL})
    pull = open_by_hand(forge, OUTSIDER, forged, files={"site/cdn.txt": b"cdn\n"})
    # merged before any tally set a failing check (where the branch is unprotected, any
    # time): the content the CTO's operational authority would have passed at once
    forge.merge(pull.number, sha=forge.pull(pull.number).head_sha, actor=DAVE, message="x")
    result = applying.tally(forge, pull.number, now=clock())

    assert result.verdict.status.value == "escalated" and result.verdict.check_state == "failure"
    recorded = record_on_main(forge, record.id)
    assert recorded["status"] == "escalated" and recorded["proposed_by"] == "cto"
    assert f"{DAVE.login} merged it while the gate refused it" in str(recorded["violation"])
    assert len(forge.issues(state="open", labels=[alerting.ALERT_LABEL])) == 1


def test_a_decided_decision_reopened_is_refused_and_its_record_stands(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    decision, pull = carols_proposal(forge, org, clock)
    forge.close(pull.number, actor=SECOND_MAINTAINER)
    applying.tally(forge, pull.number, now=clock())
    base = reading.base_organization(forge, "main")
    assert base.decisions[decision.id].status.value == "rejected"

    reopened = dataclasses.replace(forge.pull(pull.number), state=PullState.OPEN)
    with pytest.raises(GovernanceError, match="already recorded on main as rejected"):
        reading.check_id_is_free(base, decision, reopened)


def test_an_older_alert_edited_to_carry_the_marker_silences_nothing(
    forge: LocalForge, org: loading.Organization, clock: Clock
) -> None:
    """Anyone with write access may edit an issue the governance bot opened long ago:
    only an alert opened after the merge counts as sent."""
    decision, pull = carols_proposal(forge, org, clock)
    head = forge.pull(pull.number).head_sha
    marker = f"<!-- aito:violation:{pull.number}:{head[:12]}:merged -->"
    labels = [alerting.HUMAN_ACTION_LABEL, alerting.ALERT_LABEL]
    governance = reading.governance_identity(org)
    forge.open_issue(title="an old alert", body=marker, labels=labels, author=governance)
    clock.advance(hours=1)
    forge.merge(pull.number, sha=head, actor=DAVE, message="x")

    applying.tally(forge, pull.number, now=clock())

    titles = [a.title for a in forge.issues(state="open", labels=[alerting.ALERT_LABEL])]
    assert f"Decision {decision.id} (#{pull.number}) was merged outside governance" in titles
