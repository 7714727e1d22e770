"""Loop schedules: intervals and cron lines, and the cron GitHub will run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cronsim
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aito.agent import scheduling
from aito.org import loading, schedules
from aito.workflows import rendering

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


# -- cron lines: what `aito validate` accepts is what the scheduler and workflow run --------

NOW = dt.datetime(2025, 3, 15, 12, 30, 40, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("line", "slot"),
    [
        ("0 0 1 * *", "2025-03-01T00:00"),  # monthly: more than a week back
        ("0 6 1 */3 *", "2025-01-01T06:00"),  # quarterly
        ("0 0 29 2 *", "2024-02-29T00:00"),  # only in leap years
        ("0 9 * * mon", "2025-03-10T09:00"),  # a day-of-week name
        ("30 12 * * SAT", "2025-03-15T12:30"),  # this very minute counts
        ("0 9 * JAN,jul SUN", "2025-01-26T09:00"),  # month and weekday names
        ("0 0 13 * FRI", "2025-03-14T00:00"),  # both day fields: either matches
        ("*/20 8-17/2 * * MON-FRI/2", "2025-03-14T16:40"),
    ],
)
def test_every_valid_cron_line_has_slots(line: str, slot: str) -> None:
    schedule = schedules.parse_schedule(line)
    assert schedule.last_slot(NOW, stagger_key="cmo") == dt.datetime.fromisoformat(slot).replace(
        tzinfo=dt.UTC
    )


def test_names_are_canonical_so_the_workflow_runs_what_the_scheduler_computes() -> None:
    schedule = schedules.parse_schedule("0  9 * jan-mar mon,Fri")
    assert schedule.cron == "0 9 * JAN-MAR MON,FRI" == schedule.to_cron("anyone")
    assert schedule.explain().endswith("UTC")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 0 31 2 *", "never fires"),
        ("0 0 31 4,6 *", "never fires"),
        ("0 0 L * *", "is not a number"),
        ("0 0 ? * *", "is not a number"),
        ("0 0 * * MON#2", "is not a number"),
        ("0 0 * * 7", "out of range 0-6"),
        ("0 0 * * 1L", "is not a number"),
        ("@daily", "is not a duration"),
        ("0 0 * * * *", "has 6 fields"),
        ("*/61 * * * *", "up to 60"),
        ("0 MON * * *", "hour 'MON' is not a number"),
        ("0 0 1-2-3 * *", "not a number, range"),
        ("0 0 ,1 * *", "not a number, range"),
        ("0 0 * * " + "1," * 200 + "1", "longer than 200"),
    ],
)
def test_what_github_actions_would_not_run_is_refused(text: str, message: str) -> None:
    with pytest.raises(schedules.ScheduleError, match=message):
        schedules.parse_schedule(text)


def _rank(text: str) -> int:
    names = ("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC", "SUN MON TUE WED THU FRI SAT")
    for spelled in names:
        if text.upper() in spelled.split():
            return spelled.split().index(text.upper())
    return int(text) if text.isdigit() else 0


def _field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """Mostly valid items of one cron field, with some just out of range or foreign."""
    number = st.integers(min_value=low, max_value=high).map(str)
    foreign = st.sampled_from([str(high + 1), "L", "?", "1W", "2#1", "7L", ""])
    spelled = st.sampled_from(names + tuple(n.lower() for n in names)) if names else number
    # About one item in thirty is something GitHub Actions would not take.
    value = st.integers(0, 29).flatmap(
        lambda i: foreign if i == 0 else (spelled if i % 3 == 0 else number)
    )
    ranges = st.tuples(value, value).map(lambda ab: "-".join(sorted(ab, key=_rank)))
    base = st.one_of(st.just("*"), value, ranges, st.tuples(value, value).map("-".join))
    step = st.one_of(st.just(""), st.integers(1, high - low + 1).map(lambda n: f"/{n}"))
    item = st.tuples(base, step).map("".join)
    return st.lists(item, min_size=1, max_size=3).map(",".join)


_LINE = st.tuples(
    _field(0, 59),
    _field(0, 23),
    _field(1, 31),
    _field(
        1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    ),
    _field(0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(
    line=_LINE,
    now=st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2090, 1, 1),
        timezones=st.just(dt.UTC),
    ),
)
def test_a_cron_line_that_validates_never_crashes_when_run(line: str, now: dt.datetime) -> None:
    try:
        schedule = schedules.parse_schedule(line)
    except schedules.ScheduleError:
        return  # refused with a message: fine
    cron = schedule.to_cron("agent")
    assert schedules.validate_cron(cron) == cron  # canonical: rendering and running agree
    slot = schedule.last_slot(now, stagger_key="agent")
    assert slot <= now and slot.second == 0 and slot.tzinfo is not None
    following = next(iter(cronsim.CronSim(cron, slot)))
    assert following > now.replace(second=0, microsecond=0)  # the latest slot, not an older one
    assert schedule.explain()


def test_a_monthly_cron_validates_renders_and_names_its_slot(example_repo: Path) -> None:
    cmo = example_repo / "org/agents/cmo.yaml"
    cmo.write_text(cmo.read_text().replace("schedule: 4h", "schedule: 0 7 1 * mon"))
    org = loading.load_valid(example_repo)
    [workflow] = [
        yaml.safe_load(text)
        for path, text in rendering.render(org).items()
        if path.name == "agent-cmo.yml"
    ]
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"] == [{"cron": "0 7 1 * MON"}]
    schedule = org.schedule("cmo")
    assert schedule is not None and schedule.to_cron("cmo") == "0 7 1 * MON"
    run_id = scheduling.slot_run_id(org, "cmo", NOW)
    assert run_id is not None and "20250310T0700" in run_id  # a Monday after the 1st
