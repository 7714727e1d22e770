"""Loop schedules: an interval (`30m`, `4h`, `1d`) or a five-field cron expression.

Intervals become GitHub Actions cron lines. Each agent gets a stable offset derived
from its id, so agents with the same interval do not all fire at minute 0 (GitHub
delays and drops runs at the top of the hour).

Cron lines are computed with `cronsim` (a maintained cron library), restricted to
what GitHub Actions accepts: five fields (minute, hour, day of month, month, day of
week, in UTC), each a list of ``*``, a number, a range ``a-b`` or a name (``JAN``…``DEC``,
``SUN``…``SAT``), optionally with a ``/step``. A cron line that validates is the same
string the workflow is rendered with and the one slots are computed from, so what
validates runs. When both day fields are restricted a day matches either (cron's
usual rule).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re

import cronsim

_DURATION = re.compile(r"^(?P<count>[1-9][0-9]*)(?P<unit>[smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # symbolic values, the first standing for ``low``

    def number(self, text: str) -> int:
        if text.isdigit() and len(text) <= 2:
            value = int(text)
        elif text in self.names:
            value = self.names.index(text) + self.low
        else:
            spelled = f" or a name ({self.names[0]}…{self.names[-1]})" if self.names else ""
            raise ScheduleError(f"cron {self.name} {text!r} is not a number{spelled}")
        if not self.low <= value <= self.high:
            raise ScheduleError(f"cron {self.name} {value} is out of range {self.low}-{self.high}")
        return value


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 6, _WEEKDAYS),
)
_MAX_CRON_LENGTH = 200


class ScheduleError(ValueError):
    """A schedule or duration that cannot be used; the message says what would work."""


def parse_duration(text: str) -> int:
    """Seconds in a duration such as ``90s``, ``30m``, ``4h``, ``2d`` or ``1w``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ScheduleError(
            f"{_short(text)} is not a duration; write a number and a unit, "
            "e.g. 30m, 4h, 2d (units s m h d w)"
        )
    return int(match["count"]) * _UNIT_SECONDS[match["unit"]]


