"""The stored clock of a metric, paused and resumed as statuses change, against the minute-by-minute
reference: the due time it shows after any sequence of pauses is the reference's, exactly."""

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.models import TicketSla
from app.models.enums import SlaMetric, SlaState
from app.sla import clock
from app.sla.clock import TimeBase, WarningLead
from tests.test_business_time import (
    MINUTE,
    PROPERTY_SETTINGS,
    Scenario,
    reference_due,
    reference_elapsed,
    scenarios,
    target_minutes,
)

NO_WARNING = WarningLead()


def new_clock(target: int) -> TicketSla:
    return TicketSla(
        metric=SlaMetric.first_response,
        target_seconds=target * 60,
        cycle=1,
        cycles_fulfilled=0,
        cycles_breached=0,
    )


@st.composite
def toggles(draw: st.DrawFn, start: datetime) -> list[datetime]:
    """Moments at which the ticket goes on hold, then back, then on hold… (an even count ends running)."""
    gaps = draw(st.lists(st.integers(1, 3 * 24 * 60), min_size=0, max_size=6))
    moments, moment = [], start
    for gap in gaps:
        moment += gap * MINUTE
        moments.append(moment)
    return moments if len(moments) % 2 == 0 else moments[:-1]


@PROPERTY_SETTINGS
@given(scenario=scenarios(), with_calendar=st.booleans(), data=st.data())
def test_a_paused_and_resumed_clock_is_due_when_the_reference_says(
    scenario: Scenario, with_calendar: bool, data: st.DataObject
) -> None:
    calendar = scenario.calendar if with_calendar else None
    base = TimeBase(calendar)
    target = data.draw(target_minutes(scenario.calendar))
    moments = data.draw(toggles(scenario.start))
    metric = new_clock(target)
    clock.start(metric, base, NO_WARNING, scenario.start, paused=False)
    pauses = list(zip(moments[::2], moments[1::2], strict=True))
    for paused_at, resumed_at in pauses:
        clock.pause(metric, base, NO_WARNING, paused_at)
        assert metric.state is SlaState.paused and metric.due_at is None
        clock.resume(metric, base, NO_WARNING, resumed_at)
    now = moments[-1] if moments else scenario.start
    counted = reference_elapsed(calendar, scenario.start, now, pauses)
    assert clock.elapsed(metric, base, now) == counted
    if counted >= target * 60:
        assert metric.due_at == now, "already over the target: due at once"
    else:
        assert metric.due_at == reference_due(calendar, scenario.start, target, pauses)


def test_the_warning_comes_at_its_share_of_the_target() -> None:
    start = datetime.fromisoformat("2026-12-01T02:00:00+00:00")
    metric = new_clock(60)
    clock.start(metric, TimeBase(None), WarningLead(percent=80), start, paused=False)
    assert metric.warn_at == start + timedelta(minutes=48) and metric.next_check_at == metric.warn_at
    metric.warned_at = metric.warn_at
    clock.schedule(metric, TimeBase(None), WarningLead(percent=80))
    assert metric.next_check_at == start + timedelta(minutes=60), "then the breach"
