"""Loop schedules: an interval (`30m`, `4h`, `1d`) or a five-field cron expression.

Intervals become GitHub Actions cron lines. Each agent gets a stable offset derived
from its id, so agents with the same interval do not all fire at minute 0 (GitHub
delays and drops runs at the top of the hour).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re

_DURATION = re.compile(r"^(?P<count>[1-9][0-9]*)(?P<unit>[smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day of week", 0, 6, {d: i for i, d in enumerate(_WEEKDAYS)}),
)


class ScheduleError(ValueError):
    """A schedule or duration that cannot be used; the message says what would work."""


def parse_duration(text: str) -> int:
    """Seconds in a duration such as ``90s``, ``30m``, ``4h``, ``2d`` or ``1w``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ScheduleError(
            f"{text!r} is not a duration; write a number and a unit, "
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
    """A parsed loop schedule: exactly one of ``interval_seconds`` and ``cron``."""

    text: str
    interval_seconds: int | None = None
    cron: str | None = None

    def describe(self) -> str:
        if self.interval_seconds is not None:
            return f"every {format_duration(self.interval_seconds)}"
        return f"cron {self.cron}"

    def last_slot(self, now: dt.datetime, *, stagger_key: str) -> dt.datetime:
        """The latest time at or before ``now`` when this schedule fires (UTC, minute precision).

        Intervals fire on the same staggered cron as their generated workflow, so a
        wake-up named after its slot is the same wake-up wherever it is started from.
        """
        fields = [
            _cron_values(part, *spec)
            for part, spec in zip(self.to_cron(stagger_key).split(), _CRON_FIELDS, strict=True)
        ]
        minute = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
        for _ in range(8 * 24 * 60):  # every schedule fires within a week and a day
            if (
                minute.minute in fields[0]
                and minute.hour in fields[1]
                and minute.day in fields[2]
                and minute.month in fields[3]
                and (minute.isoweekday() % 7) in fields[4]
            ):
                return minute
            minute -= dt.timedelta(minutes=1)
        raise ScheduleError(f"schedule {self.text!r} never fires")

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
        validate_cron(stripped)
        return Schedule(text=stripped, cron=stripped)
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


def validate_cron(expression: str) -> None:
    """Raise :class:`ScheduleError` unless ``expression`` is a valid five-field cron line."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"cron {expression!r} has {len(fields)} fields; GitHub Actions cron has five: "
            "minute hour day-of-month month day-of-week, e.g. '15 */4 * * *'"
        )
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in value.split(","):
            _check_cron_part(part, name=name, low=low, high=high, names=names)


def _check_cron_part(part: str, *, name: str, low: int, high: int, names: dict[str, int]) -> None:
    base, _, step = part.partition("/")
    if step and not (step.isdigit() and int(step) > 0):
        raise ScheduleError(f"cron {name} step {step!r} must be a positive number")
    if base == "*":
        return
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        raise ScheduleError(f"cron {name} {part!r} is not a number, range, list or */step")
    numbers = [_cron_number(b, name=name, names=names) for b in bounds]
    for number in numbers:
        if not low <= number <= high:
            raise ScheduleError(f"cron {name} {number} is out of range {low}-{high}")
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        raise ScheduleError(f"cron {name} range {base!r} runs backwards")


def _cron_values(part: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for item in part.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        else:
            bounds = [_cron_number(b, name=name, names=names) for b in base.split("-")]
            first, last = bounds[0], bounds[-1] if len(bounds) == 2 or step_text else bounds[0]
            if step_text and len(bounds) == 1:
                last = high
        values.update(range(first, last + 1, step))
    if name == "day-of-week" and 7 in values:
        values.add(0)  # 7 is Sunday too
    return values


def _cron_number(text: str, *, name: str, names: dict[str, int]) -> int:
    if text.isdigit():
        return int(text)
    if text.lower() in names:
        return names[text.lower()]
    raise ScheduleError(f"cron {name} {text!r} is not a number")
