"""Alert the maintainers when a decision pull request was merged or closed by someone who
may not decide (a violation the tally found in the forge's own record).

The alert is a forge issue, as an agent's critical alert is (:mod:`aito.agent.guarding`):
labelled ``human-action-required`` and ``aito/alert``, mentioning every maintainer (that is
how GitHub notifies people), opened by the governance bot; what it quotes (ids, logins)
goes through :func:`aito.decisions.marks.text`, as the tally comment does. One issue per
violation: a marker in the body of an issue the governance bot opened is looked for
before opening, so a tally run again (or retried after a lost reply) never opens a
second one, and nobody else's issue carrying the marker can silence the alert.
"""

from __future__ import annotations

from aito.decisions import marks
from aito.forge.base import Forge, Identity, PullRequest
from aito.governance.verdicts import Verdict
from aito.org import loading
from aito.org.records import Decision

# The labels of every alert that asks humans to act (as aito.agent.effects names them).
HUMAN_ACTION_LABEL = "human-action-required"
ALERT_LABEL = "aito/alert"


def marker(pull: PullRequest, verdict: Verdict) -> str:
    return f"<!-- aito:violation:{pull.number}:{verdict.head_sha[:12]}:{pull.state.value} -->"


def alert_violation(
    forge: Forge,
    org: loading.Organization,
    pull: PullRequest,
    decision: Decision,
    verdict: Verdict,
    governance: Identity,
) -> list[str]:
    """Open the alert issue for ``verdict``'s violation, once; what changed."""
    if verdict.violation is None:
        return []
    tag = marker(pull, verdict)
    labels = [HUMAN_ACTION_LABEL, ALERT_LABEL]
    for issue in forge.issues(state=None, labels=labels):
        # Only the governance bot's own alert, opened after the merge or close: a marker
        # written into an older issue (anyone with write access may edit one) counts not.
        opened_after = pull.closed_at is None or issue.created_at >= pull.closed_at
        if tag in issue.body and issue.author.id == governance.id and opened_after:
            return []
    mentions = " ".join(f"@{m.login}" for m in org.org.maintainers)
    what = "merged" if pull.merge_sha else "closed"
    undo = (
        "revert the merge (its content was never approved), or confirm it with a new decision"
        if what == "merged"
        else "reopen the pull request so the vote goes on, or close it yourselves (a "
        "maintainer's close rejects it)"
    )
    shown = marks.text(decision.id, 80)
    issue = forge.open_issue(
        title=f"Decision {shown} (#{pull.number}) was {what} outside governance",
        body=f"Decision `{shown}` (#{pull.number}, {verdict.tier.value}): "
        f"{marks.text(verdict.violation, 300)}.\n\nThe decision is recorded as escalated on "
        f"`{forge.default_branch}`. Maintainers: {undo}. Branch protection (the "
        "`aito/decision` status from the governance bot, and no bypass for others) "
        f"prevents this; `aito github doctor` checks it.\n\n---\n{mentions}\n{tag}",
        labels=labels,
        author=governance,
    )
    return [f"alerted the maintainers (issue #{issue.number})"]
