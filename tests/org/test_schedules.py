"""Loop schedules: intervals and cron lines, and the cron GitHub will run."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aito.org import schedules

INTERVALS = [
    "5m",
    "10m",
    "15m",
    "20m",
    "30m",
    "1h",
    "2h",
    "3h",
    "4h",
    "6h",
    "8h",
    "12h",
    "24h",
    "1d",
    "1w",
]


def _runs_per_week(cron: str) -> int:
    minute, hour, _, _, weekday = cron.split()
    minutes = len(minute.split(","))
    hours = 24 if hour == "*" else len(hour.split(","))
    days = 7 if weekday == "*" else len(weekday.split(","))
    return minutes * hours * days


@pytest.mark.parametrize("text", INTERVALS)
def test_an_interval_becomes_a_valid_cron_with_the_same_frequency(text: str) -> None:
    schedule = schedules.parse_schedule(text)
    cron = schedule.to_cron("cmo")
    schedules.validate_cron(cron)
    assert schedule.interval_seconds is not None
    assert _runs_per_week(cron) == 7 * 86400 // schedule.interval_seconds


@given(
    agent_id=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), text=st.sampled_from(INTERVALS)
)
def test_stagger_is_stable_and_avoids_the_top_of_the_hour(agent_id: str, text: str) -> None:
    schedule = schedules.parse_schedule(text)
    cron = schedule.to_cron(agent_id)
    assert cron == schedule.to_cron(agent_id)
    schedules.validate_cron(cron)
    if schedule.interval_seconds and schedule.interval_seconds >= 3600:
        assert 2 <= int(cron.split()[0]) <= 57


def test_a_cron_expression_is_kept_as_written() -> None:
    schedule = schedules.parse_schedule("15  */4 * * MON-FRI")
    assert schedule.cron == "15 */4 * * MON-FRI"
    assert schedule.to_cron("anyone") == "15 */4 * * MON-FRI"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("* * *", "has 3 fields"),
        ("0 25 * * *", "hour 25 is out of range"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("0 9-5 * * *", "runs backwards"),
        ("0 9 * * funday", "not a number"),
        ("5h", "does not divide an hour or a day evenly"),
        ("90m", "does not divide"),
        ("1m", "too short"),
        ("4 hours", "has 2 fields"),
        ("soon", "is not a duration"),
    ],
)
def test_bad_schedules_are_explained(text: str, message: str) -> None:
    with pytest.raises(schedules.ScheduleError, match=message):
        schedules.parse_schedule(text)


def test_durations() -> None:
    assert schedules.parse_duration("4h") == 14400
    assert schedules.parse_duration("48h") == 172800
    assert schedules.format_duration(86400) == "1d"
    with pytest.raises(schedules.ScheduleError):
        schedules.parse_duration("0h")
