"""Metrics in Prometheus's text format: the API's requests by route template and status (never an id),
its pool, the scrape's optional token, a worker's queues and counters on a port of its own, and the
API processes of `helpdesk serve --workers 2` added up."""

import asyncio
import contextlib
import re
import subprocess
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import select, update

from app.config import Settings
from app.kit.time import utcnow
from app.models import DispatchCursor, Event, InboundMessage
from tests.conftest import Tenant, make_client, running_app, running_worker
from tests.factories import create_ticket, create_webhook
from tests.processes import HELPDESK, ApiProcess, free_port, service_env, start_worker
from tests.receiver import Behaviour, Receiver
from tests.test_channels import chat_channel, processed_at_least, receive
from tests.test_worker import fast_settings

UUID_ANYWHERE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)
TOKEN = "ma-bi-mat-cua-prometheus-2026"


def samples(exposition: str, name: str, **labels: str) -> list[float]:
    """The values of the samples called `name` whose labels include `labels`."""
    return [
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]


def value(exposition: str, name: str, **labels: str) -> float:
    found = samples(exposition, name, **labels)
    assert len(found) == 1, f"{name} {labels}: {found}"
    return found[0]


def assert_no_ids(exposition: str) -> None:
    found = UUID_ANYWHERE.search(exposition)
    assert found is None, f"an id in the metrics: {found and found.group()}"


async def test_requests_are_counted_by_route_template_and_status_never_by_id(
    app: FastAPI, tenant: Tenant
) -> None:
    ticket = await create_ticket(tenant.agent)
    assert (await tenant.agent.get(f"/v1/tickets/{ticket['id']}")).status_code == 200
    missing = "/v1/tickets/00000000-0000-4000-8000-000000000000"
    assert (await tenant.agent.get(missing)).status_code == 404
    assert (await tenant.agent.get(f"/v1/khong-co/{ticket['id']}")).status_code == 404
    assert (await tenant.agent.request("BREW", "/v1/tickets")).status_code == 405

    scraped = await make_client(app).get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = scraped.text
    assert_no_ids(text)
    count = "helpdesk_http_request_duration_seconds_count"
    template = "/v1/tickets/{ticket_id}"
    assert value(text, count, method="GET", route=template, status="200") >= 1
    assert value(text, count, method="GET", route=template, status="404") >= 1
    assert value(text, count, method="POST", route="/v1/tickets", status="201") >= 1
    assert value(text, count, method="GET", route="(no route)", status="404") >= 1
    assert value(text, count, method="other", route="/v1/tickets", status="405") >= 1
    routes = {labels for labels in _labels(text, count, "route")}
    assert all(route.startswith("/") or route == "(no route)" for route in routes), routes
    # The scrape itself is being answered; the pool is the one the settings made.
    assert value(text, "helpdesk_http_requests_in_flight") >= 1
    assert value(text, "helpdesk_db_pool_size") == app.state.settings.db.pool_size
    assert value(text, "helpdesk_db_pool_checked_out") >= 0
    assert "helpdesk_inbound_queue_depth" not in text, "the queues are a worker's to read"


def _labels(exposition: str, name: str, label: str) -> list[str]:
    return [
        sample.labels[label]
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    ]


async def test_a_metrics_token_keeps_the_metrics_from_whoever_lacks_it(
    settings: Settings, database_url: str
) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    async with running_app(guarded, database_url) as app:
        client = make_client(app)
        refused = await client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "helpdesk_" not in refused.text
        wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        assert wrong.status_code == 401
        basic = await client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        assert "helpdesk_http_request_duration_seconds" in allowed.text
        # The probes stay open to orchestrators.
        assert (await client.get("/livez")).status_code == 200


async def test_webhook_deliveries_are_counted_by_outcome(
    app: FastAPI, database_url: str, settings: Settings, tenant: Tenant, receiver: Receiver
) -> None:
    """An endpoint that takes the event, one that fails (tried again later), one that is gone (410:
    disabled), counted by the worker running in this process, as the API's /metrics shows."""
    scrape = make_client(app)
    name = "helpdesk_webhook_deliveries_total"
    outcomes = ("succeeded", "retried", "disabled")

    async def counts() -> dict[str, float]:
        text = (await scrape.get("/metrics")).text
        return {outcome: sum(samples(text, name, outcome=outcome)) for outcome in outcomes}

    before = await counts()
    for path, behaviour in (
        ("/ok", Behaviour()),
        ("/busy", Behaviour(status=500)),
        ("/gone", Behaviour(status=410)),
    ):
        await create_webhook(tenant.admin, receiver.on(path, behaviour), event_types=["ticket.created"])
    async with running_worker(app, database_url, fast_settings(settings)):
        await create_ticket(tenant.agent)
        for path in ("/ok", "/busy", "/gone"):
            await receiver.wait_for(path, 1)
        # Written once each endpoint has answered: waited for, as the counters announce nothing.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while any(count <= before[outcome] for outcome, count in (await counts()).items()):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
    after = await counts()
    assert all(after[outcome] > before[outcome] for outcome in outcomes), (before, after)


@contextlib.asynccontextmanager
async def worker_serving_metrics(database_url: str, **settings: str) -> Any:
    """`helpdesk worker` with its metrics port; yields a client of that port once it answers /livez."""
    port = free_port()
    worker = start_worker(database_url, HELPDESK_WORKER_METRICS_PORT=str(port), **settings)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            async with asyncio.timeout(30):
                while True:
                    assert worker.poll() is None, f"helpdesk worker exited with {worker.returncode}"
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/livez")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
            yield client
    finally:
        worker.terminate()
        assert await asyncio.to_thread(worker.wait, 30) == 0, "the worker stops cleanly"


