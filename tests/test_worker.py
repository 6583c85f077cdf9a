"""The worker as it runs: runs every declared job, wakes on notifications, isolates slow endpoints,
shares work, survives SIGKILL."""

import asyncio
import contextlib
import dataclasses
import random
import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.config import Settings, WorkerSettings
from app.kit.jobs import Job, PeriodicJob, Service, Wake
from app.kit.outbound import outbound_client
from app.kit.time import utcnow
from app.kit.wakeups import EVENTS_CHANNEL
from app.models import WebhookDelivery
from app.worker.health import WorkerHealth
from app.worker.jobs import declared_jobs
from app.worker.runner import Worker, run_jobs
from tests.conftest import Tenant, running_worker
from tests.factories import create_ticket, create_webhook
from tests.processes import start_worker
from tests.receiver import Behaviour, Receiver, header, payload
from tests.test_webhooks import add_backlog


def fast_settings(settings: Settings, **webhook: Any) -> Settings:
    return settings.model_copy(
        update={
            "worker": WorkerSettings(poll_seconds=0.2, lease_seconds=5, shutdown_grace_seconds=1),
            "webhook": settings.webhook.model_copy(update=webhook),
        }
    )


def counted(job: Job, runs: Counter[str]) -> Job:
    """The job, counting its rounds (a service: its start) in `runs`."""
    if isinstance(job, Service):
        run = job.run

        async def serve(stopping: asyncio.Event) -> None:
            runs[job.name] += 1
            await run(stopping)

        return dataclasses.replace(job, run=serve)
    run_once = job.run_once

    async def round() -> int:
        runs[job.name] += 1
        return await run_once()

    return dataclasses.replace(job, run_once=round)


async def until(condition: Callable[[], bool], within_seconds: float = 10) -> None:
    async with asyncio.timeout(within_seconds):
        while not condition():  # noqa: ASYNC110 - the jobs' counts announce nothing
            await asyncio.sleep(0.05)


async def test_the_worker_runs_every_job_the_domains_declare(
    app: FastAPI, database_url: str, settings: Settings
) -> None:
    configured = fast_settings(settings)
    stopping = asyncio.Event()
    runs: Counter[str] = Counter()
    async with outbound_client(2) as client:
        declared = declared_jobs(app.state.db, configured, app.state.secret_box, client, stopping)
        assert {job.name for job in declared} == {
            "dispatching events",
            "delivering webhooks",
            "assigning waiting tickets",
            "announcing SLA warnings and breaches",
            "running automations",
            "rescanning tickets for changed automations",
            "threading inbound messages",
            "sending replies",
            "fetching customers' profiles",
            "purging expired rows",
            "purging unattached uploads",
            "purging old notifications",
            "sending notification emails",
            "carrying out data requests",
            "applying retention",
            "sending access links",
            "purging expired portal tokens",
            "folding tag count changes",
        }
        running = asyncio.create_task(
            run_jobs([counted(job, runs) for job in declared], database_url, configured, stopping)
        )
        await until(lambda: set(runs) == {job.name for job in declared})
        stopping.set()
        await asyncio.wait_for(running, timeout=5)
    threading = configured.worker.inbound_concurrency
    assert runs["threading inbound messages"] >= threading, "each copy of a job runs"


async def test_mail_is_received_by_workers_told_to_listen(app: FastAPI, settings: Settings) -> None:
    listening = settings.model_copy(update={"email": settings.email.model_copy(update={"listen": True})})

    async def services(settings: Settings) -> set[str]:
        async with outbound_client(1) as client:
            jobs = declared_jobs(app.state.db, settings, app.state.secret_box, client, asyncio.Event())
        return {job.name for job in jobs if isinstance(job, Service)}

    assert await services(settings) == {"delivering webhooks"}
    assert await services(listening) == {"delivering webhooks", "receiving mail by SMTP"}


