"""The clock of one SLA metric of one ticket: what happens to it, and when it is due.

Counted time accrues in `elapsed_seconds` up to `running_since`, in the target's time: business seconds
of a calendar, or every second. While the clock runs, the due time is where the rest of the target
falls from `running_since`; pausing folds the running stretch into `elapsed_seconds`, so a pause moves
the due time by exactly the time it held the clock.
"""

from dataclasses import dataclass
from datetime import datetime

from app.calendars.business_time import (
    Calendar,
    add_business_time,
    add_calendar_time,
    business_seconds_between,
)
from app.models import TicketSla
from app.models.enums import SlaState


@dataclass(frozen=True, slots=True)
class TimeBase:
    """Business time of a calendar, or calendar time when there is none."""

    calendar: Calendar | None

    def between(self, start: datetime, end: datetime) -> float:
        if self.calendar is None:
            return max(0.0, (end - start).total_seconds())
        return business_seconds_between(self.calendar, start, end)

    def add(self, start: datetime, seconds: float) -> datetime | None:
        if self.calendar is None:
            return add_calendar_time(start, seconds)
        return add_business_time(self.calendar, start, seconds)


@dataclass(frozen=True, slots=True)
class WarningLead:
    """When the warning goes out: at a share of the target, or some minutes before the due time."""

    percent: int | None = None
    minutes_before: int | None = None

    def threshold(self, target_seconds: float) -> float | None:
        """The counted seconds at which to warn; None: no warning."""
        if self.percent is not None:
            return target_seconds * self.percent / 100
        if self.minutes_before is not None:
            return max(0.0, target_seconds - self.minutes_before * 60)
        return None


def elapsed(clock: TicketSla, base: TimeBase, now: datetime) -> float:
    """Seconds counted so far in the current cycle."""
    if clock.running_since is None:
        return clock.elapsed_seconds
    return clock.elapsed_seconds + base.between(clock.running_since, now)


def start(clock: TicketSla, base: TimeBase, warning: WarningLead, now: datetime, *, paused: bool) -> None:
    """A new cycle from `now`: nothing counted, nothing announced yet."""
    clock.started_at = now
    clock.elapsed_seconds = 0.0
    clock.warned_at = clock.breached_at = clock.fulfilled_at = None
    clock.state = SlaState.paused if paused else SlaState.running
    clock.running_since = None if paused else now
    schedule(clock, base, warning)


def pause(clock: TicketSla, base: TimeBase, warning: WarningLead, now: datetime) -> None:
    if clock.state is SlaState.running:
        _fold(clock, base, now)
        clock.state = SlaState.paused
        schedule(clock, base, warning)


def resume(clock: TicketSla, base: TimeBase, warning: WarningLead, now: datetime) -> None:
    if clock.state is SlaState.paused:
        clock.state = SlaState.running
        clock.running_since = now
        schedule(clock, base, warning)


def fulfil(clock: TicketSla, base: TimeBase, warning: WarningLead, now: datetime) -> None:
    if clock.state in (SlaState.running, SlaState.paused):
        _fold(clock, base, now)
        clock.state = SlaState.fulfilled
        clock.fulfilled_at = now
        clock.cycles_fulfilled += 1
        schedule(clock, base, warning)


def cancel(clock: TicketSla, base: TimeBase, warning: WarningLead, now: datetime) -> None:
    """No longer due (the ticket was solved before any reply, or merged away): neither met nor missed."""
    if clock.state in (SlaState.running, SlaState.paused):
        _fold(clock, base, now)
        clock.state = SlaState.cancelled
        schedule(clock, base, warning)


def reopen(clock: TicketSla, base: TimeBase, warning: WarningLead, now: datetime, *, paused: bool) -> None:
    """A met metric due again (a solved ticket reopened): it goes on counting from where it stopped."""
    if clock.state is SlaState.fulfilled:
        clock.cycles_fulfilled -= 1
        clock.fulfilled_at = None
    if clock.state in (SlaState.fulfilled, SlaState.cancelled):
        clock.state = SlaState.paused if paused else SlaState.running
        clock.running_since = None if paused else now
        schedule(clock, base, warning)


def retarget(clock: TicketSla, old: TimeBase, new: TimeBase, warning: WarningLead, now: datetime) -> None:
    """The target (or the time it counts in) changed: what was counted stays, the rest counts anew."""
    if clock.state is SlaState.running:
        _fold(clock, old, now)
        clock.running_since = now
    schedule(clock, new, warning)


def schedule(clock: TicketSla, base: TimeBase, warning: WarningLead) -> None:
    """The due time, the warning time, and the next moment a worker has something to announce."""
    if clock.state is not SlaState.running or clock.running_since is None:
        clock.due_at = clock.warn_at = clock.next_check_at = None
        return
    since = clock.running_since
    clock.due_at = base.add(since, max(0.0, clock.target_seconds - clock.elapsed_seconds))
    threshold = warning.threshold(clock.target_seconds)
    clock.warn_at = (
        None if threshold is None else base.add(since, max(0.0, threshold - clock.elapsed_seconds))
    )
    pending = [
        moment
        for moment, announced in ((clock.warn_at, clock.warned_at), (clock.due_at, clock.breached_at))
        if moment is not None and announced is None
    ]
    clock.next_check_at = min(pending, default=None)


def _fold(clock: TicketSla, base: TimeBase, now: datetime) -> None:
    if clock.running_since is not None:
        clock.elapsed_seconds += base.between(clock.running_since, now)
        clock.running_since = None
