"""Hearing early that the process is told to stop."""

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def on_exit_signals(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` in the running event loop when SIGTERM or SIGINT arrives, then the handler the
    server installed. The server only begins its shutdown then, and waits for open responses to end
    before it tells the application: responses that never end on their own (live streams) need
    hearing of it first.

    Signals a server does not handle (no Python handler installed) are left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Callable[[int, FrameType | None], Any]] = {}

    def heard(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        previous[signum](signum, frame)

    for signum in EXIT_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = handler
            signal.signal(signum, heard)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
