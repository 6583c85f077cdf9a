"""The call_url action of triggers: a signed request with a body rendered for the ticket, delivered to a
real local receiver through the webhook delivery machinery (retries, the log, redelivery, SSRF checks)."""

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from app.events.tasks import purge_expired
from app.kit.outbound import OutboundPolicy, outbound_policy
from app.kit.time import utcnow
from app.macros.rendering import MAX_JSON_BYTES
from app.models import WebhookDelivery
from app.webhooks.tasks import RETRY_SCHEDULE, claim_due, dispatch_events, record_outcome, release, send
from tests.conftest import Tenant
from tests.factories import create_ticket, create_webhook
from tests.receiver import Behaviour, Receiver, header
from tests.test_triggers import get_ticket, history_of, trigger
from tests.test_webhooks import verify

# Vietnamese text, typed values and placeholders, some of them expressions rendered in a render process.
BODY = {
    "text": "Phiếu #{{ ticket.number }}: {{ ticket.subject }}",
    "khách_hàng": {"tên": "{{ requester.name or 'quý khách' }}", "email": "{{ requester.email }}"},
    "ưu_tiên": "{{ ticket.priority | upper }}",
    "nguồn": "Tổng đài CSKH",
    "số_lần": 3,
    "gấp": True,
    "ghi_chú": None,
    "nhãn": ["{{ ticket.channel }}", "cố định"],
}
# A subject that would break out of its string if it were pasted into JSON text.
BREAKOUT = 'Màn hình "hỏng" \\ ngay\n"}, "admin": true, {"x": "'


async def deliver(app: FastAPI, tenant: Tenant, now: datetime, policy: OutboundPolicy | None = None) -> int:
    """One pass of the worker at `now` for the tenant's deliveries: fan out, claim, send, record.

    Other workspaces' deliveries (other tests leave some behind) are given back unsent.
    """
    db, settings = app.state.db, app.state.settings
    while await dispatch_events(db, now):
        pass
    claims = await claim_due(
        db, app.state.secret_box, now, limit=100, lease=timedelta(seconds=60), per_endpoint=100
    )
    mine = [claim for claim in claims if claim.workspace_id == tenant.workspace_id]
    await release(db, [claim for claim in claims if claim.workspace_id != tenant.workspace_id])
    async with httpx.AsyncClient(follow_redirects=False) as client:
        for claim in mine:
            outcome = await send(
                client, claim, now=now, timeout_seconds=5, policy=policy or outbound_policy(settings)
            )
            await record_outcome(db, claim, outcome, settings, now)
    return len(mine)


async def calling(tenant: Tenant, webhook: dict[str, Any], body: Any = BODY, **fields: Any) -> dict[str, Any]:
    action = {"type": "call_url", "webhook_id": webhook["id"], "body": body}
    return await trigger(tenant.admin, "Báo CRM khi có phiếu mới", actions=[action], **fields)


async def log_of(tenant: Tenant, webhook: dict[str, Any]) -> list[dict[str, Any]]:
    response = await tenant.admin.get(f"/v1/webhooks/{webhook['id']}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_trigger_calls_an_endpoint_that_receives_no_events_with_a_signed_rendered_body(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/crm", Behaviour()), event_types=[])
    assert webhook["event_types"] == []
    rule = await calling(tenant, webhook)
    ticket = await create_ticket(
        tenant.agent,
        subject=BREAKOUT,
        priority="high",
        requester={"name": "Trần Thị Bích", "phone": "0912 345 678"},
    )
    assert await deliver(app, tenant, utcnow()) == 1, "the call, and no event"
    [request] = receiver.at("/crm")
    sent = verify(request, webhook["secret"])
    assert sent == {
        "text": f"Phiếu #{ticket['number']}: {BREAKOUT}",
        "khách_hàng": {"tên": "Trần Thị Bích", "email": ""},
        "ưu_tiên": "HIGH",
        "nguồn": "Tổng đài CSKH",
        "số_lần": 3,
        "gấp": True,
        "ghi_chú": None,
        "nhãn": ["api", "cố định"],
    }
    assert "admin" not in sent
    [delivery] = await log_of(tenant, webhook)
    assert delivery["status"] == "succeeded"
    assert delivery["event_id"] is None and delivery["event_type"] is None
    assert header(request, "webhook-id") == delivery["message_id"] == delivery["id"]
    assert delivery["call"] == {
        "actor_type": "trigger",
        "actor_id": rule["id"],
        "ticket_id": ticket["id"],
        "body": request.body.decode(),
    }


