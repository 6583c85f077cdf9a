"""What a domain gives the worker to run: periodic jobs, and services that run until the worker stops.

Each domain declares its own in its `jobs.py`; the worker only schedules them.
"""

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.errors import database_unavailable


@dataclass(frozen=True)
class Wake:
    """A LISTEN channel whose notifications set `event`: work is waiting."""

    channel: str
    event: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class PeriodicJob:
    """Work done in rounds. `run_once` does one and returns how much it did: after a round that did
    some, the next follows at once; otherwise after `interval_seconds`, or sooner when woken."""

    name: str
    run_once: Callable[[], Awaitable[int]]
    interval_seconds: float
    wake: Wake | None = None
    # Copies of the loop run side by side, each round of each taking its own share of the work.
    concurrency: int = 1


@dataclass(frozen=True)
class Service:
    """Work that runs until the worker stops: `run` returns once the event it is given is set, after
    winding down within the worker's shutdown grace period."""

    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]
    wake: Wake | None = None


Job = PeriodicJob | Service


def log_failure(logger: logging.Logger, message: str, *arguments: object) -> None:
    """A round of work failed: one line while the database is away (the next round tries again), the
    traceback otherwise. Called from the `except` block."""
    error = sys.exc_info()[1]
    if error is not None and database_unavailable(error):
        logger.warning(f"{message}: the database is unavailable (%s)", *arguments, type(error).__name__)
    else:
        logger.exception(message, *arguments)


async def wait_at_most(seconds: float, event: asyncio.Event) -> None:
    """Until `event` is set, or `seconds` have passed."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
