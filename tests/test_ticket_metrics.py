"""Ticket metrics through a ticket's life: reply times, resolution, reopens and waits, in calendar and
business minutes, as `GET /v1/tickets/{id}/metrics` and the events show them. Time travels (time-machine)."""

import importlib.util
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from sqlalchemy import select, text, update

from app.models import Event, Ticket
from app.models.ticket import METRIC_COLUMNS, METRIC_COUNTERS
from tests.conftest import Tenant, agent_token_client
from tests.factories import create_agent, create_contact, create_group, create_ticket
from tests.test_comments import comment
from tests.test_sla import NINE_TO_FIVE, at, calendar, patch, policy, target, travel


async def metrics_of(tenant: Tenant, ticket_id: str) -> dict[str, Any]:
    response = await tenant.viewer.get(f"/v1/tickets/{ticket_id}/metrics")
    assert response.status_code == 200, response.text
    return response.json()


async def written_events(app: FastAPI, ticket_id: str, event_type: str) -> list[dict[str, Any]]:
    """The `data` of the ticket's events of this type, in the order they were written (read from the
    outbox itself: the feed's own delivery is tested elsewhere)."""
    statement = (
        select(Event.data)
        .where(Event.subject_id == UUID(ticket_id), Event.type == event_type)
        .order_by(Event.transaction_id, Event.id)
    )
    async with app.state.db.sessionmaker() as session:
        return list((await session.execute(statement)).scalars())


