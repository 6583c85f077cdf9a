"""Business time: working hours in a time zone, with days off; how much of it lies between two instants,
and when a given amount of it will have passed.

Pure functions over aware datetimes, exact to the second. The hours are wall-clock hours: "08:00-12:00"
means while clocks on the wall read 08:00 to 12:00, so a working morning on the night clocks go forward
is shorter and on the night they go back longer, and a local time that does not exist is never worked.
An interval belongs to the day it starts on: "22:00-06:00" on Friday runs into Saturday morning, and a
holiday on Friday removes it while a holiday on Saturday does not.
"""

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
# Beyond this, a calendar is taken to have no working time left (e.g. every day a holiday).
HORIZON = timedelta(days=5 * 366)


@dataclass(frozen=True, slots=True)
class Interval:
    """Working time each week: from `start_minute` after local midnight of `weekday` (0 is Monday), for
    `minutes` (at most a day)."""

    weekday: int
    start_minute: int
    minutes: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if not 0 <= self.start_minute < MINUTES_PER_DAY:
            raise ValueError("start_minute must be within the day")
        if not 0 < self.minutes <= MINUTES_PER_DAY:
            raise ValueError("an interval lasts more than nothing and at most a day")


@dataclass(frozen=True, slots=True)
class Calendar:
    zone: ZoneInfo
    intervals: tuple[Interval, ...]
    holidays: frozenset[date] = frozenset()

    def intervals_on(self, day: date) -> Iterator[Interval]:
        if day in self.holidays:
            return
        weekday = day.weekday()
        for interval in self.intervals:
            if interval.weekday == weekday:
                yield interval


