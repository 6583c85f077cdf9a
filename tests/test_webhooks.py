"""Webhooks: configuration, signing, the retry schedule on a fake clock, disabling, the delivery log."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import insert
from standardwebhooks.webhooks import Webhook as Verifier

from app.auth.principal import Principal
from app.db import Database
from app.kit.ids import new_id
from app.kit.outbound import outbound_policy
from app.kit.signing import signature_header
from app.kit.time import utcnow
from app.models import WebhookDelivery
from app.models.enums import ActorType, Role
from app.outbox import EventType, event_row, record
from app.webhooks.tasks import RETRY_SCHEDULE, claim_due, dispatch_events, record_outcome, send
from tests.conftest import Tenant
from tests.factories import create_ticket, create_webhook
from tests.receiver import Behaviour, Receiver, header, payload


async def run_jobs(app: FastAPI, now: datetime, tenant: Tenant) -> int:
    """One pass of the worker's jobs at `now`: fan out, claim what is due, send, record.

    Claims span every workspace (other tests leave deliveries behind); the count is the tenant's.
    """
    db, settings = app.state.db, app.state.settings
    while await dispatch_events(db, now):
        pass
    claims = await claim_due(
        db, app.state.secret_box, now, limit=100, lease=timedelta(seconds=60), per_endpoint=100
    )
    disabled = set()
    async with httpx.AsyncClient(follow_redirects=False) as client:
        for claim in claims:
            if claim.webhook_id in disabled:
                continue
            outcome = await send(client, claim, now=now, timeout_seconds=5, policy=outbound_policy(settings))
            if await record_outcome(db, claim, outcome, settings, now):
                disabled.add(claim.webhook_id)
    return sum(1 for claim in claims if claim.workspace_id == tenant.workspace_id)


def verify(request: Any, secret: str) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in request.headers.items()}
    return Verifier(secret).verify(request.body, headers)


def test_signatures_match_the_standard_webhooks_test_vector() -> None:
    timestamp = datetime.fromtimestamp(1614265330, UTC)
    signature = signature_header(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp,
        '{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


async def test_the_secret_is_shown_once_and_unsafe_urls_are_refused(
    tenant: Tenant, receiver: Receiver
) -> None:
    created = await create_webhook(
        tenant.admin, receiver.on("/crm", Behaviour()), event_types=["ticket.created"]
    )
    assert created["secret"].startswith("whsec_")
    fetched = await tenant.admin.get(f"/v1/webhooks/{created['id']}")
    assert "secret" not in fetched.json() and created["secret"] not in fetched.text
    for url in (
        "http://169.254.169.254/latest",
        "https://10.0.0.8/hook",
        "ftp://example.com/",
        "http://[::1]:80/",
    ):
        refused = await tenant.admin.post("/v1/webhooks", json={"url": url})
        assert refused.status_code == 422, url
        assert refused.json()["field"] == "url"
    unknown = await tenant.admin.post(
        "/v1/webhooks", json={"url": created["url"], "event_types": ["ticket.lost"]}
    )
    assert unknown.status_code == 422
    assert (await tenant.agent.get("/v1/webhooks")).status_code == 403


async def test_an_event_is_delivered_signed_with_its_id(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(
        tenant.admin, receiver.on("/crm", Behaviour()), event_types=["ticket.created"]
    )
    ticket = await create_ticket(tenant.agent, subject="Không nhận được hàng")
    await run_jobs(app, utcnow(), tenant)
    [request] = await receiver.wait_for("/crm", 1)
    body = verify(request, webhook["secret"])
    assert body["type"] == "ticket.created"
    assert body["data"]["data"]["ticket"]["id"] == ticket["id"]
    assert header(request, "webhook-id") == body["data"]["id"]
    feed = (await tenant.viewer.get("/v1/events", params={"types": "ticket.created"})).json()["items"]
    assert body["data"] == feed[-1], "pull and push carry the same event"


async def test_a_failing_receiver_gets_the_event_again_on_the_schedule(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/flaky", Behaviour(fail_first=3)))
    await create_ticket(tenant.agent)
    start = utcnow()
    assert await run_jobs(app, start, tenant) == 1
    assert await run_jobs(app, start + timedelta(seconds=1), tenant) == 0, "retried before its time"
    elapsed = timedelta()
    for delay in RETRY_SCHEDULE.delays[:3]:
        elapsed += delay * 1.2
        assert await run_jobs(app, start + elapsed, tenant) == 1
    requests = receiver.at("/flaky")
    assert len(requests) == 4
    assert len({header(request, "webhook-id") for request in requests}) == 1
    log = (await tenant.admin.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["items"]
    [delivery] = [item for item in log if item["event_type"] == "ticket.created"]
    assert delivery["status"] == "succeeded"
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [500, 500, 500, 200]
    assert delivery["attempts"][0]["response_body"] == "answer 500"


async def test_the_schedule_ends_in_failure(app: FastAPI, tenant: Tenant, receiver: Receiver) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/down", Behaviour(status=503)))
    await create_ticket(tenant.agent)
    now = utcnow()
    await run_jobs(app, now, tenant)
    for delay in RETRY_SCHEDULE.delays:
        now += delay * 1.2
        assert await run_jobs(app, now, tenant) == 1
    assert await run_jobs(app, now + timedelta(days=1), tenant) == 0
    [delivery] = (await tenant.admin.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["items"]
    assert delivery["status"] == "failed" and delivery["attempt_count"] == 10


async def test_retry_after_is_honoured(app: FastAPI, tenant: Tenant, receiver: Receiver) -> None:
    url = receiver.on("/busy", Behaviour(status=429, headers={"Retry-After": "600"}))
    webhook = await create_webhook(tenant.admin, url)
    await create_ticket(tenant.agent)
    now = utcnow()
    await run_jobs(app, now, tenant)
    assert await run_jobs(app, now + timedelta(minutes=9), tenant) == 0
    [delivery] = (await tenant.admin.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["items"]
    next_attempt = datetime.fromisoformat(delivery["next_attempt_at"])
    assert next_attempt >= now + timedelta(seconds=600)


async def test_410_disables_the_endpoint_at_once(app: FastAPI, tenant: Tenant, receiver: Receiver) -> None:
    gone = await create_webhook(
        tenant.admin, receiver.on("/gone", Behaviour(status=410)), event_types=["ticket.created"]
    )
    watcher = await create_webhook(
        tenant.admin, receiver.on("/watch", Behaviour()), event_types=["webhook.disabled"]
    )
    await create_ticket(tenant.agent)
    await create_ticket(tenant.agent)
    await run_jobs(app, utcnow(), tenant)
    assert len(receiver.at("/gone")) == 1, "the second delivery is not attempted once the endpoint is gone"
    disabled = (await tenant.admin.get(f"/v1/webhooks/{gone['id']}")).json()
    assert disabled["active"] is False and "410" in disabled["disabled_reason"]
    await run_jobs(app, utcnow(), tenant)
    [notice] = receiver.at("/watch")
    assert payload(notice)["type"] == "webhook.disabled"
    assert payload(notice)["data"]["data"]["webhook"]["id"] == gone["id"]
    assert watcher["id"] != gone["id"]


async def test_an_endpoint_failing_for_days_is_disabled(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/dead", Behaviour(status=500)))
    await create_ticket(tenant.agent)
    start = utcnow()
    await run_jobs(app, start, tenant)
    now = start
    for delay in RETRY_SCHEDULE.delays[:-1]:
        now += delay * 1.2
        await run_jobs(app, now, tenant)
    assert (await tenant.admin.get(f"/v1/webhooks/{webhook['id']}")).json()["active"] is True
    await create_ticket(tenant.agent)
    await run_jobs(app, start + timedelta(days=5, minutes=1), tenant)
    disabled = (await tenant.admin.get(f"/v1/webhooks/{webhook['id']}")).json()
    assert disabled["active"] is False and "5 days" in disabled["disabled_reason"]
    reenabled = await tenant.admin.patch(f"/v1/webhooks/{webhook['id']}", json={"active": True})
    assert reenabled.json()["disabled_reason"] is None and reenabled.json()["failing_since"] is None


async def test_a_rotated_secret_and_the_previous_one_both_sign(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/rotating", Behaviour()))
    rotated = (await tenant.admin.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")).json()
    assert rotated["secret"] != webhook["secret"] and rotated["previous_secret_expires_at"]
    await create_ticket(tenant.agent)
    await run_jobs(app, utcnow(), tenant)
    [request] = receiver.at("/rotating")
    assert len(header(request, "webhook-signature").split(" ")) == 2
    verify(request, webhook["secret"])
    verify(request, rotated["secret"])


async def test_test_events_and_redelivery(app: FastAPI, tenant: Tenant, receiver: Receiver) -> None:
    first = await create_webhook(tenant.admin, receiver.on("/one", Behaviour()))
    await create_webhook(tenant.admin, receiver.on("/two", Behaviour()))
    response = await tenant.admin.post(f"/v1/webhooks/{first['id']}/test")
    assert response.status_code == 202
    delivery = response.json()
    await run_jobs(app, utcnow(), tenant)
    [request] = receiver.at("/one")
    assert payload(request)["type"] == "webhook.test"
    assert receiver.at("/two") == [], "a test event goes to its endpoint only"
    again = await tenant.admin.post(f"/v1/webhooks/{first['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202
    await run_jobs(app, utcnow(), tenant)
    requests = receiver.at("/one")
    assert len(requests) == 2
    assert header(requests[0], "webhook-id") == header(requests[1], "webhook-id")


async def add_backlog(
    db: Database, workspace_id: UUID, webhook_id: UUID, count: int, due_at: datetime
) -> None:
    """`count` test events for the endpoint, each a delivery due at `due_at`, written at once."""
    system = Principal(workspace_id, Role.admin, ActorType.system, webhook_id)
    events = [
        event_row(system, EventType.webhook_test, webhook_id, {"webhook": {"id": str(webhook_id)}})
        for _ in range(count)
    ]
    deliveries = [
        {
            "workspace_id": workspace_id,
            "id": new_id(),
            "webhook_id": webhook_id,
            "event_id": event["id"],
            "next_attempt_at": due_at,
        }
        for event in events
    ]
    async with db.sessionmaker() as session, session.begin():
        await record(session, system, events)
        await session.execute(insert(WebhookDelivery.__table__), deliveries)


async def test_concurrent_claims_never_take_the_same_delivery(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    """Claimers whose snapshot predates another's lease must not take the leased rows: many claim a
    backlog at once, each in its own session, and every delivery is taken exactly once."""
    db, backlog = app.state.db, 600
    # Before anything else the suite leaves due, so that only this backlog is claimed.
    due_at = datetime(2001, 1, 1, tzinfo=UTC)
    webhook = await create_webhook(tenant.admin, receiver.on("/backlog", Behaviour()))
    webhook_id = UUID(webhook["id"])
    await add_backlog(db, tenant.workspace_id, webhook_id, backlog, due_at)

    async def claim_until_none_left() -> list[UUID]:
        taken: list[UUID] = []
        while claims := await claim_due(
            db, app.state.secret_box, due_at, limit=10, lease=timedelta(hours=1), per_endpoint=backlog
        ):
            taken += [claim.delivery_id for claim in claims if claim.webhook_id == webhook_id]
        return taken

    try:
        claimed = [
            delivery
            for taken in await asyncio.gather(*(claim_until_none_left() for _ in range(8)))
            for delivery in taken
        ]
    finally:
        await tenant.admin.delete(f"/v1/webhooks/{webhook_id}")
    assert len(claimed) - len(set(claimed)) == 0, "no delivery is claimed twice"
    assert len(set(claimed)) == backlog, "and every one is claimed"
