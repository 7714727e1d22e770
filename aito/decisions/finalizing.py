"""A decided decision's final record, committed to `org/decisions/<id>.yaml` on the base
branch once: status, rounds, votes, the human decision (who, when, how: a review, a merge
or a close by hand), when and how it was resolved, and a violation (merged or closed by
someone who may not decide) when there was one.

Run again with the same verdict it commits nothing (only the resolution time may differ,
and that alone never makes a new commit); an unreadable record there is rewritten.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from aito.decisions import reading
from aito.forge.base import Forge, Identity, PullRequest
from aito.governance.verdicts import Verdict
from aito.org import yamlfiles
from aito.org.records import Decision, PullRequestLink, RoundRecord


def record_final(
    forge: Forge,
    pull: PullRequest,
    decision: Decision,
    verdict: Verdict,
    governance: Identity,
    now: dt.datetime,
) -> list[str]:
    """Write the final record to `org/decisions/<id>.yaml` on the base branch (once)."""
    final = decision.model_copy(
        update={
            "status": verdict.status,
            "round": verdict.round,
            "rounds": [
                RoundRecord(
                    round=r.round, votes=r.votes, analysis={a: "answered" for a in r.analysis}
                )
                for r in verdict.rounds
            ],
            "human_decision": verdict.human_decision,
            "decided_by": verdict.decided_by,
            "decided_via": verdict.decided_via,
            "violation": verdict.violation,
            "resolved_at": verdict.decided_at or now,
            "result": verdict.reason,
            "pr": PullRequestLink(number=pull.number, url=pull.url if _is_http(pull.url) else None),
        }
    )
    path = f"{reading.DECISIONS_PREFIX}{decision.id}.yaml"
    data = final.model_dump(mode="json", exclude_none=True)
    current = forge.read_tree(pull.base_ref, prefixes=[path]).get(path)
    if current is not None and _same_record(_loaded(current, path), data):
        return []
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()
    forge.commit_files(
        branch=pull.base_ref,
        base=pull.base_ref,
        files={path: text},
        message=f"Record decision {decision.id}: {verdict.status.value} (#{pull.number})",
        author=governance,
    )
    return [f"recorded {path} on {pull.base_ref}"]


def _loaded(content: bytes, path: str) -> object:
    try:
        return yamlfiles.load_bytes(content, Path(path))
    except yamlfiles.YamlFileError:
        return None  # unreadable: rewrite it


def _same_record(current: object, new: dict[str, object]) -> bool:
    # The resolution time differs between runs; the decision does not.
    if not isinstance(current, dict):
        return False
    return {k: v for k, v in current.items() if k != "resolved_at"} == {
        k: v for k, v in new.items() if k != "resolved_at"
    }


def _is_http(url: str | None) -> bool:
    return bool(url and url.startswith(("http://", "https://")))