async def test_metrics_follow_replies_solves_reopens_and_waits(app: FastAPI, tenant: Tenant) -> None:
    # Business hours 09:00-17:00 on weekdays in Hồ Chí Minh City; no SLA policy: the workspace's
    # first calendar counts business time.
    await calendar(tenant.admin, hours=NINE_TO_FIVE)
    customer = await create_contact(tenant.agent, name="Chị Phương", email="phuong@example.vn")
    staff = await create_agent(tenant.admin, "tu-van", name="Anh Tuấn")
    agent = {"type": "agent", "id": staff["id"]}
    contact = {"type": "contact", "id": customer["id"]}

    # Monday 16:00: created; the first reply on Tuesday 10:00 (18 h later, 2 business hours).
    with travel(at(2026, 12, 7, 16, 0)):
        ticket = await create_ticket(tenant.agent, requester_id=customer["id"], subject="Giao hàng chậm")
    path = f"/v1/tickets/{ticket['id']}"
    with travel(at(2026, 12, 8, 10, 0)):
        await comment(tenant.agent, ticket["id"], public=False, author=agent, body="Ghi chú nội bộ")
        await comment(tenant.agent, ticket["id"], public=True, author=agent)
    # The customer writes twice; the agent answers 30 minutes after the first message.
    with travel(at(2026, 12, 8, 11, 0)):
        await comment(tenant.agent, ticket["id"], public=True, author=contact, body="Đơn hàng của em đâu ạ?")
    with travel(at(2026, 12, 8, 11, 10)):
        await comment(tenant.agent, ticket["id"], public=True, author=contact, body="Em cần gấp")
    with travel(at(2026, 12, 8, 11, 30)):
        await comment(tenant.agent, ticket["id"], public=True, author=agent, status_kind="pending")
    # Pending from Tuesday 11:30 to Wednesday 10:00 (22.5 h; 5.5 + 1 business hours), then the
    # customer answers, which opens the ticket again.
    with travel(at(2026, 12, 9, 10, 0)):
        await comment(tenant.agent, ticket["id"], public=True, author=contact, body="Em gửi mã đơn")
    with travel(at(2026, 12, 9, 10, 20)):
        await comment(tenant.agent, ticket["id"], public=True, author=agent)
        metrics = await metrics_of(tenant, ticket["id"])
    assert metrics["first_reply"] == {"calendar": 18 * 60.0, "business": 120.0}
    assert metrics["next_replies"] == {"count": 2, "total": {"calendar": 50.0, "business": 50.0}}
    assert metrics["agent_replies"] == 3, "internal notes are no replies"
    assert metrics["agent_wait"] == {"calendar": 22.5 * 60, "business": 6.5 * 60}
    assert metrics["awaiting_reply_since"] is None

    with travel(at(2026, 12, 9, 11, 0)):
        await patch(tenant.agent, path, {"status_kind": "solved"})
    with travel(at(2026, 12, 10, 9, 0)):
        reopened = await tenant.agent.post(f"{path}/reopen")
        assert reopened.status_code == 200, reopened.text
        metrics = await metrics_of(tenant, ticket["id"])
    assert metrics["full_resolution"] == {"calendar": None, "business": None}, "unresolved again"
    with travel(at(2026, 12, 10, 9, 30)):
        await patch(tenant.agent, path, {"status_kind": "solved"})
        metrics = await metrics_of(tenant, ticket["id"])
    # Created Monday 16:00, last solved Thursday 09:30: 65.5 h; business 1 + 8 + 8 + 0.5 = 17.5 h.
    assert metrics["full_resolution"] == {"calendar": 65.5 * 60, "business": 17.5 * 60}
    assert metrics["reopens"] == 1
    # New and open: Mon 16:00-Tue 11:30 (19.5 h; 1 + 2.5 business), Wed 10:00-11:00 (1 h), and the
    # half hour after the reopening.
    assert metrics["requester_wait"] == {"calendar": (19.5 + 1 + 0.5) * 60, "business": (3.5 + 1 + 0.5) * 60}
    assert metrics["agent_wait"]["calendar"] == 22.5 * 60, "solved counts as nobody's wait"

    solved = await written_events(app, ticket["id"], "ticket.status_changed")
    assert solved[-1]["metrics"]["full_resolution"]["calendar"] == 65.5 * 60
    assert solved[-1]["metrics"]["reopens"] == 1
    added = await written_events(app, ticket["id"], "ticket.comment_added")
    public = [data for data in added if data["comment"]["public"]]
    assert len(public) == 6 and all("metrics" in data for data in public)
    assert public[-1]["metrics"]["next_replies"]["count"] == 2
    assert all("metrics" not in data for data in added if not data["comment"]["public"])
    updated = await written_events(app, ticket["id"], "ticket.updated")
    assert updated and all("metrics" not in data for data in updated), "not in every event"
    history = (await tenant.viewer.get(f"{path}/history", params={"limit": 200})).json()["items"]
    assert not {entry["field"] for entry in history} & {"reopens", "agent_wait_seconds", "agent_replies"}


async def test_the_sla_policys_calendar_counts_and_the_running_wait_shows(tenant: Tenant) -> None:
    # The workspace's first calendar works nights; the policy's works days: the policy's counts.
    await calendar(tenant.admin, name="Ca đêm", hours=[{"day": "monday", "start": "20:00", "end": "23:00"}])
    days = await calendar(tenant.admin, name="Giờ hành chính", hours=NINE_TO_FIVE)
    await policy(tenant.admin, [target("first_response", 600)], calendar_id=days["id"])
    with travel(at(2026, 12, 7, 8, 0)):
        ticket = await create_ticket(tenant.agent)
    with travel(at(2026, 12, 7, 10, 0)):
        await comment(tenant.agent, ticket["id"], public=True)  # by the system: no agent's reply
        metrics = await metrics_of(tenant, ticket["id"])
    assert metrics["first_reply"] == {"calendar": None, "business": None}
    assert metrics["awaiting_reply_since"] is not None
    assert metrics["requester_wait"] == {"calendar": 120.0, "business": 60.0}, "counted up to now"


