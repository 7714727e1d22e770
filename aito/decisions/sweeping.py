"""`tally_open`: every open decision tallied, one sweep for every caller.

The CLI (`aito decide tally --all`, `aito decide status`), the demo's governance step
and the orchestrator sweep the same way: each open pull request that adds a decision
record is tallied — applied under its `lock:decision:{id}` and recorded (Postgres,
announcements) unless ``apply`` is False — and one pull request's failure is reported
beside the others' results instead of ending the sweep.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager

from aito.decisions import applying, reading
from aito.errors import AitoError, GovernanceError
from aito.forge.base import Forge, PullState


@dataclasses.dataclass(frozen=True)
class Problem:
    """An open decision pull request the sweep could not tally, and why."""

    pr: int
    error: AitoError

    @property
    def message(self) -> str:
        return f"#{self.pr} could not be tallied: {self.error}"


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The tallies of the open decisions (by PR number) and what failed."""

    tallies: list[applying.Tally]
    problems: list[Problem]


def open_decisions(forge: Forge, *, state: PullState | None = PullState.OPEN) -> list[int]:
    """The pull requests in ``state`` (None: all) that add exactly one decision record,
    by number, and those the forge could not read enough of to tell (one pull request a
    proposer made unreadable never hides the others: its own tally fails, and says why)."""
    numbers = []
    for pull in forge.pulls(state=state):
        try:
            reading.decision_of(forge, pull)
        except GovernanceError:
            continue  # not a decision (or not a readable one): nothing to tally
        except AitoError:
            pass  # the forge could not say (too many files …): its tally reports why
        numbers.append(pull.number)
    return sorted(numbers)


def tally_open(
    forge: Forge,
    *,
    now: dt.datetime,
    apply: bool = True,
    recorder: applying.Recorder | None = None,
    lock: Callable[[str], AbstractContextManager[object]] | None = None,
    numbers: list[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Sweep:
    """Tally each open decision (or just ``numbers``) at ``now``.

    With ``apply`` (the default) each verdict is applied under ``lock(decision_id)``
    and given to ``recorder``; without, nothing changes anywhere. ``progress(pr)`` is
    called before each tally.
    """
    tallies: list[applying.Tally] = []
    problems: list[Problem] = []
    for number in open_decisions(forge) if numbers is None else numbers:
        if progress is not None:
            progress(number)
        try:
            tallies.append(
                applying.tally(
                    forge,
                    number,
                    now=now,
                    apply=apply,
                    recorder=recorder if apply else None,
                    lock=lock,
                )
            )
        except AitoError as exc:
            problems.append(Problem(number, exc))
    return Sweep(tallies, problems)
