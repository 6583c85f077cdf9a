"""Business time (app.calendars.business_time) checked against a minute-by-minute reference.

The reference below knows nothing of the module's algorithm: it looks at each UTC minute on its own, reads
the wall clock in the calendar's zone, and asks whether a non-holiday interval of that local day or of
the day before covers it. Every input here is minute-aligned and the zones change their offsets on whole
minutes, so working time is made of whole minutes and the module must agree with the reference exactly.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.calendars.business_time import (
    HORIZON,
    Calendar,
    Interval,
    add_business_time,
    add_calendar_time,
    business_seconds_between,
    due_with_pauses,
    elapsed_with_pauses,
    working_periods,
)

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
MINUTES_PER_DAY = 24 * 60

ZONE_NAMES = (
    "Asia/Ho_Chi_Minh",
    "Asia/Bangkok",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/Sao_Paulo",
)
# Two changes a year for six years where clocks change; none where they do not (Brazil stopped in 2019).
EXPECTED_TRANSITION_COUNTS = {
    "Asia/Ho_Chi_Minh": 0,
    "Asia/Bangkok": 0,
    "Europe/Berlin": 12,
    "America/New_York": 12,
    "Australia/Sydney": 12,
    "America/Sao_Paulo": 0,
}
RANGE_START = datetime(2025, 1, 1, tzinfo=UTC)
RANGE_END = datetime(2031, 1, 1, tzinfo=UTC)

Pause = tuple[datetime, datetime]


# --- The reference -------------------------------------------------------------------------------------


def reference_is_working(calendar: Calendar, minute: datetime) -> bool:
    """Whether the UTC minute starting at `minute` is working time, read straight off the wall clock."""
    wall = minute.astimezone(calendar.zone).replace(tzinfo=None)
    for day in (wall.date(), wall.date() - DAY):
        if day in calendar.holidays:
            continue
        midnight = datetime.combine(day, time())
        for interval in calendar.intervals:
            if interval.weekday != day.weekday():
                continue
            interval_start = midnight + timedelta(minutes=interval.start_minute)
            if interval_start <= wall < interval_start + timedelta(minutes=interval.minutes):
                return True
    return False


def reference_counts(calendar: Calendar | None, minute: datetime, pauses: Sequence[Pause]) -> bool:
    """Whether a minute counts: outside every pause, and working time when there is a calendar."""
    if any(pause_start <= minute < pause_end for pause_start, pause_end in pauses):
        return False
    return calendar is None or reference_is_working(calendar, minute)


def utc_minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    minute = start
    while minute < end:
        yield minute
        minute += MINUTE


def reference_elapsed(
    calendar: Calendar | None, start: datetime, end: datetime, pauses: Sequence[Pause] = ()
) -> float:
    """Counted seconds in [start, end), one minute at a time."""
    return 60.0 * sum(reference_counts(calendar, minute, pauses) for minute in utc_minutes(start, end))


# The walk below gives up after this long; the strategies keep every target reachable well within it.
REFERENCE_WALK_LIMIT = timedelta(days=60)


def reference_due(
    calendar: Calendar | None, start: datetime, target_minutes: int, pauses: Sequence[Pause] = ()
) -> datetime:
    """The end of the minute in which the count reaches the target (at least a minute), walking from
    `start`.

    Taking the END of that minute is the module's rule for an amount that runs out exactly at the end of
    a working period: the last counted minute ends where the period ends, so that end is the due time."""
    counted = 0
    for minute in utc_minutes(start, start + REFERENCE_WALK_LIMIT):
        counted += reference_counts(calendar, minute, pauses)
        if counted == target_minutes:
            return minute + MINUTE
    raise AssertionError("the reference walk found too little working time; the strategy is too sparse")


# --- DST transitions -----------------------------------------------------------------------------------


def utc_offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def find_transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants in [start, end) at which the zone's UTC offset changes: an hourly scan, then a
    bisection down to the minute."""
    transitions = []
    hour = start
    while hour < end:
        next_hour = hour + timedelta(hours=1)
        if utc_offset(zone, hour) != utc_offset(zone, next_hour):
            low, high = hour, next_hour
            while high - low > MINUTE:
                middle = low + (high - low) // 2
                middle -= timedelta(seconds=middle.second, microseconds=middle.microsecond)
                if utc_offset(zone, middle) == utc_offset(zone, low):
                    low = middle
                else:
                    high = middle
            transitions.append(high)
        hour = next_hour
    return transitions


