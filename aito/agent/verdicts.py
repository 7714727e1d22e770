"""Open decisions as an agent sees them: the verdicts the governance tally stored.

A wake-up reads the open pull requests (one forge call) and their stored verdicts (one
query) instead of tallying every open decision itself. A decision never tallied yet,
or pushed to since its last tally, is tallied read-only once here and its verdict
stored, so the next wake-up reads it too; so is one an agent of this process just
voted on (:func:`refresh`), so no one is asked again for a vote already cast.
"""

from __future__ import annotations

import datetime as dt
import logging

import pydantic

from aito.agent.ports import LoopPorts
from aito.decisions import applying, recording
from aito.errors import GovernanceError
from aito.forge.base import PullState

log = logging.getLogger(__name__)


def open_verdicts(ports: LoopPorts, *, now: dt.datetime) -> list[recording.StoredVerdict]:
    """The latest verdict of every open decision pull request, by PR number."""
    pulls = ports.governance.pulls(state=PullState.OPEN)
    stored = ports.memory.verdicts([pull.number for pull in pulls])
    found = []
    for pull in sorted(pulls, key=lambda p: p.number):
        verdict = None
        row = stored.get(pull.number)
        if row is not None and row["head_sha"] == pull.head_sha:
            try:
                verdict = recording.StoredVerdict.model_validate(row["verdict"])
            except pydantic.ValidationError:
                log.warning("stored verdict of #%d is unreadable; tallying again", pull.number)
        if verdict is None:
            verdict = refresh(ports, pull.number, now=now)
        if verdict is not None:
            found.append(verdict)
    return found


def refresh(ports: LoopPorts, number: int, *, now: dt.datetime) -> recording.StoredVerdict | None:
    """Tally ``number`` read-only and store the verdict; None if it is not a decision."""
    try:
        result = applying.tally(ports.governance, number, now=now, apply=False)
    except GovernanceError:
        return None
    verdict = recording.StoredVerdict.of(result.decision, result.verdict, now=now)
    recording.store(ports.memory, verdict)
    return verdict
