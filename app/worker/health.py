"""Whether a worker is doing its work: every loop beating, every service running, the outbox moving.

A loop beats as it starts a round and as it starts to wait. It is stalled when a round has run longer
than HELPDESK_WORKER_STALLED_ROUND_SECONDS, or when a wait has outlasted its interval by that much (the
event loop itself is blocked). A service is down once its task has ended before the worker stops.
"""

import asyncio
import time
from dataclasses import dataclass

from app.config import WorkerSettings


@dataclass
class _Beat:
    at: float
    # How long the loop may stay silent after this beat.
    allowed_seconds: float


class WorkerHealth:
    def __init__(self, settings: WorkerSettings) -> None:
        self.stalled_round_seconds = settings.stalled_round_seconds
        self.max_outbox_lag_seconds = settings.ready_max_outbox_lag_seconds
        self._beats: dict[str, _Beat] = {}
        self._services: dict[str, asyncio.Task[None]] = {}

    def round_started(self, loop: str) -> None:
        self._beats[loop] = _Beat(time.monotonic(), self.stalled_round_seconds)

    def waiting(self, loop: str, interval_seconds: float) -> None:
        self._beats[loop] = _Beat(time.monotonic(), interval_seconds + self.stalled_round_seconds)

    def service_started(self, name: str, task: "asyncio.Task[None]") -> None:
        self._services[name] = task

    def stalled(self) -> list[str]:
        """The loops and services not doing their work, by name."""
        now = time.monotonic()
        stalled = [loop for loop, beat in self._beats.items() if now - beat.at > beat.allowed_seconds]
        stalled += [name for name, task in self._services.items() if task.done()]
        return sorted(stalled)

    def unready_reason(self, outbox_lag_seconds: float) -> str | None:
        """Why the worker is not doing its work, given the outbox lag read from the database."""
        if not self._beats and not self._services:
            return "the worker has not started its jobs yet"
        stalled = self.stalled()
        if stalled:
            return f"stalled or stopped: {', '.join(stalled)}"
        if outbox_lag_seconds > self.max_outbox_lag_seconds:
            return (
                f"the oldest event not yet fanned out to webhooks is {outbox_lag_seconds:.0f} s old "
                f"(more than {self.max_outbox_lag_seconds:g} s)"
            )
        return None