async def test_a_job_woken_by_its_channel_runs_without_waiting_for_its_interval(
    app: FastAPI, database_url: str, settings: Settings
) -> None:
    rounds: asyncio.Queue[None] = asyncio.Queue()

    async def run_once() -> int:
        rounds.put_nowait(None)
        return 0

    job = PeriodicJob("test", run_once, interval_seconds=3600, wake=Wake("helpdesk_test_wake"))
    stopping = asyncio.Event()
    running = asyncio.create_task(run_jobs([job], database_url, fast_settings(settings), stopping))
    await asyncio.wait_for(rounds.get(), timeout=10)
    # Notified until heard: a notification sent before the worker listens is lost.
    async with asyncio.timeout(10):
        while rounds.empty():
            async with app.state.db.sessionmaker() as session, session.begin():
                await session.execute(text("SELECT pg_notify('helpdesk_test_wake', '')"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rounds.get(), timeout=0.2)
                break
    stopping.set()
    await asyncio.wait_for(running, timeout=5)


async def test_every_channel_that_wakes_a_job_is_notified(app: FastAPI, settings: Settings) -> None:
    async with outbound_client(1) as client:
        declared = declared_jobs(app.state.db, settings, app.state.secret_box, client, asyncio.Event())
    channels = {job.wake.channel for job in declared if job.wake is not None}
    async with app.state.db.sessionmaker() as session:
        triggers = " ".join(
            (await session.execute(text("SELECT pg_get_triggerdef(oid) FROM pg_trigger"))).scalars()
        )
    assert len(channels) == 5
    # Events are announced by the process that committed them, after the commit (tests/test_wakeups.py).
    assert f"helpdesk_notify('{EVENTS_CHANNEL}')" not in triggers
    assert all(f"helpdesk_notify('{channel}')" in triggers for channel in channels - {EVENTS_CHANNEL})


async def test_a_hanging_endpoint_does_not_hold_up_another(
    app: FastAPI, database_url: str, settings: Settings, tenant: Tenant, receiver: Receiver
) -> None:
    await create_webhook(tenant.admin, receiver.on("/hangs", Behaviour(delay_seconds=30)))
    await create_webhook(tenant.admin, receiver.on("/quick", Behaviour()))
    configured = fast_settings(settings, timeout_seconds=20, max_in_flight_per_endpoint=2)
    async with running_worker(app, database_url, configured):
        for _ in range(6):
            await create_ticket(tenant.agent)
        quick = await receiver.wait_for("/quick", 6, within_seconds=10)
        assert len(quick) == 6
        assert len(receiver.at("/hangs")) <= 2, "a slow endpoint gets no more than its share of the worker"


async def test_two_worker_processes_deliver_each_event_once(
    database_url: str, tenant: Tenant, receiver: Receiver
) -> None:
    await create_webhook(tenant.admin, receiver.on("/crm", Behaviour()), event_types=["ticket.created"])
    workers = [start_worker(database_url) for _ in range(2)]
    try:
        await asyncio.gather(*(create_ticket(tenant.agent) for _ in range(40)))
        received = await receiver.wait_for("/crm", 40, within_seconds=30)
        await asyncio.sleep(1)
        ids = [header(request, "webhook-id") for request in receiver.at("/crm")]
        assert len(ids) == len(set(ids)) == 40
        assert {payload(request)["type"] for request in received} == {"ticket.created"}
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=30) == 0, "a worker stops cleanly on SIGTERM"


async def test_two_workers_on_a_backlog_attempt_each_delivery_once(
    app: FastAPI, database_url: str, tenant: Tenant, receiver: Receiver
) -> None:
    """Both workers claim from the same backlog many times a second (a few deliveries per endpoint at
    a time, so that claims are frequent); neither sends what the other leased."""
    endpoints, backlog = 10, 30
    url = receiver.on("/backlog", Behaviour())
    webhooks = [UUID((await create_webhook(tenant.admin, url))["id"]) for _ in range(endpoints)]
    for webhook_id in webhooks:
        await add_backlog(app.state.db, tenant.workspace_id, webhook_id, backlog, utcnow())
    settings = {
        "HELPDESK_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT": "1",
        "HELPDESK_WORKER_SHUTDOWN_GRACE_SECONDS": "1",
    }
    workers = [start_worker(database_url, **settings) for _ in range(2)]
    try:
        await receiver.wait_for("/backlog", endpoints * backlog, within_seconds=30)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=30) == 0, "a worker stops cleanly on SIGTERM"
    sent = [header(request, "webhook-id") for request in receiver.at("/backlog")]
    assert len(sent) - len(set(sent)) == 0, "no event is sent twice"
    async with app.state.db.sessionmaker() as session:
        attempts = await session.execute(
            select(WebhookDelivery.attempts, func.count())
            .where(WebhookDelivery.workspace_id == tenant.workspace_id)
            .group_by(WebhookDelivery.attempts)
        )
    assert dict(attempts.all()) == {1: endpoints * backlog}, "each delivery is attempted once"


