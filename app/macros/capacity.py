"""Where macro templates render: in processes of their own, a bounded number at a time.

A template may compute for up to `MAX_RENDER_SECONDS`. In a thread of the API process it would
contend for the GIL with the event loop, which every other request of the process waits on; in a
process of its own it only takes a core. Each API or worker process renders at most
`render_concurrency` templates at a time, and at most `render_concurrency_per_workspace` of them for
one workspace, so that one business cannot take them all.

A render waits a moment for a slot. A request is then refused, with Retry-After: 429 when its
workspace already renders its share, 503 when the process renders all it can. Renders made by
triggers wait longer, since the change that fired them is under way; after that the trigger fails,
which its ticket's history says.
"""

import asyncio
import contextlib
import multiprocessing
import os
import select
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar
from uuid import UUID

from app.config import MacroSettings
from app.errors import AppError

T = TypeVar("T")

# Long enough for the renders ahead to end in the common case (a few milliseconds each), short
# enough not to hold the request's database connection while slow templates run.
REQUEST_WAIT_SECONDS = 0.1
AUTOMATION_WAIT_SECONDS = 5.0
RETRY_AFTER_SECONDS = 1
RENDER_NICENESS = 10


class WorkspaceRendersBusy(AppError):
    status = 429
    code = "renders_busy"
    title = "Too many requests"


class RendersUnavailable(AppError):
    status = 503
    code = "renders_unavailable"
    title = "Service unavailable"


def _retry_later() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


class RenderCapacity:
    """The render slots of this process and the processes that render in them."""

    def __init__(self, per_process: int, per_workspace: int) -> None:
        self.per_process = per_process
        self.per_workspace = min(per_workspace, per_process)
        self.rendering: Counter[UUID] = Counter()
        self._freed = asyncio.Event()
        self._pool: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()

    async def run(self, workspace_id: UUID, wait_seconds: float, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in a render process, in one of the workspace's slots."""
        await self._take(workspace_id, wait_seconds)
        loop = asyncio.get_running_loop()
        # Starting a render process takes a moment (the first one starts the server they are forked
        # from): not on the event loop.
        work = await asyncio.to_thread(self._submit, loop, workspace_id, function, *args)
        try:
            return await asyncio.wrap_future(work)
        except BrokenProcessPool as exc:
            raise self._unavailable() from exc

    async def _take(self, workspace_id: UUID, wait_seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while (refusal := self._refusal(workspace_id)) is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise refusal
            freed = self._freed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(freed.wait(), remaining)
        self.rendering[workspace_id] += 1

    def _refusal(self, workspace_id: UUID) -> AppError | None:
        if self.rendering[workspace_id] >= self.per_workspace:
            return WorkspaceRendersBusy(
                "This workspace is rendering as many macros as it may at once; retry shortly",
                headers=_retry_later(),
            )
        if self.rendering.total() >= self.per_process:
            return self._unavailable()
        return None

    def _unavailable(self) -> RendersUnavailable:
        return RendersUnavailable(
            "The service is rendering as many macros as it can at once; retry shortly", headers=_retry_later()
        )

    def _give_back(self, workspace_id: UUID) -> None:
        self.rendering[workspace_id] -= 1
        if self.rendering[workspace_id] <= 0:
            del self.rendering[workspace_id]
        # Wake every waiter; those that still find no room wait on the next event.
        self._freed.set()
        self._freed = asyncio.Event()

    def stop(self) -> None:
        with self._starting:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def _submit(
        self, loop: asyncio.AbstractEventLoop, workspace_id: UUID, function: Callable[..., T], *args: Any
    ) -> "Future[T]":
        """The render, submitted; its slot is given back when it ends, whoever still waits for it."""
        try:
            with self._starting:
                work = self._pool_submit(function, *args)
        except BaseException:
            loop.call_soon_threadsafe(self._give_back, workspace_id)
            raise
        work.add_done_callback(lambda _: loop.call_soon_threadsafe(self._give_back, workspace_id))
        return work

    def _pool_submit(self, function: Callable[..., T], *args: Any) -> "Future[T]":
        if self._pool is not None:
            try:
                return self._pool.submit(function, *args)
            except BrokenProcessPool:
                # A render process died (killed, out of memory): the pool cannot be used again.
                self._pool.shutdown(wait=False, cancel_futures=True)
        # Forked from a server process that has only the template engine loaded, not from this
        # process with its threads, connections and event loop.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, "app.macros.rendering"])
        self._pool = ProcessPoolExecutor(
            self.per_process, mp_context=context, initializer=_start_render_process, initargs=(os.getpid(),)
        )
        return self._pool.submit(function, *args)


def _start_render_process(service_pid: int) -> None:
    # Where cores are short, the operating system runs the service's requests before a template.
    os.nice(RENDER_NICENESS)
    # Ctrl-C reaches the whole process group: the service stops its render processes itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A service process that does not shut its pool down (killed, or a server's worker process ending
    # with os._exit) would leave its render processes waiting for work forever: they end with it.
    threading.Thread(target=_exit_after, args=(service_pid,), daemon=True).start()


def _exit_after(pid: int) -> None:
    if hasattr(os, "pidfd_open"):
        with contextlib.suppress(ProcessLookupError):
            select.select([os.pidfd_open(pid)], [], [])
    else:
        with contextlib.suppress(ProcessLookupError):
            while True:
                os.kill(pid, 0)
                time.sleep(1)
    os._exit(0)


def render_capacity(settings: MacroSettings) -> RenderCapacity:
    """The process's render capacity."""
    # One per pair of limits: a process is configured once (the tests' processes aside).
    limits = (settings.render_concurrency, settings.render_concurrency_per_workspace)
    if limits not in _CAPACITIES:
        _CAPACITIES[limits] = RenderCapacity(*limits)
    return _CAPACITIES[limits]


def stop_render_processes() -> None:
    """End this process's render processes once the renders under way are done."""
    for capacity in _CAPACITIES.values():
        capacity.stop()


_CAPACITIES: dict[tuple[int, int], RenderCapacity] = {}
