"""Events are written with the change that causes them, and the feed serves them in commit order."""

from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from sqlalchemy import func, select

from app.events.tasks import purge_expired
from app.kit.ids import new_id
from app.kit.time import utcnow
from app.models import Event, IdempotencyKey, WebhookAttempt, WebhookDelivery
from app.models.enums import ActorType, DeliveryStatus
from app.outbox import EventType, event_row, record
from tests.conftest import Tenant
from tests.factories import create_agent, create_contact, create_ticket, create_webhook, status_id
from tests.receiver import Behaviour
from tests.test_contacts import acting_for


def as_in_events(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket as a single-ticket response shows it, without what only those responses carry."""
    return {
        key: value for key, value in ticket.items() if key not in ("children_summary", "sla", "reply_channel")
    }


async def feed(tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = await tenant.viewer.get("/v1/events", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def events_of(tenant: Tenant, subject_id: str) -> list[dict[str, Any]]:
    items = (await feed(tenant, limit=200))["items"]
    return [
        item
        for item in items
        if item["data"].get("ticket", item["data"].get("contact", {}))["id"] == subject_id
    ]


async def test_a_new_ticket_has_its_created_event_with_the_ticket_as_the_api_returns_it(
    tenant: Tenant,
) -> None:
    ticket = await create_ticket(tenant.agent, tags=["giao-hang"], custom_fields={})
    [event] = await events_of(tenant, ticket["id"])
    assert event["type"] == "ticket.created"
    assert event["workspace_id"] == str(tenant.workspace_id)
    assert event["actor"]["type"] == "api_key"
    expected = as_in_events(ticket)
    assert event["data"]["ticket"] == expected
    assert event["data"]["ticket"]["number"] == ticket["number"] == 1


async def test_a_change_writes_updated_and_the_specific_events(tenant: Tenant) -> None:
    agent = await create_agent(tenant.admin, "crm-77", name="Võ Thị Sáu")
    ticket = await create_ticket(tenant.agent)
    response = await tenant.agent.patch(
        f"/v1/tickets/{ticket['id']}",
        json={
            "status_id": await status_id(tenant.viewer, "open"),
            "assignee_id": agent["id"],
            "priority": "high",
        },
    )
    assert response.status_code == 200
    events = await events_of(tenant, ticket["id"])
    assert [event["type"] for event in events] == [
        "ticket.created",
        "ticket.updated",
        "ticket.status_changed",
        "ticket.assigned",
    ]
    updated, status_changed, assigned = events[1:]
    assert updated["data"]["changes"]["priority"] == {"old": "normal", "new": "high"}
    assert updated["data"]["ticket"] == as_in_events(response.json())
    assert set(status_changed["data"]["changes"]) == {"status_id", "status_kind"}
    assert status_changed["data"]["changes"]["status_kind"] == {"old": "new", "new": "open"}
    assert assigned["data"]["changes"] == {"assignee_id": {"old": None, "new": agent["id"]}}
    assert len({event["id"] for event in events}) == 4


async def test_delete_and_restore_are_events(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    await tenant.agent.delete(f"/v1/tickets/{ticket['id']}")
    await tenant.agent.post(f"/v1/tickets/{ticket['id']}/restore")
    types = [event["type"] for event in await events_of(tenant, ticket["id"])]
    assert types == ["ticket.created", "ticket.deleted", "ticket.restored"]


async def test_a_refused_change_writes_no_event(tenant: Tenant) -> None:
    tickets = [await create_ticket(tenant.agent) for _ in range(3)]
    closed = await tenant.agent.patch(f"/v1/tickets/{tickets[2]['id']}", json={"status_kind": "closed"})
    assert closed.status_code == 200
    before = len((await feed(tenant, limit=200))["items"])
    refused = await tenant.agent.post(
        "/v1/tickets/bulk", json={"ids": [ticket["id"] for ticket in tickets], "changes": {"priority": "low"}}
    )
    assert refused.status_code == 409
    assert len((await feed(tenant, limit=200))["items"]) == before


async def test_contacts_have_created_and_updated_events(tenant: Tenant) -> None:
    contact = await create_contact(tenant.agent, email="thu@example.vn")
    await tenant.agent.patch(f"/v1/contacts/{contact['id']}", json={"vip": True})
    await tenant.agent.patch(f"/v1/contacts/{contact['id']}", json={"vip": True})  # nothing changes
    events = await events_of(tenant, contact["id"])
    assert [event["type"] for event in events] == ["contact.created", "contact.updated"]
    assert events[1]["data"]["changes"] == {"vip": {"old": False, "new": True}}
    ticket = await create_ticket(tenant.agent, requester={"email": "moi@example.vn", "name": "Khách mới"})
    requester_events = await events_of(tenant, ticket["requester_id"])
    assert [event["type"] for event in requester_events] == ["contact.created"]


async def test_the_feed_pages_with_a_cursor_and_filters_by_type(tenant: Tenant) -> None:
    for _ in range(5):
        await create_ticket(tenant.agent)
    await create_contact(tenant.agent, email="loc@example.vn")
    seen, cursor = [], None
    while True:
        page = await feed(tenant, limit=2, **({"after": cursor} if cursor else {}))
        seen += [event["id"] for event in page["items"]]
        if not page["items"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 6
    assert (await feed(tenant, after=cursor))["next_cursor"] == cursor
    tickets_only = await feed(tenant, types="ticket.created")
    assert len(tickets_only["items"]) == 5
    assert (await tenant.viewer.get("/v1/events", params={"types": "ticket.exploded"})).status_code == 400
    assert (await tenant.viewer.get("/v1/events", params={"after": "garbage"})).status_code == 400


async def test_the_feed_never_passes_an_event_that_commits_late(app: FastAPI, tenant: Tenant) -> None:
    """Transaction A writes first and commits last; a reader polling in between must not skip it."""
    principal = acting_for(tenant)

    def row(label: str) -> dict[str, Any]:
        return event_row(principal, EventType.ticket_updated, new_id(), {"ticket": {"id": label}})

    sessionmaker = app.state.db.sessionmaker
    async with sessionmaker() as first, sessionmaker() as second:
        await record(first, principal, [row("early-writer")])
        await record(second, principal, [row("early-committer")])
        await second.commit()
        page = await feed(tenant)
        assert page["items"] == [], "an event was served while an older transaction could still commit"
        await first.commit()
    page = await feed(tenant, after=page["next_cursor"]) if page["next_cursor"] else await feed(tenant)
    assert [event["data"]["ticket"]["id"] for event in page["items"]] == ["early-writer", "early-committer"]


async def test_the_retention_purge_deletes_what_outlived_it_and_keeps_the_rest(
    app: FastAPI, tenant: Tenant, receiver: Any
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/kept", Behaviour()))
    ticket = await create_ticket(tenant.admin, subject="Phiếu còn mới")
    now = utcnow()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    ids = {name: new_id() for name in ("old_event", "recent_event", "delivery", "attempt")}
    async with app.state.db.sessionmaker() as session, session.begin():
        for name, occurred_at in (("old_event", old), ("recent_event", recent)):
            session.add(
                Event(
                    id=ids[name],
                    workspace_id=tenant.workspace_id,
                    type="ticket.updated",
                    occurred_at=occurred_at,
                    actor_type=ActorType.system,
                    subject_id=UUID(ticket["id"]),
                    data={},
                )
            )
        await session.flush()
        session.add(
            WebhookDelivery(
                id=ids["delivery"],
                workspace_id=tenant.workspace_id,
                webhook_id=UUID(webhook["id"]),
                event_id=ids["old_event"],
                status=DeliveryStatus.succeeded,
            )
        )
        await session.flush()
        session.add(
            WebhookAttempt(
                id=ids["attempt"],
                workspace_id=tenant.workspace_id,
                delivery_id=ids["delivery"],
                attempted_at=old,
                status_code=200,
                duration_ms=12,
            )
        )
        expiries = {"het-han": now - timedelta(seconds=1), "con-han": now + timedelta(hours=1)}
        for key, expires_at in expiries.items():
            session.add(
                IdempotencyKey(
                    workspace_id=tenant.workspace_id,
                    credential_id=tenant.workspace_id,
                    key=key,
                    request_hash=b"\0" * 32,
                    response_status=201,
                    response_headers={},
                    response_body=b"{}",
                    expires_at=expires_at,
                )
            )

    assert await purge_expired(app.state.db, now, timedelta(days=30)) >= 3  # the delivery goes with its event

    async with app.state.db.sessionmaker() as session:
        in_workspace = select(Event.id).where(Event.workspace_id == tenant.workspace_id)
        events = set((await session.execute(in_workspace)).scalars())
        deliveries = await session.scalar(select(func.count()).where(WebhookDelivery.id == ids["delivery"]))
        attempts = await session.scalar(select(func.count()).where(WebhookAttempt.id == ids["attempt"]))
        keys = set(
            (
                await session.execute(
                    select(IdempotencyKey.key).where(IdempotencyKey.workspace_id == tenant.workspace_id)
                )
            ).scalars()
        )
    assert ids["old_event"] not in events and ids["recent_event"] in events
    assert len(events) > 1, "the ticket's own events are kept"
    assert deliveries == 0 and attempts == 0
    assert keys == {"con-han"}