def working_periods(
    calendar: Calendar, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The working time within [start, end) as UTC ranges, in order and without overlap."""
    _check_aware(start, end)
    if end <= start:
        return
    merged: list[tuple[datetime, datetime]] = []
    for period_start, period_end in sorted(_periods_between(calendar, start, end)):
        if merged and period_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], period_end))
        else:
            merged.append((period_start, period_end))
    yield from merged


def business_seconds_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Working seconds in [start, end); 0 when end is not after start."""
    return sum((b - a).total_seconds() for a, b in working_periods(calendar, start, end))


def add_business_time(calendar: Calendar, start: datetime, seconds: float) -> datetime | None:
    """The instant at which `seconds` of working time have passed since `start`; None if that is beyond
    the horizon (a calendar without working time). When the amount runs out exactly at the end of a
    working period, that end is the answer: a 1 h target from 16:00 on a 9-17 day is due at 17:00."""
    _check_aware(start)
    if seconds <= 0:
        return start
    remaining = seconds
    window = timedelta(days=7)
    cursor = start
    while cursor - start < HORIZON:
        for period_start, period_end in working_periods(calendar, cursor, cursor + window):
            length = (period_end - period_start).total_seconds()
            if length >= remaining:
                return period_start + timedelta(seconds=remaining)
            remaining -= length
        cursor += window
    return None


def add_calendar_time(start: datetime, seconds: float) -> datetime:
    """Calendar time: every second counts, day or night, weekday or holiday."""
    _check_aware(start)
    return start + timedelta(seconds=seconds)


def elapsed_with_pauses(
    calendar: Calendar | None, start: datetime, end: datetime, pauses: Sequence[tuple[datetime, datetime]]
) -> float:
    """Seconds counted in [start, end) outside the pauses; business seconds with a calendar, every
    second without one. Pauses may overlap each other and the edges."""
    counted = 0.0
    for a, b in _subtract(start, end, pauses):
        counted += business_seconds_between(calendar, a, b) if calendar else (b - a).total_seconds()
    return counted


def due_with_pauses(
    calendar: Calendar | None, start: datetime, seconds: float, pauses: Sequence[tuple[datetime, datetime]]
) -> datetime | None:
    """When `seconds` will have been counted since `start`, not counting the pauses (which must be known
    in full, e.g. past ones, or a pause known to end). Nothing to count is due at `start`."""
    if seconds <= 0:
        return start
    remaining = seconds
    cursor = start
    for pause_start, pause_end in _merge(pauses):
        if pause_end <= cursor:
            continue
        if pause_start > cursor:
            stretch = elapsed_with_pauses(calendar, cursor, pause_start, ())
            if stretch >= remaining:
                break
            remaining -= stretch
        cursor = max(cursor, pause_end)
    return (
        add_business_time(calendar, cursor, remaining) if calendar else add_calendar_time(cursor, remaining)
    )


def _periods_between(
    calendar: Calendar, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    zone = calendar.zone
    # An interval can start on the local day before `start` and run into it.
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    day = first
    while day <= last:
        for a, b in _periods_on(calendar, day):
            a, b = max(a, start), min(b, end)
            if a < b:
                yield a, b
        day += timedelta(days=1)


@functools.lru_cache(maxsize=8192)
def _periods_on(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The working time of the intervals starting on a local day, as UTC ranges: the same for every
    clock counted over that day, so worked out once."""
    periods = []
    for interval in calendar.intervals_on(day):
        wall_start = datetime.combine(day, datetime.min.time()) + timedelta(minutes=interval.start_minute)
        wall_end = wall_start + timedelta(minutes=interval.minutes)
        periods.extend(_wall_to_utc(calendar.zone, wall_start, wall_end))
    return tuple(periods)


def _wall_to_utc(
    zone: ZoneInfo, wall_start: datetime, wall_end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The UTC ranges during which wall clocks in `zone` read a time in [wall_start, wall_end) (naive).

    Between two changes of the zone's offset, wall time is UTC plus a constant, so each stretch of
    constant offset contributes at most one range."""
    a = wall_start.replace(tzinfo=zone).astimezone(UTC)
    b = wall_end.replace(tzinfo=zone).astimezone(UTC)
    offset = _offset(zone, a)
    # Usually no change of offset is anywhere near: the range is the plain conversion.
    if all(_offset(zone, instant) == offset for instant in (a - _MARGIN, b, b + _MARGIN)):
        yield a, b
        return
    window_start = (wall_start - _MAX_OFFSET).replace(tzinfo=UTC)
    window_end = (wall_end + _MAX_OFFSET).replace(tzinfo=UTC)
    for piece_start, piece_end, piece_offset in _constant_offsets(zone, window_start, window_end):
        a = max(piece_start, (wall_start - piece_offset).replace(tzinfo=UTC))
        b = min(piece_end, (wall_end - piece_offset).replace(tzinfo=UTC))
        if a < b:
            yield a, b


# More than any zone's clocks ever jump, and more than any zone's distance from UTC.
_MARGIN = timedelta(hours=3)
_MAX_OFFSET = timedelta(hours=15)


def _constant_offsets(
    zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """[start, end) cut where the zone's UTC offset changes, with the offset of each piece."""
    cursor = start
    while cursor < end:
        offset = _offset(zone, cursor)
        change = _next_change(zone, cursor, end, offset)
        yield cursor, change, offset
        cursor = change


def _next_change(zone: ZoneInfo, start: datetime, end: datetime, offset: timedelta) -> datetime:
    """The first instant after `start` and before `end` with another offset than `offset`, else `end`.

    Probes hour by hour (no zone changes its offset twice within an hour), then halves the hour down to
    the second; changes happen on whole seconds."""
    probe = start
    while probe < end:
        following = min(probe + timedelta(hours=1), end)
        if _offset(zone, following) != offset:
            low, high = probe, following
            while high - low > timedelta(seconds=1):
                middle = low + timedelta(seconds=int((high - low).total_seconds()) // 2)
                if _offset(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            return high
        probe = following
    return end


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _merge(ranges: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(r for r in ranges if r[0] < r[1]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _subtract(
    start: datetime, end: datetime, pauses: Iterable[tuple[datetime, datetime]]
) -> Iterator[tuple[datetime, datetime]]:
    cursor = start
    for a, b in _merge(pauses):
        if b <= cursor:
            continue
        if a >= end:
            break
        if a > cursor:
            yield cursor, a
        cursor = max(cursor, b)
    if cursor < end:
        yield cursor, end


def _check_aware(*instants: datetime) -> None:
    for instant in instants:
        if instant.tzinfo is None:
            raise ValueError("business time needs aware datetimes")