async def test_metrics_without_a_calendar_and_who_sees_them(app: FastAPI, tenant: Tenant) -> None:
    with travel(at(2026, 12, 7, 8, 0)):
        ticket = await create_ticket(tenant.agent)
    with travel(at(2026, 12, 7, 8, 45)):
        await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "solved"})
        metrics = await metrics_of(tenant, ticket["id"])
    assert metrics["full_resolution"] == {"calendar": 45.0, "business": None}, "no calendar, no business time"

    restricted = await create_agent(tenant.admin, "han-che", ticket_access="restricted")
    await create_group(tenant.admin, "Nhóm Kho", [restricted["id"]])
    client = await agent_token_client(app, tenant, "han-che")
    assert (await client.get(f"/v1/tickets/{ticket['id']}/metrics")).status_code == 404
    seen = await create_ticket(tenant.agent, assignee_id=restricted["id"])
    assert (await client.get(f"/v1/tickets/{seen['id']}/metrics")).status_code == 200


def _migration() -> Any:
    """The revision that added the metrics, whose statements work them out for existing tickets."""
    path = next(Path("app/migrations/versions").glob("*_7d2f9c4e1a36_ticket_metrics.py"))
    spec = importlib.util.spec_from_file_location("ticket_metrics_revision", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_upgrade_works_out_the_calendar_metrics_of_existing_tickets(
    app: FastAPI, tenant: Tenant
) -> None:
    customer = await create_contact(tenant.agent, name="Anh Hùng", email="hung@example.vn")
    staff = await create_agent(tenant.admin, "cu", name="Chị Lan")
    agent, contact = {"type": "agent", "id": staff["id"]}, {"type": "contact", "id": customer["id"]}
    with travel(at(2026, 12, 7, 9, 0)):
        ticket = await create_ticket(tenant.agent, requester_id=customer["id"])
    path = f"/v1/tickets/{ticket['id']}"
    steps = [
        (at(2026, 12, 7, 9, 40), lambda: comment(tenant.agent, ticket["id"], public=True, author=agent)),
        (at(2026, 12, 7, 10, 0), lambda: comment(tenant.agent, ticket["id"], public=True, author=contact)),
        (at(2026, 12, 7, 10, 5), lambda: comment(tenant.agent, ticket["id"], public=True, author=contact)),
        (at(2026, 12, 7, 10, 25), lambda: comment(tenant.agent, ticket["id"], public=True, author=agent)),
        (at(2026, 12, 7, 11, 0), lambda: patch(tenant.agent, path, {"status_kind": "pending"})),
        (at(2026, 12, 7, 14, 0), lambda: patch(tenant.agent, path, {"status_kind": "solved"})),
        (at(2026, 12, 8, 9, 0), lambda: tenant.agent.post(f"{path}/reopen")),
        (at(2026, 12, 8, 9, 30), lambda: comment(tenant.agent, ticket["id"], public=True, author=contact)),
    ]
    for moment, step in steps:
        with travel(moment):
            await step()
    table = Ticket.__table__
    this_ticket = table.c.id == UUID(ticket["id"])
    read = select(*(table.c[name] for name in sorted(METRIC_COLUMNS))).where(this_ticket)
    async with app.state.db.sessionmaker() as session, session.begin():
        kept = (await session.execute(read)).mappings().one()
        # As the ticket was before the upgrade (then the upgrade's statements), rolled back after.
        defaults = {name: 0 if name in METRIC_COUNTERS else None for name in METRIC_COLUMNS}
        await session.execute(update(table).where(this_ticket).values(defaults))
        revision = _migration()
        for name in ("STATUS_PERIODS", "REPLIES", "FROM_THE_ROW", "NEVER_ANSWERED"):
            await session.execute(text(getattr(revision, name)))
        worked_out = (await session.execute(read)).mappings().one()
        await session.rollback()
    calendar_only = {name for name in kept if "business" not in name}
    assert {name: worked_out[name] for name in calendar_only} == {name: kept[name] for name in calendar_only}
    assert kept["reopens"] == 1 and kept["next_reply_count"] == 1 and kept["agent_wait_seconds"] == 3 * 3600
    assert worked_out["first_reply_business_seconds"] is None, "business time of the past is not known"