def format_duration(seconds: int) -> str:
    """The shortest exact spelling of ``seconds`` (``14400`` -> ``4h``)."""
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A parsed loop schedule: exactly one of ``interval_seconds`` and ``cron``.

    ``cron`` is the canonical line (single spaces, names upper case): the string the
    workflow is rendered with and slots are computed from.
    """

    text: str
    interval_seconds: int | None = None
    cron: str | None = None

    def describe(self) -> str:
        if self.interval_seconds is not None:
            return f"every {format_duration(self.interval_seconds)}"
        return f"cron {self.cron}"

    def explain(self) -> str:
        """In words, e.g. "At 09:00 on Monday UTC" (cron lines) or "every 4h"."""
        if self.cron is None:
            return self.describe()
        text: str = cronsim.CronSim(self.cron, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)).explain()
        return f"{text} UTC"

    def last_slot(self, now: dt.datetime, *, stagger_key: str) -> dt.datetime:
        """The latest time at or before ``now`` when this schedule fires (UTC, minute precision).

        Intervals fire on the same staggered cron as their generated workflow, so a
        wake-up named after its slot is the same wake-up wherever it is started from.
        """
        minute = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
        # cronsim walks backwards from strictly before its start unless the start has
        # microseconds, so a microsecond past the minute makes the minute itself count.
        start = minute + dt.timedelta(microseconds=1)
        return next(iter(cronsim.CronSim(self.to_cron(stagger_key), start, reverse=True)))

    def next_slot(self, now: dt.datetime, *, stagger_key: str) -> dt.datetime:
        """The first time strictly after ``now`` when this schedule fires (UTC)."""
        return next(iter(cronsim.CronSim(self.to_cron(stagger_key), now.astimezone(dt.UTC))))

    def to_cron(self, stagger_key: str) -> str:
        """A GitHub Actions cron line; intervals get a stable offset from ``stagger_key``."""
        if self.cron is not None:
            return self.cron
        assert self.interval_seconds is not None
        return _interval_cron(self.interval_seconds, stagger_key)


def parse_schedule(text: str) -> Schedule:
    """Parse an interval (``4h``) or a cron expression (``15 */2 * * *``)."""
    stripped = " ".join(str(text).split())
    if " " in stripped:
        return Schedule(text=stripped, cron=validate_cron(stripped))
    seconds = parse_duration(stripped)
    _check_interval(seconds, stripped)
    return Schedule(text=stripped, interval_seconds=seconds)


def _check_interval(seconds: int, text: str) -> None:
    minutes, rest = divmod(seconds, 60)
    if rest or minutes < 5:
        raise ScheduleError(f"interval {text!r} is too short: GitHub Actions runs at most every 5m")
    if minutes < 60 and 60 % minutes == 0:
        return
    if minutes % 60 == 0 and minutes <= 24 * 60 and (24 * 60) % minutes == 0:
        return
    if minutes in (24 * 60, 7 * 24 * 60):
        return
    raise ScheduleError(
        f"interval {text!r} does not divide an hour or a day evenly, so it has no cron form; "
        "use one of 5m 10m 15m 20m 30m 1h 2h 3h 4h 6h 8h 12h 1d 1w, or write a cron expression"
    )


def _interval_cron(seconds: int, stagger_key: str) -> str:
    digest = int(hashlib.sha256(stagger_key.encode()).hexdigest(), 16)
    minutes = seconds // 60
    offset_minute = 2 + digest % 56  # 2..57: away from the crowded top of the hour
    if minutes < 60:
        first = digest % minutes
        return f"{','.join(str(m) for m in range(first, 60, minutes))} * * * *"
    hours = minutes // 60
    if hours == 1:
        return f"{offset_minute} * * * *"
    if hours <= 24:
        first_hour = (digest // 56) % hours
        hour_list = ",".join(str(h) for h in range(first_hour, 24, hours))
        return f"{offset_minute} {hour_list} * * *"
    weekday = (digest // 56) % 7
    return f"{offset_minute} {(digest // 392) % 24} * * {weekday}"


def validate_cron(expression: str) -> str:
    """The canonical form of a five-field GitHub Actions cron line.

    Raises :class:`ScheduleError` unless ``expression`` uses only what GitHub accepts
    and fires at least once (``0 0 31 2 *`` never does).
    """
    if len(expression) > _MAX_CRON_LENGTH:
        raise ScheduleError(f"cron line is longer than {_MAX_CRON_LENGTH} characters")
    fields = expression.upper().split()
    if len(fields) != 5:
        raise ScheduleError(
            f"cron {_short(expression)} has {len(fields)} fields; GitHub Actions cron has five: "
            "minute hour day-of-month month day-of-week (UTC), e.g. '15 */4 * * *'"
        )
    for value, field in zip(fields, _FIELDS, strict=True):
        for part in value.split(","):
            _check_part(part, field)
    canonical = " ".join(fields)
    try:
        cronsim.CronSim(canonical, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    except cronsim.CronSimError as exc:
        raise ScheduleError(f"cron {canonical!r} never fires ({exc})") from exc
    return canonical


def _check_part(part: str, field: _Field) -> None:
    """One comma-separated item: ``*``, ``n``, ``a-b``, each with an optional ``/step``."""
    base, slash, step = part.partition("/")
    size = field.high - field.low + 1
    if slash and not (step.isdigit() and len(step) <= 2 and 0 < int(step) <= size):
        raise ScheduleError(
            f"cron {field.name} step {_short(step)} must be a positive number up to {size}"
        )
    if base == "*":
        return
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        raise ScheduleError(
            f"cron {field.name} {_short(part)} is not a number, range, list or */step "
            "(GitHub Actions cron has no L, W, # or ?)"
        )
    numbers = [field.number(bound) for bound in bounds]
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        raise ScheduleError(f"cron {field.name} range {base!r} runs backwards")


def _short(text: str, limit: int = 40) -> str:
    """``text`` quoted, cut to ``limit`` characters: messages never echo unbounded input."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
