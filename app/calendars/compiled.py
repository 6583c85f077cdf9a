"""Business calendars as stored (JSON hours and holidays) turned into what business time is counted in."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from app.calendars.business_time import MINUTES_PER_DAY, Calendar, Interval
from app.models import BusinessCalendar

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def minute_of_day(clock: str) -> int:
    """ "08:30" → 510; "24:00" → 1440."""
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def interval_of(hours: dict[str, str]) -> Interval:
    start = minute_of_day(hours["start"])
    end = minute_of_day(hours["end"])
    # An end not after the start is on the next day: "22:00"-"06:00" is a night shift.
    minutes = end - start if end > start else end + MINUTES_PER_DAY - start
    return Interval(WEEKDAYS.index(hours["day"]), start, minutes)


def holiday_dates(holidays: list[dict[str, str]]) -> frozenset[date]:
    dates: set[date] = set()
    for holiday in holidays:
        first = date.fromisoformat(holiday["start"])
        last = date.fromisoformat(holiday.get("end") or holiday["start"])
        dates.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return frozenset(dates)


def calendar_of(row: BusinessCalendar) -> Calendar:
    return Calendar(
        ZoneInfo(row.time_zone), tuple(interval_of(hours) for hours in row.hours), holiday_dates(row.holidays)
    )
