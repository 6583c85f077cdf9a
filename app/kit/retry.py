"""How long to wait before trying again what failed, and when to give up."""

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetrySchedule:
    # The wait after the first failed attempt, after the second, and so on; then no more attempts.
    delays: tuple[timedelta, ...]
    # Each wait is drawn within this fraction either side of its delay, so that what failed together
    # is not tried again all at once.
    jitter: float = 0.0
    # How long a provider's Retry-After may put the next attempt off (None: Retry-After is not honoured).
    max_retry_after: timedelta | None = None

    def delay_after(self, failed_attempts: int, retry_after: timedelta | None = None) -> timedelta | None:
        """The wait after `failed_attempts` failed attempts; None once they are all used up."""
        if failed_attempts > len(self.delays):
            return None
        delay = self.delays[failed_attempts - 1]
        if self.jitter:
            delay *= random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - jitter, not security
        if retry_after is not None and self.max_retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay
