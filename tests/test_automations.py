"""Automations: rules that act when time has passed, run by the workers from each ticket's next time.

Hours cannot be waited for here: the tests hand the workers' task a clock of their own (`now`), and
travel in time (time-machine) where a ticket's moments must fall on given days.
"""

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from app.automations.tasks import act_on_due, rescan
from app.config import Settings
from app.kit.time import utcnow
from app.models import Event, Ticket
from app.models.enums import ActorType
from tests.conftest import Tenant
from tests.factories import create, create_agent, create_group, create_ticket, create_webhook, status_id
from tests.receiver import Behaviour, Receiver
from tests.test_call_url import deliver
from tests.test_email_channel import Outbox, email_channel
from tests.test_email_channel import outbox as outbox  # a fixture
from tests.test_notifications import Staff, feed
from tests.test_notify_action import notify, parsed, send_emails, text_macro, text_of, use_channel
from tests.test_notify_action import staff as staff  # a fixture
from tests.test_sla import NINE_TO_FIVE, at, calendar, travel
from tests.test_triggers import comments_of, get_ticket, history_of, macro
from tests.test_webhooks import verify


def since(field: str, hours: float, operator: str = "at_least", **extra: Any) -> dict[str, Any]:
    return {"field": f"hours_since_{field}", "operator": operator, "value": hours, **extra}


def condition(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


async def automation(
    client: httpx.AsyncClient, name: str, all_of: list[Any], actions: list[Any], **fields: Any
):
    body = {"name": name, "conditions": {"all": all_of}, "actions": actions, **fields}
    return await create(client, "/v1/automations", body)


async def set_status(tenant: Tenant, ticket_id: str, kind: str) -> dict[str, Any]:
    response = await tenant.admin.patch(f"/v1/tickets/{ticket_id}", json={"status_kind": kind})
    assert response.status_code == 200, response.text
    return response.json()


async def due_at(app: FastAPI, ticket_id: str) -> Any:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(Ticket.automation_due_at).where(Ticket.id == ticket_id))


def by_automation(history: list[dict[str, Any]], automation_id: str) -> list[dict[str, Any]]:
    return [row for row in history if (row["actor_type"], row["actor_id"]) == ("automation", automation_id)]


CLOSE_SOLVED = [condition("status_kind", "equals", "solved"), since("solved", 72)]


# Setting up