async def test_a_comment_trigger_sends_the_comment_that_fired_it(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/notes", Behaviour()), event_types=[])
    body = {
        "bình_luận": "{{ comment.body }}",
        "công_khai": "{{ comment.public }}",
        "bởi": "{{ comment.author }}",
    }
    await calling(tenant, webhook, body=body, events=["ticket.comment_added"])
    ticket = await create_ticket(tenant.agent)
    # An API key writes as the system.
    note = 'Khách nói: "giao lại giúp em"\nĐịa chỉ mới: 12 Lê Lợi, Q.1'
    added = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments", json={"body": note, "public": False}
    )
    assert added.status_code == 201, added.text
    assert await deliver(app, tenant, utcnow()) == 1
    [request] = receiver.at("/notes")
    assert verify(request, webhook["secret"]) == {"bình_luận": note, "công_khai": "false", "bởi": "system"}

    refused = await tenant.admin.post(
        "/v1/triggers",
        json={
            "name": "Sai tên",
            "events": ["ticket.comment_added"],
            "actions": [
                {"type": "call_url", "webhook_id": webhook["id"], "body": {"x": "{{ comment.bdy }}"}}
            ],
        },
    )
    assert refused.status_code == 422 and refused.json()["field"] == "actions.0.body.x"


async def test_a_failing_endpoint_gets_the_request_again_and_it_can_be_redelivered(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(
        tenant.admin, receiver.on("/flaky", Behaviour(fail_first=1)), event_types=[]
    )
    await calling(tenant, webhook, body={"phiếu": "{{ ticket.subject }}"})
    await create_ticket(tenant.agent, subject="Chưa nhận được hoàn tiền")
    start = utcnow()
    assert await deliver(app, tenant, start) == 1
    assert await deliver(app, tenant, start + timedelta(seconds=1)) == 0, "retried before its time"
    assert await deliver(app, tenant, start + RETRY_SCHEDULE.delays[0] * 1.2) == 1
    [delivery] = await log_of(tenant, webhook)
    assert delivery["status"] == "succeeded"
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [500, 200]

    again = await tenant.admin.post(f"/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202 and again.json()["call"] == delivery["call"]
    assert await deliver(app, tenant, utcnow()) == 1
    requests = receiver.at("/flaky")
    assert len(requests) == 3
    assert {header(request, "webhook-id") for request in requests} == {delivery["id"]}
    assert {request.body for request in requests} == {'{"phiếu":"Chưa nhận được hoàn tiền"}'.encode()}
    for request in requests:
        verify(request, webhook["secret"])


async def test_a_request_to_an_internal_address_is_refused_at_delivery(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    """The endpoint's address was allowed when it was saved; the policy at delivery no longer allows it."""
    webhook = await create_webhook(tenant.admin, receiver.on("/internal", Behaviour()), event_types=[])
    await calling(tenant, webhook)
    await create_ticket(tenant.agent)
    assert await deliver(app, tenant, utcnow(), policy=OutboundPolicy(allow_http=True)) == 1
    assert receiver.at("/internal") == []
    [delivery] = await log_of(tenant, webhook)
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and attempt["error"].startswith("refused: ")
    assert delivery["status"] == "pending", "retried on the schedule, as an event would be"


async def test_a_disabled_endpoint_logs_the_request_unsent_for_redelivery(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(
        tenant.admin, receiver.on("/off", Behaviour()), event_types=[], active=False
    )
    await calling(tenant, webhook, body=["{{ ticket.number }}"])
    ticket = await create_ticket(tenant.agent)
    assert await deliver(app, tenant, utcnow()) == 0
    assert receiver.at("/off") == []
    [delivery] = await log_of(tenant, webhook)
    assert delivery["status"] == "failed" and delivery["attempt_count"] == 1
    assert delivery["attempts"][0]["error"] == "not sent: the endpoint is disabled"
    url = f"/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}/redeliver"
    assert (await tenant.admin.post(url)).status_code == 409, "not while the endpoint is disabled"

    assert (
        await tenant.admin.patch(f"/v1/webhooks/{webhook['id']}", json={"active": True})
    ).status_code == 200
    assert (await tenant.admin.post(url)).status_code == 202
    assert await deliver(app, tenant, utcnow()) == 1
    [request] = receiver.at("/off")
    assert verify(request, webhook["secret"]) == [str(ticket["number"])]


async def test_a_deleted_endpoint_or_a_body_too_large_fails_the_trigger_and_its_history_says_so(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    gone = await create_webhook(tenant.admin, receiver.on("/gone", Behaviour()), event_types=[])
    action = {"type": "call_url", "webhook_id": gone["id"], "body": {"a": "{{ ticket.subject }}"}}
    await trigger(tenant.admin, "Gắn nhãn và báo", actions=[{"type": "add_tags", "tags": ["da-bao"]}, action])
    assert (await tenant.admin.delete(f"/v1/webhooks/{gone['id']}")).status_code == 204
    ticket = await create_ticket(tenant.agent)
    assert (await get_ticket(tenant, ticket["id"]))["tags"] == [], "all of the trigger's actions or none"
    failures = [entry for entry in await history_of(tenant, ticket["id"]) if entry.get("field") == "triggers"]
    assert failures and "deleted" in json.dumps(failures)

    # Fine on the sample data it is tried on when saved; too large for a ticket with a long subject.
    large = await create_webhook(tenant.admin, receiver.on("/large", Behaviour()), event_types=[])
    subjects = ["{{ ticket.subject }}"] * 200
    await trigger(
        tenant.admin,
        "Báo dài",
        events=["ticket.updated"],
        actions=[{"type": "call_url", "webhook_id": large["id"], "body": subjects}],
    )
    changed = await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"subject": "Đơn hàng " * 50})
    assert changed.status_code == 200, changed.text
    assert await deliver(app, tenant, utcnow()) == 0
    assert await log_of(tenant, large) == []
    assert str(MAX_JSON_BYTES) in json.dumps(await history_of(tenant, ticket["id"]))


async def test_a_trigger_is_refused_unless_its_endpoint_is_the_workspaces_and_its_body_renders(
    tenant: Tenant, other_tenant: Tenant, receiver: Receiver
) -> None:
    mine = await create_webhook(tenant.admin, receiver.on("/mine", Behaviour()), event_types=[])
    theirs = await create_webhook(other_tenant.admin, receiver.on("/theirs", Behaviour()), event_types=[])
    nested: Any = "sâu"
    for _ in range(20):
        nested = [nested]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"webhook_id": theirs["id"], "body": {}}, "actions.0.webhook_id"),
        (
            {"webhook_id": mine["id"], "body": {"khách": {"tên": "{{ requester.nam }}"}}},
            "actions.0.body.khách.tên",
        ),
        ({"webhook_id": mine["id"], "body": ["ok", "{{ ticket.__class__ }}"]}, "actions.0.body.1"),
        ({"webhook_id": mine["id"], "body": {"x": "{% if %}"}}, "actions.0.body.x"),
        ({"webhook_id": mine["id"], "body": nested}, "actions.0.call_url.body"),
        ({"webhook_id": mine["id"], "body": "x" * 20_001}, "actions.0.call_url.body"),
        ({"webhook_id": mine["id"]}, "actions.0.call_url.body"),
    ]
    for action, field in cases:
        body = {"name": "Sai", "events": ["ticket.created"], "actions": [{"type": "call_url", **action}]}
        refused = await tenant.admin.post("/v1/triggers", json=body)
        assert refused.status_code == 422, (action, refused.text)
        assert refused.json()["field"] == field, (action, refused.json())

    saved = await calling(tenant, mine, body={"ok": "{{ ticket.subject }}"})
    patch = {"actions": [{"type": "call_url", "webhook_id": theirs["id"], "body": {}}]}
    refused = await tenant.admin.patch(f"/v1/triggers/{saved['id']}", json=patch)
    assert refused.status_code == 422 and refused.json()["field"] == "actions.0.webhook_id"


async def test_call_url_requests_go_after_the_retention_of_events(
    app: FastAPI, tenant: Tenant, receiver: Receiver
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/kept", Behaviour()), event_types=[])
    await calling(tenant, webhook, body={"số": "{{ ticket.number }}"})
    await create_ticket(tenant.agent)
    # An event's delivery beside it, written at once (not waiting for the fan-out).
    assert (await tenant.admin.post(f"/v1/webhooks/{webhook['id']}/test")).status_code == 202
    log = await log_of(tenant, webhook)
    assert sorted(item["event_type"] or "call_url" for item in log) == ["call_url", "webhook.test"]
    [call] = [item for item in log if item["call"] is not None]
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.workspace_id == tenant.workspace_id, WebhookDelivery.id == call["id"])
            .values(created_at=utcnow() - timedelta(days=31))
        )
    await purge_expired(app.state.db, utcnow(), timedelta(days=30))
    assert [item["event_type"] for item in await log_of(tenant, webhook)] == ["webhook.test"]
