"""The retry schedule the webhook deliveries, channel replies and inbound threading share."""

from datetime import timedelta

from app.kit.retry import RetrySchedule

DELAYS = (timedelta(seconds=5), timedelta(minutes=5), timedelta(hours=1))


def test_each_failure_waits_its_delay_then_the_attempts_run_out() -> None:
    schedule = RetrySchedule(DELAYS)
    assert [schedule.delay_after(failed) for failed in (1, 2, 3)] == list(DELAYS)
    assert schedule.delay_after(4) is None
    assert schedule.delay_after(40) is None


def test_jitter_stays_within_its_fraction() -> None:
    schedule = RetrySchedule(DELAYS, jitter=0.1)
    waits = {schedule.delay_after(2) for _ in range(200)}
    assert all(timedelta(minutes=4.5) <= wait <= timedelta(minutes=5.5) for wait in waits if wait is not None)
    assert len(waits) > 1, "the waits are spread"


def test_retry_after_puts_the_attempt_off_up_to_the_maximum() -> None:
    schedule = RetrySchedule(DELAYS, max_retry_after=timedelta(hours=2))
    assert schedule.delay_after(1, retry_after=timedelta(minutes=10)) == timedelta(minutes=10)
    assert schedule.delay_after(1, retry_after=timedelta(days=3)) == timedelta(hours=2)
    assert schedule.delay_after(3, retry_after=timedelta(seconds=1)) == timedelta(hours=1), "never sooner"
    assert schedule.delay_after(4, retry_after=timedelta(seconds=1)) is None


def test_retry_after_is_not_honoured_without_a_maximum() -> None:
    assert RetrySchedule(DELAYS).delay_after(1, retry_after=timedelta(hours=1)) == timedelta(seconds=5)