TRANSITIONS = {name: find_transitions(ZoneInfo(name), RANGE_START, RANGE_END) for name in ZONE_NAMES}
ALL_TRANSITIONS = [(name, instant) for name in ZONE_NAMES for instant in TRANSITIONS[name]]


def test_the_dst_transitions_found_are_the_expected_ones() -> None:
    """The hourly scan finds two clock changes a year where clocks change, each to the exact minute."""
    assert {name: len(found) for name, found in TRANSITIONS.items()} == EXPECTED_TRANSITION_COUNTS
    for name, found in TRANSITIONS.items():
        zone = ZoneInfo(name)
        for instant in found:
            assert instant.second == 0
            assert utc_offset(zone, instant - MINUTE) != utc_offset(zone, instant)
    assert TRANSITIONS["America/New_York"][0] == datetime(2025, 3, 9, 7, 0, tzinfo=UTC)
    assert TRANSITIONS["Europe/Berlin"][1] == datetime(2025, 10, 26, 1, 0, tzinfo=UTC)


# --- Building calendars --------------------------------------------------------------------------------


def clock_minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def shifts(weekdays: Iterable[int], *spans: tuple[str, str]) -> tuple[Interval, ...]:
    """Intervals from "HH:MM" spans on each weekday; an end at or before the start runs past midnight."""
    intervals = []
    for weekday in weekdays:
        for start_text, end_text in spans:
            start = clock_minutes(start_text)
            length = (clock_minutes(end_text) - start) % MINUTES_PER_DAY or MINUTES_PER_DAY
            intervals.append(Interval(weekday, start, length))
    return tuple(intervals)


MONDAY_TO_FRIDAY = range(5)
EVERY_DAY = range(7)


