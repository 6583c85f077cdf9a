"""The worker: runs the jobs the domains declare (`app.worker.jobs`) until it is told to stop.

Any number of workers share one database: jobs claim work with FOR UPDATE SKIP LOCKED, wake on
LISTEN/NOTIFY and poll besides (a notification sent while no one listens is lost), and what a worker
that died held is taken over when its lease ends. A worker told to stop starts no new round; rounds
under way get the grace period to finish (a message being threaded would otherwise be rolled back), and
services wind down (webhook deliveries in flight finish within the grace period, the rest is given back).
Every line a job logs names it (`job`).
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence

import asyncpg
from sqlalchemy.engine import make_url

from app.assembly import assemble
from app.config import Settings
from app.db import Database
from app.kit import metrics
from app.kit.crypto import SecretBox
from app.kit.jobs import Job, PeriodicJob, Service, Wake, log_failure, wait_at_most
from app.kit.logs import log_context
from app.kit.outbound import outbound_client
from app.kit.tracing import ended_round, round_span, span
from app.worker.health import WorkerHealth
from app.worker.jobs import declared_jobs

logger = logging.getLogger(__name__)

# Connections of the HTTP client the jobs share (replies sent, files that messages link to downloaded).
JOBS_CLIENT_CONNECTIONS = 16


class Worker:
    def __init__(self, db: Database, listen_url: str, settings: Settings, secret_box: SecretBox) -> None:
        """`listen_url`: PostgreSQL itself, for LISTEN (not through a transaction-pooling PgBouncer)."""
        assemble()
        self.db = db
        self.listen_url = listen_url
        self.settings = settings
        self.secret_box = secret_box

    async def run(self, stopping: asyncio.Event, health: WorkerHealth | None = None) -> None:
        """Run every declared job until `stopping` is set, then let them finish."""
        async with outbound_client(JOBS_CLIENT_CONNECTIONS) as client:
            jobs = declared_jobs(self.db, self.settings, self.secret_box, client, stopping)
            await run_jobs(jobs, self.listen_url, self.settings, stopping, health)


async def run_jobs(
    jobs: Sequence[Job],
    listen_url: str,
    settings: Settings,
    stopping: asyncio.Event,
    health: WorkerHealth | None = None,
) -> None:
    """Run `jobs` until `stopping` is set: each copy of each periodic job in a loop of its own, each
    service once; then give rounds under way the grace period, and wait for the services to wind down.
    `health` follows the loops and services (for the worker's /readyz)."""
    health = health or WorkerHealth(settings.worker)
    wakes = [job.wake for job in jobs if job.wake is not None]
    listening = asyncio.create_task(_listen(listen_url, wakes, settings.worker.poll_seconds, stopping))
    loops = [
        asyncio.create_task(_repeat(job, _loop_name(job, copy), health, stopping))
        for job in jobs
        if isinstance(job, PeriodicJob)
        for copy in range(job.concurrency)
    ]
    services = []
    for job in jobs:
        if isinstance(job, Service):
            services.append(asyncio.create_task(_serve(job, stopping)))
            health.service_started(job.name, services[-1])
    await stopping.wait()
    for wake in wakes:
        wake.event.set()  # idle loops see at once that the worker stops
    # Services bound their own winding down: the delivery scheduler gives back what it holds at the end.
    finishing = [asyncio.wait(loops, timeout=settings.worker.shutdown_grace_seconds)] if loops else []
    if services:
        finishing.append(asyncio.wait(services))
    await asyncio.gather(*finishing)
    for task in (listening, *loops, *services):
        task.cancel()
    await asyncio.gather(listening, *loops, *services, return_exceptions=True)


def _loop_name(job: PeriodicJob, copy: int) -> str:
    return job.name if job.concurrency == 1 else f"{job.name}[{copy}]"


async def _repeat(job: PeriodicJob, loop: str, health: WorkerHealth, stopping: asyncio.Event) -> None:
    woken = job.wake.event if job.wake is not None else stopping
    with log_context(job=job.name):
        while not stopping.is_set():
            if job.wake is not None:
                job.wake.event.clear()
            health.round_started(loop)
            try:
                with round_span(job.name) as current:
                    did_work = await job.run_once()
                    ended_round(current, did_work)
                if did_work:
                    continue
            except Exception:
                metrics.WORKER_JOB_FAILURES.labels(job.name).inc()
                log_failure(logger, "%s failed", job.name)
            finally:
                metrics.WORKER_JOB_ROUNDS.labels(job.name).inc()
            health.waiting(loop, job.interval_seconds)
            await wait_at_most(job.interval_seconds, woken)


async def _serve(service: Service, stopping: asyncio.Event) -> None:
    with log_context(job=service.name):
        metrics.WORKER_JOB_ROUNDS.labels(service.name).inc()  # a service's one run, counted as it starts
        try:
            with span(service.name):
                await service.run(stopping)
        except Exception:
            metrics.WORKER_JOB_FAILURES.labels(service.name).inc()
            log_failure(logger, "%s failed", service.name)


async def _listen(listen_url: str, wakes: list[Wake], poll_seconds: float, stopping: asyncio.Event) -> None:
    """Set each wake's event on notifications on its channel, listening again after a lost connection.

    LISTEN holds its connection for as long as it listens: a connection of its own, to PostgreSQL
    itself (a transaction-pooling PgBouncer would hand the server connection to others after the LISTEN).
    """
    url = make_url(listen_url).set(drivername="postgresql").render_as_string(hide_password=False)
    events: defaultdict[str, list[asyncio.Event]] = defaultdict(list)
    for wake in wakes:
        events[wake.channel].append(wake.event)
    while not stopping.is_set():
        try:
            connection = await asyncpg.connect(url)
            for channel, woken in events.items():
                await connection.add_listener(channel, _setter(woken))
            try:
                while not stopping.is_set() and not connection.is_closed():
                    await wait_at_most(poll_seconds, stopping)
            finally:
                await connection.close()
        except Exception as error:
            # The connection failed or was lost (a database restart): poll, and listen again.
            logger.warning("listening for notifications failed, polling meanwhile: %r", error)
            await wait_at_most(poll_seconds, stopping)


def _setter(events: list[asyncio.Event]) -> Callable[..., None]:
    def notified(*_: object) -> None:
        for event in events:
            event.set()

    return notified