async def test_a_worker_shows_its_queue_and_what_its_jobs_did(
    app: FastAPI, database_url: str, tenant: Tenant
) -> None:
    channel = await chat_channel(tenant)
    for n in range(3):
        await receive(tenant, channel, message_id=f"do-{n}", text=f"Cho em hỏi đơn hàng số {n} ạ")
    workspace_id = UUID(str(tenant.workspace_id))
    # Put off for now, and received an hour ago: waiting, as messages a worker has not taken yet are.
    await _set_inbound(app, workspace_id, next_attempt_at=utcnow() + timedelta(hours=1))
    await _set_inbound(app, workspace_id, received_at=utcnow() - timedelta(hours=1))
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async with worker_serving_metrics(database_url, HELPDESK_METRICS_TOKEN=TOKEN) as worker:
        assert (await worker.get("/metrics")).status_code == 401
        assert (await worker.get("/nowhere")).status_code == 404
        before = await worker.get("/metrics", headers=auth)
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
        waiting = value(before.text, "helpdesk_inbound_queue_depth")
        assert waiting >= 3
        assert value(before.text, "helpdesk_inbound_oldest_age_seconds") >= 3600
        assert value(before.text, "helpdesk_outbox_lag_seconds") >= 0
        assert value(before.text, "helpdesk_webhook_delivery_lag_seconds") >= 0
        assert value(before.text, "helpdesk_db_pool_size") >= 1
        processed_before = samples(before.text, "helpdesk_inbound_messages_total", outcome="processed")

        await _set_inbound(app, workspace_id, next_attempt_at=utcnow())
        await processed_at_least(app, workspace_id, 3, within_seconds=30)
        after = (await worker.get("/metrics", headers=auth)).text

    assert_no_ids(before.text)
    assert_no_ids(after)
    assert value(after, "helpdesk_inbound_queue_depth") <= waiting - 3
    processed = value(after, "helpdesk_inbound_messages_total", outcome="processed")
    assert processed >= 3 + sum(processed_before)
    assert value(after, "helpdesk_inbound_threading_duration_seconds_count") >= 3
    job = "threading inbound messages"
    assert value(after, "helpdesk_worker_job_rounds_total", job=job) >= 1
    assert samples(after, "helpdesk_worker_job_failures_total", job=job) in ([], [0.0])
    assert value(after, "helpdesk_worker_job_rounds_total", job="delivering webhooks") == 1


async def _set_inbound(app: FastAPI, workspace_id: UUID, **values: Any) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(InboundMessage).where(InboundMessage.workspace_id == workspace_id).values(**values)
        )


def start_two_api_processes(database_url: str) -> ApiProcess:
    """`helpdesk serve --workers 2`, with no worker inside."""
    port = free_port()
    command = [HELPDESK, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    env = service_env(database_url, HELPDESK_WORKER_IN_API="false")
    return ApiProcess(subprocess.Popen(command, env=env), f"http://127.0.0.1:{port}")  # noqa: S603 - our own command


async def test_the_processes_of_serve_with_two_workers_are_added_up(database_url: str) -> None:
    api = start_two_api_processes(database_url)
    try:
        await api.ready()
        # A connection each, so that both processes take some.
        for _ in range(20):
            async with httpx.AsyncClient(base_url=api.url) as client:
                assert (await client.get("/livez")).status_code == 200
        for _ in range(4):
            async with httpx.AsyncClient(base_url=api.url) as client:
                text = (await client.get("/metrics")).text
            count = "helpdesk_http_request_duration_seconds_count"
            assert value(text, count, method="GET", route="/livez", status="200") == 20
            assert value(text, "helpdesk_db_pool_size") >= 4
    finally:
        api.stop()


async def test_a_worker_is_ready_until_its_outbox_lags_beyond_the_bound(
    app: FastAPI, database_url: str, tenant: Tenant
) -> None:
    async with worker_serving_metrics(
        database_url, HELPDESK_WORKER_READY_MAX_OUTBOX_LAG_SECONDS="600"
    ) as worker:
        async with asyncio.timeout(30):
            while (ready := await worker.get("/readyz")).status_code != 200:  # noqa: ASYNC110 - polled
                await asyncio.sleep(0.1)
        assert ready.json() == {"status": "ok"}

        # Fan-out held up (its cursor locked), and an event waiting behind it for an hour.
        async with app.state.db.sessionmaker() as holding, holding.begin():
            await holding.execute(select(DispatchCursor).where(DispatchCursor.id == 1).with_for_update())
            ticket = await create_ticket(tenant.agent, subject="Chờ gửi webhook")
            async with app.state.db.sessionmaker() as session, session.begin():
                await session.execute(
                    update(Event)
                    .where(Event.subject_id == UUID(ticket["id"]))
                    .values(occurred_at=utcnow() - timedelta(hours=1))
                )
            unready = await worker.get("/readyz")
            assert unready.status_code == 503
            assert unready.headers["retry-after"] == "5"
            assert unready.json()["status"] == "unready"
            assert "fanned out to webhooks" in unready.json()["detail"]

        async with asyncio.timeout(30):
            while (await worker.get("/readyz")).status_code != 200:  # noqa: ASYNC110 - polled
                await asyncio.sleep(0.1)