async def test_admins_set_up_automations_listed_in_running_order(tenant: Tenant) -> None:
    later = await automation(
        tenant.admin, "Đóng phiếu đã giải quyết sau 72 giờ", CLOSE_SOLVED,
        [{"type": "set_status", "status_kind": "closed"}], position=5,
    )  # fmt: skip
    first = await automation(
        tenant.admin,
        "Nhắc phiếu khẩn chưa giao",
        [condition("priority", "equals", "urgent"), since("created", 0.5)],
        [{"type": "add_tags", "tags": ["can-gap"]}],
        position=1,
    )
    assert later["conditions"]["all"][1] == {
        "field": "hours_since_solved",
        "operator": "at_least",
        "value": 72,
    }
    listed = (await tenant.viewer.get("/v1/automations")).json()["items"]
    assert [item["id"] for item in listed] == [first["id"], later["id"]]

    response = await tenant.admin.patch(
        f"/v1/automations/{first['id']}", json={"active": False}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    inactive = (await tenant.viewer.get("/v1/automations", params={"active": "false"})).json()["items"]
    assert [item["id"] for item in inactive] == [first["id"]]
    stale = await tenant.admin.delete(f"/v1/automations/{first['id']}", headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await tenant.admin.delete(f"/v1/automations/{first['id']}")).status_code == 204
    assert (await tenant.viewer.get(f"/v1/automations/{first['id']}")).status_code == 404


async def test_an_automation_must_wait_for_time_and_name_what_exists(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    other_calendar = await calendar(other_tenant.admin, hours=NINE_TO_FIVE)
    refused = {
        "no time condition": [condition("status_kind", "equals", "solved")],
        "only less_than": [since("created", 4, "less_than")],
        "a change operator": [since("created", 4), {"field": "priority", "operator": "changed"}],
        "an event field": [since("created", 4), condition("comment_public", "equals", True)],
        "business_hours": [since("created", 4), condition("business_hours", "within", other_calendar["id"])],
        "no hours": [since("created", 0)],
        "hours as text": [since("created", "72")],
        "too many hours": [since("created", 24 * 365 * 3)],
        "calendar on another field": [
            {**condition("priority", "equals", "high"), "calendar_id": other_calendar["id"]}
        ],
    }
    for reason, conditions in refused.items():
        body = {
            "name": reason,
            "conditions": {"all": conditions},
            "actions": [{"type": "add_tags", "tags": ["x"]}],
        }
        response = await tenant.admin.post("/v1/automations", json=body)
        assert response.status_code == 422, (reason, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    in_any = {
        "name": "time in any",
        "conditions": {"all": [since("created", 1)], "any": [since("updated", 2)]},
        "actions": [{"type": "add_tags", "tags": ["x"]}],
    }
    assert (await tenant.admin.post("/v1/automations", json=in_any)).status_code == 422
    foreign = {
        "name": "another workspace's calendar",
        "conditions": {"all": [since("created", 8, calendar_id=other_calendar["id"])]},
        "actions": [{"type": "add_tags", "tags": ["x"]}],
    }
    response = await tenant.admin.post("/v1/automations", json=foreign)
    assert response.status_code == 422
    assert response.json()["field"] == "conditions.all.0.calendar_id"
    viewer = await tenant.viewer.post(
        "/v1/automations", json={**foreign, "conditions": {"all": [since("created", 8)]}}
    )
    assert viewer.status_code == 403
    # Triggers and SLA policies act on a change or at once: they do not look at the time since.
    trigger = {
        "name": "time in a trigger",
        "events": ["ticket.updated"],
        "conditions": {"all": [since("created", 1)]},
        "actions": [{"type": "add_tags", "tags": ["x"]}],
    }
    assert (await tenant.admin.post("/v1/triggers", json=trigger)).status_code == 422


# Acting


async def test_solved_tickets_are_closed_72_hours_after_they_were_solved(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    closing = await automation(
        tenant.admin, "Đóng phiếu sau 72 giờ", CLOSE_SOLVED, [{"type": "set_status", "status_kind": "closed"}]
    )
    ticket = await create_ticket(tenant.admin, subject="Đơn hàng #1289 giao thiếu")
    assert await due_at(app, ticket["id"]) is None  # not solved: nothing to wait for
    solved_at = utcnow()
    await set_status(tenant, ticket["id"], "solved")
    due = await due_at(app, ticket["id"])
    assert abs(due - (solved_at + timedelta(hours=72))) < timedelta(seconds=5)

    await act_on_due(app.state.db, settings, due - timedelta(minutes=1))
    assert (await get_ticket(tenant, ticket["id"]))["status_kind"] == "solved"
    await act_on_due(app.state.db, settings, due)
    closed = await get_ticket(tenant, ticket["id"])
    assert closed["status_kind"] == "closed"
    changes = by_automation(await history_of(tenant, ticket["id"]), closing["id"])
    assert {row["field"] for row in changes} >= {"status_id"}
    async with app.state.db.sessionmaker() as session:
        actors = (
            await session.execute(
                select(Event.actor_type, Event.actor_id).where(
                    Event.subject_id == ticket["id"], Event.type == "ticket.status_changed"
                )
            )
        ).all()
    assert (ActorType.automation, UUID(closing["id"])) in actors
    assert await due_at(app, ticket["id"]) is None


async def test_an_automation_acts_once_until_its_conditions_stop_holding(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    agent = await create_agent(tenant.admin, "truc-ca", name="Phạm Văn Trực")
    escalation = await create_group(tenant.admin, "Trưởng ca", [agent["id"]])
    escalate = await automation(
        tenant.admin,
        "Phiếu khẩn chưa ai nhận sau 30 phút",
        [
            condition("priority", "equals", "urgent"),
            condition("assignee_id", "equals", None),
            since("created", 0.5),
        ],
        [
            {"type": "set_group", "group_id": escalation["id"]},
            {"type": "add_tags", "tags": ["da-bao-truong-ca"]},
        ],
    )
    start = at(2026, 12, 14, 9, 0)
    with travel(start):
        ticket = await create_ticket(tenant.admin, subject="Mất kết nối tổng đài", priority="urgent")
    await act_on_due(app.state.db, settings, start + timedelta(minutes=31))
    escalated = await get_ticket(tenant, ticket["id"])
    assert escalated["group_id"] == escalation["id"]
    assert "da-bao-truong-ca" in escalated["tags"]
    # Neither its own change nor one that leaves its conditions holding makes it act again.
    with travel(start + timedelta(hours=1)):
        response = await tenant.admin.patch(
            f"/v1/tickets/{ticket['id']}", json={"remove_tags": ["da-bao-truong-ca"]}
        )
    assert response.status_code == 200, response.text
    await act_on_due(app.state.db, settings, start + timedelta(hours=6))
    history = by_automation(await history_of(tenant, ticket["id"]), escalate["id"])
    assert len({row["change_id"] for row in history}) == 1
    assert "da-bao-truong-ca" not in (await get_ticket(tenant, ticket["id"]))["tags"]

    # Assigned, its conditions stop holding; unassigned again, they hold anew and it acts again.
    for hours, assignee in ((7, agent["id"]), (8, None)):
        with travel(start + timedelta(hours=hours)):
            response = await tenant.admin.patch(f"/v1/tickets/{ticket['id']}", json={"assignee_id": assignee})
        assert response.status_code == 200, response.text
    await act_on_due(app.state.db, settings, start + timedelta(hours=9))
    assert "da-bao-truong-ca" in (await get_ticket(tenant, ticket["id"]))["tags"]
    history = by_automation(await history_of(tenant, ticket["id"]), escalate["id"])
    assert len({row["change_id"] for row in history}) == 2


async def test_pending_customers_are_reminded_after_2_business_days_and_closed_after_5(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    hours = await calendar(tenant.admin)
    reminder = await macro(
        tenant.admin,
        "Nhắc khách",
        "Dạ anh/chị {{ requester.name }} ơi, phiếu #{{ ticket.number }} đang chờ phản hồi ạ.",
    )
    pending = condition("status_kind", "equals", "pending")
    remind = await automation(
        tenant.admin,
        "Nhắc khách sau 2 ngày làm việc",
        [pending, since("status_entered", 16, calendar_id=hours["id"])],
        [{"type": "add_comment", "macro_id": reminder["id"], "public": True}],
    )
    close = await automation(
        tenant.admin,
        "Đóng sau 5 ngày làm việc",
        [pending, since("status_entered", 40, calendar_id=hours["id"])],
        [{"type": "set_status", "status_kind": "closed"}],
        position=1,
    )
    with travel(at(2026, 12, 11, 16, 0)):  # a Friday, 16:00
        ticket = await create_ticket(
            tenant.admin,
            subject="Hỏi về bảo hành",
            requester={"name": "Nguyễn Thị Hoa", "email": "hoa@khach.vn"},
        )
        await set_status(tenant, ticket["id"], "pending")
    # Friday 16-17, Monday 9-17, Tuesday 9-16: 16 business hours.
    assert await due_at(app, ticket["id"]) == at(2026, 12, 15, 16, 0)
    await act_on_due(app.state.db, settings, at(2026, 12, 15, 15, 59))
    assert await comments_of(tenant, ticket["id"]) == []
    await act_on_due(app.state.db, settings, at(2026, 12, 15, 16, 0))
    comments = await comments_of(tenant, ticket["id"])
    assert comments[-1]["public"] is True
    assert "Nguyễn Thị Hoa" in comments[-1]["body"]
    assert remind["id"]
    again = await get_ticket(tenant, ticket["id"])
    assert again["status_kind"] == "pending"
    # 40 business hours from Friday 16:00: the next Friday, 16:00.
    assert await due_at(app, ticket["id"]) == at(2026, 12, 18, 16, 0)
    await act_on_due(app.state.db, settings, at(2026, 12, 18, 16, 0))
    assert (await get_ticket(tenant, ticket["id"]))["status_kind"] == "closed"
    assert by_automation(await history_of(tenant, ticket["id"]), close["id"])
    assert len(await comments_of(tenant, ticket["id"])) == 1


async def test_workers_side_by_side_act_once(app: FastAPI, tenant: Tenant, settings: Settings) -> None:
    note = await macro(tenant.admin, "Ghi chú quá hạn", "Phiếu đã mở quá 1 giờ.")
    noting = await automation(
        tenant.admin,
        "Ghi chú sau 1 giờ",
        [since("created", 1)],
        [{"type": "add_comment", "macro_id": note["id"], "public": False}],
    )
    tickets = [await create_ticket(tenant.admin, subject=f"Phiếu số {n}") for n in range(5)]
    later = utcnow() + timedelta(hours=2)
    await asyncio.gather(*(act_on_due(app.state.db, settings, later) for _ in range(4)))
    for ticket in tickets:
        notes = [item for item in await comments_of(tenant, ticket["id"]) if not item["public"]]
        assert len(notes) == 1, ticket["subject"]
        assert await due_at(app, ticket["id"]) is None
    assert noting["id"]


async def test_tickets_already_there_are_scheduled_when_an_automation_is_made(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    solved = await status_id(tenant.admin, "solved")
    tickets = [await create_ticket(tenant.admin, subject=f"Cũ {n}", status_id=solved) for n in range(3)]
    other = await create_ticket(tenant.admin, subject="Vẫn đang mở")
    assert await due_at(app, tickets[0]["id"]) is None
    await automation(
        tenant.admin,
        "Đóng phiếu đã giải quyết",
        CLOSE_SOLVED,
        [{"type": "set_status", "status_kind": "closed"}],
    )
    while await rescan(app.state.db, utcnow()):
        pass
    for ticket in tickets:
        assert await due_at(app, ticket["id"]) is not None
    assert await due_at(app, other["id"]) is None
    await act_on_due(app.state.db, settings, utcnow() + timedelta(hours=73))
    assert {(await get_ticket(tenant, t["id"]))["status_kind"] for t in tickets} == {"closed"}


async def test_a_deleted_automation_leaves_its_tickets_alone(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    made = await automation(
        tenant.admin, "Gắn nhãn sau 1 giờ", [since("created", 1)], [{"type": "add_tags", "tags": ["cu"]}]
    )
    ticket = await create_ticket(tenant.admin, subject="Không còn quy tắc")
    assert await due_at(app, ticket["id"]) is not None
    assert (await tenant.admin.delete(f"/v1/automations/{made['id']}")).status_code == 204
    await act_on_due(app.state.db, settings, utcnow() + timedelta(hours=2))
    assert (await get_ticket(tenant, ticket["id"]))["tags"] == []
    assert await due_at(app, ticket["id"]) is None


async def test_an_automation_that_cannot_act_says_so_once(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    agent = await create_agent(tenant.admin, "nghi-viec", name="Đỗ Minh")
    assigning = await automation(
        tenant.admin,
        "Giao cho anh Minh sau 1 giờ",
        [since("created", 1)],
        [{"type": "set_assignee", "assignee_id": agent["id"]}],
    )
    response = await tenant.admin.patch(f"/v1/agents/{agent['id']}", json={"active": False})
    assert response.status_code == 200, response.text
    ticket = await create_ticket(tenant.admin, subject="Không giao được")
    for hours in (2, 3):
        await act_on_due(app.state.db, settings, utcnow() + timedelta(hours=hours))
    failures = [
        row
        for row in by_automation(await history_of(tenant, ticket["id"]), assigning["id"])
        if row["field"] == "automations"
    ]
    assert len(failures) == 1
    assert "failed" in failures[0]["new_value"]
    assert (await get_ticket(tenant, ticket["id"]))["assignee_id"] is None


# Telling people


async def test_an_automation_escalates_to_the_group_in_the_feed_and_by_email(
    app: FastAPI, tenant: Tenant, settings: Settings, staff: Staff, outbox: Outbox
) -> None:
    mailbox = await email_channel(tenant, outbox)
    await use_channel(tenant, mailbox["id"])
    shift = await create_group(tenant.admin, "Ca trực", [staff.ids["lan"], staff.ids["minh"]])
    text = await text_macro(tenant, body="Phiếu #{{ ticket.number }} chưa ai nhận sau 30 phút.")
    escalating = await automation(
        tenant.admin,
        "Báo ca trực phiếu chưa ai nhận",
        [condition("assignee_id", "equals", None), since("created", 0.5)],
        [notify(text, "group", via=("feed", "email"))],
    )
    start = at(2026, 12, 14, 10, 0)
    with travel(start):
        ticket = await create_ticket(tenant.admin, subject="Khách chờ tư vấn", group_id=shift["id"])
    await act_on_due(app.state.db, settings, start + timedelta(minutes=29))
    assert await feed(staff.clients["lan"]) == []
    await act_on_due(app.state.db, settings, start + timedelta(minutes=30))
    for agent in ("lan", "minh"):
        [notified] = await feed(staff.clients[agent])
        assert notified["kind"] == "rule" and notified["actor"] == {
            "type": "automation",
            "id": escalating["id"],
        }
        assert notified["summary"] == f"Phiếu #{ticket['number']} chưa ai nhận sau 30 phút."
    await send_emails(app, settings)
    mails = parsed(outbox)
    assert sorted(mails) == ["lan@shophoa.vn", "minh@shophoa.vn"]
    assert text_of(mails["lan@shophoa.vn"]) == f"Phiếu #{ticket['number']} chưa ai nhận sau 30 phút."
    # Acted once: a later look tells nobody again.
    await act_on_due(app.state.db, settings, start + timedelta(hours=3))
    await send_emails(app, settings)
    assert len(outbox.raw) == 2
    assert len(await feed(staff.clients["lan"])) == 1


async def test_an_automation_calls_a_url_with_a_signed_body(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    webhook = await create_webhook(tenant.admin, receiver.on("/crm/qua-han", Behaviour()), event_types=[])
    body = {"su_kien": "phieu_qua_han", "so": "{{ ticket.number }}", "tieu_de": "{{ ticket.subject }}"}
    await automation(
        tenant.admin,
        "Báo CRM phiếu mở quá 1 ngày",
        [condition("status_kind", "in", ["new", "open"]), since("created", 24)],
        [{"type": "call_url", "webhook_id": webhook["id"], "body": body}],
    )
    ticket = await create_ticket(tenant.admin, subject='Khiếu nại "giao trễ"')
    later = utcnow() + timedelta(hours=25)
    await act_on_due(app.state.db, settings, later)
    assert await deliver(app, tenant, utcnow()) == 1
    [request] = receiver.at("/crm/qua-han")
    payload = verify(request, webhook["secret"])
    assert payload == {
        "su_kien": "phieu_qua_han",
        "so": str(ticket["number"]),
        "tieu_de": 'Khiếu nại "giao trễ"',
    }