def at(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    """A local wall-clock reading as a UTC instant (fold=1 picks the second of a repeated reading)."""
    return datetime(year, month, day, hour, minute, fold=fold, tzinfo=zone).astimezone(UTC)


# --- Strategies ----------------------------------------------------------------------------------------

# Shifts as (start minute, minutes): office hours, a split shift, a night shift across midnight, a full
# day, and the early hours in which clocks change, some starting or ending inside the skipped or
# repeated hour (01:00-03:00 in the zones that change).
SHIFT_PATTERNS = (
    ((9 * 60, 8 * 60),),
    ((8 * 60, 4 * 60), (13 * 60 + 30, 4 * 60)),
    ((22 * 60, 8 * 60),),
    ((0, MINUTES_PER_DAY),),
    ((60, 2 * 60),),
    ((2 * 60, 60), (22 * 60, 4 * 60)),
    ((90, 60),),
    ((150, 120), (23 * 60 + 45, 2 * 60 + 45)),
)
arbitrary_shifts = st.lists(
    st.tuples(st.integers(0, MINUTES_PER_DAY - 1), st.integers(1, MINUTES_PER_DAY)), min_size=1, max_size=3
)
MINUTES_IN_RANGE = int((RANGE_END - RANGE_START) / MINUTE)
# What keeps the reference cheap: spans of at most four days, targets of at most sixteen hours.
MAX_SPAN_DAYS = 4
MAX_TARGET_HOURS = 16


@st.composite
def weekly_intervals(draw: st.DrawFn) -> tuple[Interval, ...]:
    weekdays = draw(st.sets(st.integers(0, 6), min_size=1))
    intervals = []
    for weekday in sorted(weekdays):
        for start_minute, minutes in draw(st.one_of(st.sampled_from(SHIFT_PATTERNS), arbitrary_shifts)):
            intervals.append(Interval(weekday, start_minute, minutes))
    return tuple(intervals)


@st.composite
def zones_and_starts(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a minute in 2025-2030: two times in three within two days of one of the clock changes
    (in a zone that has them), else any of the six zones and any minute of the range."""
    if draw(st.sampled_from(("near a clock change", "near a clock change", "anywhere"))) == "anywhere":
        zone_name = draw(st.sampled_from(ZONE_NAMES))
        return zone_name, RANGE_START + draw(st.integers(0, MINUTES_IN_RANGE - 1)) * MINUTE
    zone_name, transition = draw(st.sampled_from(ALL_TRANSITIONS))
    return zone_name, transition + draw(st.integers(-2 * MINUTES_PER_DAY, 2 * MINUTES_PER_DAY)) * MINUTE


@st.composite
def holidays_near(draw: st.DrawFn, zone: ZoneInfo, start: datetime) -> frozenset[date]:
    """Up to three single days or short ranges of days, from two days before `start` to a week after."""
    first_day = start.astimezone(zone).date()
    days = set()
    for offset, length in draw(st.lists(st.tuples(st.integers(-2, 7), st.integers(1, 3)), max_size=3)):
        days.update(first_day + (offset + i) * DAY for i in range(length))
    return frozenset(days)


@dataclass(frozen=True)
class Scenario:
    calendar: Calendar
    start: datetime


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zone_name, start = draw(zones_and_starts())
    zone = ZoneInfo(zone_name)
    intervals = draw(weekly_intervals())
    return Scenario(Calendar(zone, intervals, draw(holidays_near(zone, start))), start)


def target_minutes(calendar: Calendar) -> st.SearchStrategy[int]:
    """A target of at most the calendar's minutes per week, so the reference walk stays short."""
    most = min(MAX_TARGET_HOURS * 60, sum(interval.minutes for interval in calendar.intervals))
    # Hours plus minutes, so that long targets are drawn as often as short ones.
    return st.builds(
        lambda hours, minutes: min(hours * 60 + minutes, most),
        st.integers(0, MAX_TARGET_HOURS - 1),
        st.integers(1, 60),
    )


# Whole days plus minutes, so that long spans are drawn as often as short ones.
spans_in_minutes = st.builds(
    lambda days, minutes: days * MINUTES_PER_DAY + minutes,
    st.integers(0, MAX_SPAN_DAYS - 1),
    st.integers(0, MINUTES_PER_DAY),
)


@st.composite
def pauses_from(draw: st.DrawFn, start: datetime, span_minutes: int) -> list[Pause]:
    """Zero to three pauses within (or just across the edges of) [start, start + span_minutes)."""
    pauses = []
    for offset, length in draw(
        st.lists(st.tuples(st.integers(-60, span_minutes), st.integers(0, span_minutes)), max_size=3)
    ):
        pauses.append((start + offset * MINUTE, start + (offset + length) * MINUTE))
    return pauses


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


# --- Properties: module == reference -------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenario=scenarios(), span_minutes=spans_in_minutes)
def test_business_seconds_between_matches_the_reference(scenario: Scenario, span_minutes: int) -> None:
    """business_seconds_between counts exactly the minutes the wall-clock reference counts."""
    end = scenario.start + span_minutes * MINUTE
    expected = reference_elapsed(scenario.calendar, scenario.start, end)
    assert business_seconds_between(scenario.calendar, scenario.start, end) == expected


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_add_business_time_matches_the_reference(scenario: Scenario, data: st.DataObject) -> None:
    """add_business_time ends where the reference's count reaches the target."""
    target = data.draw(target_minutes(scenario.calendar), label="target_minutes")
    expected = reference_due(scenario.calendar, scenario.start, target)
    assert add_business_time(scenario.calendar, scenario.start, target * 60) == expected


@PROPERTY_SETTINGS
@given(scenario=scenarios(), with_calendar=st.booleans(), span_minutes=spans_in_minutes, data=st.data())
def test_elapsed_with_pauses_matches_the_reference(
    scenario: Scenario, with_calendar: bool, span_minutes: int, data: st.DataObject
) -> None:
    """elapsed_with_pauses counts the reference's minutes outside the pauses, with or without a calendar."""
    calendar = scenario.calendar if with_calendar else None
    end = scenario.start + span_minutes * MINUTE
    pauses = data.draw(pauses_from(scenario.start, span_minutes), label="pauses")
    expected = reference_elapsed(calendar, scenario.start, end, pauses)
    assert elapsed_with_pauses(calendar, scenario.start, end, pauses) == expected


@PROPERTY_SETTINGS
@given(scenario=scenarios(), with_calendar=st.booleans(), data=st.data())
def test_due_with_pauses_matches_the_reference(
    scenario: Scenario, with_calendar: bool, data: st.DataObject
) -> None:
    """due_with_pauses ends where the reference's count, skipping the pauses, reaches the target."""
    calendar = scenario.calendar if with_calendar else None
    target = data.draw(target_minutes(scenario.calendar), label="target_minutes")
    pauses = data.draw(pauses_from(scenario.start, 2 * MINUTES_PER_DAY), label="pauses")
    expected = reference_due(calendar, scenario.start, target, pauses)
    assert due_with_pauses(calendar, scenario.start, target * 60, pauses) == expected


# --- Every DST transition, deterministically -----------------------------------------------------------

AROUND_THE_CLOCK = shifts(EVERY_DAY, ("00:00", "24:00"))
EARLY_HOURS = shifts(EVERY_DAY, ("01:00", "03:00"))
# Its edges lie inside the hour that is skipped or repeated in each of the zones that change.
MID_CHANGE_HOURS = shifts(EVERY_DAY, ("01:30", "02:30"))


def test_every_transition_is_covered() -> None:
    """The deterministic test below sees all 36 clock changes of the six zones in 2025-2030."""
    assert len(ALL_TRANSITIONS) == sum(EXPECTED_TRANSITION_COUNTS.values()) == 36


@pytest.mark.parametrize(
    "intervals", [AROUND_THE_CLOCK, EARLY_HOURS, MID_CHANGE_HOURS], ids=["00-24", "01-03", "01:30-02:30"]
)
@pytest.mark.parametrize(
    ("zone_name", "transition"),
    ALL_TRANSITIONS,
    ids=[f"{name}-{instant:%Y-%m-%d}" for name, instant in ALL_TRANSITIONS],
)
def test_module_matches_the_reference_around_every_transition(
    zone_name: str, transition: datetime, intervals: tuple[Interval, ...]
) -> None:
    """Within a day either side of each clock change, the module works the reference's minutes, counts
    them, and places due times where the reference does."""
    calendar = Calendar(ZoneInfo(zone_name), intervals)
    start, end = transition - DAY, transition + DAY
    worked = [minute for minute in utc_minutes(start, end) if reference_is_working(calendar, minute)]
    module_worked = [minute for a, b in working_periods(calendar, start, end) for minute in utc_minutes(a, b)]
    assert module_worked == worked
    assert business_seconds_between(calendar, start, end) == 60.0 * len(worked)
    for target in sorted({1, *range(1, len(worked) + 1, 29), len(worked)}):
        assert add_business_time(calendar, start, target * 60) == worked[target - 1] + MINUTE


# --- Worked cases --------------------------------------------------------------------------------------

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE_HOURS = Calendar(SAIGON, shifts(MONDAY_TO_FRIDAY, ("09:00", "17:00")))
HOUR = 3600


def test_a_target_left_on_friday_afternoon_runs_out_on_monday_morning() -> None:
    """Friday 16:30 + 1 h on a 09:00-17:00 week: 30 min on Friday, 30 min on Monday."""
    friday_afternoon = at(SAIGON, 2025, 3, 7, 16, 30)
    assert add_business_time(OFFICE_HOURS, friday_afternoon, HOUR) == at(SAIGON, 2025, 3, 10, 9, 30)


def test_a_ticket_created_on_a_holiday_starts_counting_at_the_next_working_minute() -> None:
    """Created on a holiday Wednesday at 10:00 with a 30 min target: due Thursday 09:30."""
    calendar = Calendar(SAIGON, OFFICE_HOURS.intervals, frozenset({date(2025, 3, 5)}))
    assert add_business_time(calendar, at(SAIGON, 2025, 3, 5, 10), 30 * 60) == at(SAIGON, 2025, 3, 6, 9, 30)


def test_a_split_shift_skips_the_lunch_break() -> None:
    """08:00-12:00 and 13:30-17:30: 11:30 + 1 h is 30 min before lunch and 30 min after, so 14:00."""
    calendar = Calendar(SAIGON, shifts(MONDAY_TO_FRIDAY, ("08:00", "12:00"), ("13:30", "17:30")))
    assert add_business_time(calendar, at(SAIGON, 2025, 3, 5, 11, 30), HOUR) == at(SAIGON, 2025, 3, 5, 14)
    assert business_seconds_between(calendar, at(SAIGON, 2025, 3, 5), at(SAIGON, 2025, 3, 6)) == 8 * HOUR


def test_a_night_shift_belongs_to_the_day_it_starts_on() -> None:
    """Friday 22:00-06:00 runs into Saturday: Saturday 05:00 + 2 h uses its last hour, then the next
    interval (Monday 09:00). A holiday on Friday removes the whole shift; one on Saturday does not."""
    intervals = (*OFFICE_HOURS.intervals, *shifts([4], ("22:00", "06:00")))
    saturday_early = at(SAIGON, 2025, 3, 8, 5)
    monday_ten = at(SAIGON, 2025, 3, 10, 10)
    assert add_business_time(Calendar(SAIGON, intervals), saturday_early, 2 * HOUR) == monday_ten
    saturday_off = Calendar(SAIGON, intervals, frozenset({date(2025, 3, 8)}))
    assert add_business_time(saturday_off, saturday_early, 2 * HOUR) == monday_ten
    friday_off = Calendar(SAIGON, intervals, frozenset({date(2025, 3, 7)}))
    assert add_business_time(friday_off, saturday_early, 2 * HOUR) == at(SAIGON, 2025, 3, 10, 11)


def test_a_target_that_runs_out_at_the_end_of_a_period_is_due_at_that_end() -> None:
    """16:00 + 1 h on a 09:00-17:00 day is due at 17:00 the same day, not at 09:00 the next."""
    assert add_business_time(OFFICE_HOURS, at(SAIGON, 2025, 3, 5, 16), HOUR) == at(SAIGON, 2025, 3, 5, 17)


def test_nothing_to_count_returns_the_start() -> None:
    """A zero or negative amount is due at the start, even outside working hours."""
    saturday = at(SAIGON, 2025, 3, 8, 12)
    assert add_business_time(OFFICE_HOURS, saturday, 0) == saturday
    assert add_business_time(OFFICE_HOURS, saturday, -HOUR) == saturday


def test_nothing_to_count_is_due_at_the_start_even_during_a_pause() -> None:
    """Zero seconds have been counted at `start`, so due_with_pauses is due there as add_business_time is,
    whether or not a pause holds the clock at that moment.

    Fails until fixed: the module returns the end of the pause (here 04:00 UTC, not 03:00), and does so
    only when the pause begins at or before `start`; a pause beginning a minute later gives `start`."""
    start = datetime(2025, 3, 5, 3, 0, tzinfo=UTC)
    pause = (start, start + timedelta(hours=1))
    assert due_with_pauses(None, start, 0, [(start + MINUTE, start + timedelta(hours=1))]) == start
    assert due_with_pauses(None, start, 0, [pause]) == start
    assert due_with_pauses(OFFICE_HOURS, start, 0, [pause]) == start


def test_calendar_time_ignores_working_hours() -> None:
    """add_calendar_time counts every second: nights, weekends and holidays."""
    friday_afternoon = at(SAIGON, 2025, 3, 7, 16, 30)
    assert add_calendar_time(friday_afternoon, HOUR) == at(SAIGON, 2025, 3, 7, 17, 30)
    assert add_calendar_time(friday_afternoon, 3 * 24 * HOUR) == at(SAIGON, 2025, 3, 10, 16, 30)
    assert elapsed_with_pauses(None, friday_afternoon, at(SAIGON, 2025, 3, 10, 16, 30), []) == 3 * 24 * HOUR


def test_a_pause_moves_the_due_time_by_the_business_time_it_held() -> None:
    """Monday 09:00 + 4 h is due 13:00; a pause 10:00-11:00 makes it 14:00, and a pause from Monday 16:00
    to Tuesday 10:00, which holds 2 h of business time, moves a 10 h target from Tuesday 11:00 to 13:00."""
    monday_nine = at(SAIGON, 2025, 3, 10, 9)
    morning_pause = (at(SAIGON, 2025, 3, 10, 10), at(SAIGON, 2025, 3, 10, 11))
    assert due_with_pauses(OFFICE_HOURS, monday_nine, 4 * HOUR, []) == at(SAIGON, 2025, 3, 10, 13)
    paused_due = due_with_pauses(OFFICE_HOURS, monday_nine, 4 * HOUR, [morning_pause])
    assert paused_due == at(SAIGON, 2025, 3, 10, 14)

    overnight_pause = (at(SAIGON, 2025, 3, 10, 16), at(SAIGON, 2025, 3, 11, 10))
    assert business_seconds_between(OFFICE_HOURS, *overnight_pause) == 2 * HOUR
    assert add_business_time(OFFICE_HOURS, monday_nine, 10 * HOUR) == at(SAIGON, 2025, 3, 11, 11)
    paused_overnight_due = due_with_pauses(OFFICE_HOURS, monday_nine, 10 * HOUR, [overnight_pause])
    assert paused_overnight_due == at(SAIGON, 2025, 3, 11, 13)
    end_of_tuesday = at(SAIGON, 2025, 3, 11, 17)
    assert elapsed_with_pauses(OFFICE_HOURS, monday_nine, end_of_tuesday, [overnight_pause]) == 14 * HOUR


def test_new_york_spring_forward() -> None:
    """On 9 March 2025 clocks in New York jump from 02:00 to 03:00: the day has 23 working hours around the
    clock, 01:00-04:00 holds only 2 h, and 01:30 + 1 h on that shift is 03:30 (EDT, 07:30 UTC)."""
    around_the_clock = Calendar(NEW_YORK, AROUND_THE_CLOCK)
    day_start, day_end = at(NEW_YORK, 2025, 3, 9), at(NEW_YORK, 2025, 3, 10)
    assert business_seconds_between(around_the_clock, day_start, day_end) == 23 * HOUR

    early_hours = Calendar(NEW_YORK, shifts(EVERY_DAY, ("01:00", "04:00")))
    assert business_seconds_between(early_hours, day_start, day_end) == 2 * HOUR
    due = add_business_time(early_hours, at(NEW_YORK, 2025, 3, 9, 1, 30), HOUR)
    assert due == datetime(2025, 3, 9, 7, 30, tzinfo=UTC) == at(NEW_YORK, 2025, 3, 9, 3, 30)


def test_new_york_fall_back() -> None:
    """On 2 November 2025 clocks in New York go back from 02:00 to 01:00: the day has 25 hours, 01:00-02:00
    is worked twice, and 01:30 EDT + 1 h on that shift is 01:30 EST (06:30 UTC); 09:00-17:00 is still 8 h."""
    day_start, day_end = at(NEW_YORK, 2025, 11, 2), at(NEW_YORK, 2025, 11, 3)
    assert business_seconds_between(Calendar(NEW_YORK, AROUND_THE_CLOCK), day_start, day_end) == 25 * HOUR

    repeated_hour = Calendar(NEW_YORK, shifts(EVERY_DAY, ("01:00", "02:00")))
    assert business_seconds_between(repeated_hour, day_start, day_end) == 2 * HOUR
    due = add_business_time(repeated_hour, at(NEW_YORK, 2025, 11, 2, 1, 30), HOUR)
    assert due == datetime(2025, 11, 2, 6, 30, tzinfo=UTC) == at(NEW_YORK, 2025, 11, 2, 1, 30, fold=1)

    office = Calendar(NEW_YORK, shifts(EVERY_DAY, ("09:00", "17:00")))
    assert business_seconds_between(office, day_start, day_end) == 8 * HOUR


def test_a_calendar_without_working_time_within_the_horizon_has_no_due_time() -> None:
    """One hour a week, with every one of those days a holiday for longer than the horizon: None."""
    first_monday = date(2025, 3, 3)
    mondays = frozenset(first_monday + week * timedelta(weeks=1) for week in range(HORIZON.days // 7 + 10))
    calendar = Calendar(SAIGON, shifts([0], ("09:00", "10:00")), mondays)
    assert add_business_time(calendar, at(SAIGON, 2025, 3, 1), HOUR) is None
    assert due_with_pauses(calendar, at(SAIGON, 2025, 3, 1), HOUR, []) is None


def test_naive_datetimes_are_refused() -> None:
    """Business time needs aware datetimes."""
    with pytest.raises(ValueError, match="aware"):
        business_seconds_between(OFFICE_HOURS, datetime(2025, 3, 5, 9), datetime(2025, 3, 5, 17))
    with pytest.raises(ValueError, match="aware"):
        add_business_time(OFFICE_HOURS, datetime(2025, 3, 5, 9), HOUR)