async def test_events_survive_workers_killed_at_random(
    database_url: str, tenant: Tenant, receiver: Receiver
) -> None:
    """Tickets are created while worker processes are SIGKILLed and restarted; afterwards every
    committed event has reached the receiver at least once, any duplicate with the same id."""
    await create_webhook(tenant.admin, receiver.on("/crm", Behaviour()), event_types=["ticket.created"])

    def start() -> subprocess.Popen[bytes]:
        return start_worker(database_url)

    rng = random.Random(7)
    process = start()
    created: list[dict[str, Any]] = []
    try:
        for _ in range(4):
            for _ in range(10):
                created.append(await create_ticket(tenant.agent))
                await asyncio.sleep(rng.uniform(0, 0.05))
            await asyncio.sleep(rng.uniform(0.1, 0.8))
            process.send_signal(signal.SIGKILL)
            process.wait()
            process = start()
        await receiver.wait_for("/crm", len(created), within_seconds=30)
        delivered: dict[str, set[str]] = {}
        for request in receiver.at("/crm"):
            delivered.setdefault(payload(request)["data"]["data"]["ticket"]["id"], set()).add(
                header(request, "webhook-id")
            )
        assert set(delivered) == {ticket["id"] for ticket in created}
        assert all(len(ids) == 1 for ids in delivered.values()), "a re-sent event keeps its webhook-id"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


async def test_a_stopping_worker_hands_back_what_it_could_not_finish(
    app: FastAPI, database_url: str, settings: Settings, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/slow", Behaviour(delay_seconds=10)))
    configured = fast_settings(settings, timeout_seconds=15)
    stopping = asyncio.Event()
    worker = asyncio.create_task(
        Worker(app.state.db, database_url, configured, app.state.secret_box).run(stopping)
    )
    await create_ticket(tenant.agent)
    await receiver.wait_for("/slow", 1)
    stopping.set()
    await asyncio.wait_for(worker, timeout=5)
    [delivery] = (await tenant.admin.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["items"]
    assert delivery["status"] == "pending" and delivery["attempts"] == []
    async with app.state.db.sessionmaker() as session:
        locked_until = await session.scalar(
            select(WebhookDelivery.locked_until).where(WebhookDelivery.workspace_id == tenant.workspace_id)
        )
    assert locked_until is None, "released for another worker to send at once"


async def test_a_loop_stuck_in_its_round_or_a_service_that_ended_is_reported_stalled(
    database_url: str, settings: Settings
) -> None:
    released = asyncio.Event()

    async def stuck() -> int:
        await released.wait()
        return 0

    async def idle() -> int:
        return 0

    async def crashing(stopping: asyncio.Event) -> None:
        raise RuntimeError("the service fell over")

    configured = fast_settings(settings)
    configured.worker = configured.worker.model_copy(update={"stalled_round_seconds": 0.3})
    health = WorkerHealth(configured.worker)
    assert health.unready_reason(0) == "the worker has not started its jobs yet"
    jobs: list[Job] = [
        PeriodicJob("stuck", stuck, interval_seconds=0.1),
        PeriodicJob("idle", idle, interval_seconds=0.1, concurrency=2),
        Service("crashing", crashing),
    ]
    stopping = asyncio.Event()
    running = asyncio.create_task(run_jobs(jobs, database_url, configured, stopping, health))
    await until(lambda: health.stalled() == ["crashing", "stuck"], within_seconds=5)
    assert health.unready_reason(0) == "stalled or stopped: crashing, stuck"
    released.set()
    await until(lambda: health.stalled() == ["crashing"], within_seconds=5)
    stopping.set()
    await asyncio.wait_for(running, timeout=5)


async def test_an_outbox_lagging_beyond_its_bound_makes_the_worker_unready(settings: Settings) -> None:
    health = WorkerHealth(settings.worker.model_copy(update={"ready_max_outbox_lag_seconds": 60}))
    health.waiting("idle", 1)
    assert health.unready_reason(59) is None
    assert health.unready_reason(61) == (
        "the oldest event not yet fanned out to webhooks is 61 s old (more than 60 s)"
    )
