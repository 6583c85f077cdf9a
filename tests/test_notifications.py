"""The agents' notifications: what produces them, once per agent per change, the feed, the live stream,
@mentions in internal notes, category watchers, and retention."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import time_machine
from fastapi import FastAPI
from sqlalchemy import func, select

from app.assignment.tasks import assign_waiting
from app.auth.principal import Principal
from app.config import Settings
from app.kit.mentions import mentioned_handles
from app.models import Notification
from app.models.enums import ActorType, NotificationKind, Role
from app.notifications.service import NotificationService
from app.notifications.tasks import purge_old_notifications
from app.sla.tasks import announce_due
from app.tickets.repository import TicketRepository
from tests.conftest import Tenant, make_client
from tests.factories import (
    create,
    create_agent,
    create_category,
    create_contact,
    create_group,
    create_ticket,
    mint_agent_token,
    rotate_token_secret,
)
from tests.test_stream import next_messages, open_stream


@dataclass
class Staff:
    """Agents of a tenant, each with its own agent token and client."""

    ids: dict[str, str]
    tokens: dict[str, str]
    clients: dict[str, httpx.AsyncClient]


async def hire(app: FastAPI, tenant: Tenant, **agents: dict[str, Any]) -> Staff:
    """Agents named by their external id, with their fields; one token secret signs all their tokens."""
    ids = {name: (await create_agent(tenant.admin, name, **fields))["id"] for name, fields in agents.items()}
    kid, secret = await rotate_token_secret(tenant.admin)
    tokens = {name: mint_agent_token(kid, secret, name) for name in agents}
    return Staff(ids, tokens, {name: make_client(app, token) for name, token in tokens.items()})


async def feed(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def note(client: httpx.AsyncClient, ticket_id: str, body: str, **fields: Any) -> httpx.Response:
    return await client.post(
        f"/v1/tickets/{ticket_id}/comments", json={"body": body, "public": False, **fields}
    )


# What produces them


async def test_an_assignment_notifies_the_new_assignee_but_not_who_assigned_themselves(
    app: FastAPI, tenant: Tenant
) -> None:
    staff = await hire(app, tenant, lan={}, minh={})
    lan, minh = staff.clients["lan"], staff.clients["minh"]
    ticket = await create_ticket(lan, subject="Máy in không hoạt động")
    response = await lan.post(f"/v1/tickets/{ticket['id']}/assign", json={"agent_id": staff.ids["minh"]})
    assert response.status_code == 200, response.text
    [assigned] = await feed(minh)
    assert assigned["kind"] == "assigned" and assigned["ticket_id"] == ticket["id"]
    assert assigned["actor"] == {"type": "agent", "id": staff.ids["lan"]}
    assert assigned["summary"] == f"Bạn được giao phiếu #{ticket['number']}: Máy in không hoạt động"
    assert assigned["read_at"] is None

    mine = await create_ticket(lan, subject="Tự nhận")
    await lan.post(f"/v1/tickets/{mine['id']}/assign", json={"agent_id": staff.ids["lan"]})
    assert await feed(lan) == [], "taking a ticket oneself is no news"


async def test_a_waiting_ticket_handed_out_by_the_worker_notifies_its_agent(
    app: FastAPI, settings: Settings, tenant: Tenant
) -> None:
    staff = await hire(app, tenant, mai={"availability": "offline"})
    group = await create_group(
        tenant.admin, "Trực đêm", [staff.ids["mai"]], assignment_strategy="round_robin"
    )
    ticket = await create_ticket(tenant.agent, subject="Chờ người nhận", group_id=group["id"])
    assert ticket["assignee_id"] is None
    await tenant.admin.patch(f"/v1/agents/{staff.ids['mai']}", json={"availability": "online"})
    await assign_waiting(app.state.db, settings)
    [assigned] = await feed(staff.clients["mai"])
    assert (assigned["kind"], assigned["ticket_id"]) == ("assigned", ticket["id"])
    assert assigned["actor"] == {"type": "system", "id": group["id"]}


async def test_one_notification_per_agent_per_change_with_the_most_specific_reason(
    app: FastAPI, tenant: Tenant
) -> None:
    staff = await hire(app, tenant, thu={})
    category = await create_category(tenant.admin, "Bảo hành")
    await tenant.admin.put(f"/v1/categories/{category['id']}/watchers/{staff.ids['thu']}")
    # Assigned to her, in a category she watches, in one change: one notification.
    ticket = await create_ticket(tenant.agent, category_id=category["id"], assignee_id=staff.ids["thu"])
    [only] = await feed(staff.clients["thu"])
    assert only["kind"] == "assigned" and only["ticket_id"] == ticket["id"]

    # A mention and an assignment told of the same change: the mention is kept.
    thu = UUID(staff.ids["thu"])
    async with app.state.db.sessionmaker() as session, session.begin():
        principal = Principal(tenant.workspace_id, Role.admin, ActorType.system, tenant.workspace_id)
        row = await TicketRepository(session, tenant.workspace_id).get(UUID(ticket["id"]))
        reasons = [(thu, NotificationKind.assigned), (thu, NotificationKind.mentioned)]
        written = await NotificationService(session, tenant.workspace_id).notify(principal, row, reasons)
    assert [item.kind for item in written] == [NotificationKind.mentioned]


async def test_a_mention_in_a_note_notifies_and_makes_a_follower(app: FastAPI, tenant: Tenant) -> None:
    staff = await hire(
        app,
        tenant,
        lan={"email": "lan.nguyen@anhduong.vn"},
        **{"crm-duc": {"name": "Trần Đức"}},
        hoa={"email": "hoa@anhduong.vn"},
    )
    lan = staff.clients["lan"]
    ticket = await create_ticket(tenant.agent, subject="Hoàn tiền đơn #5521")
    body = (
        "Nhờ @crm-duc kiểm tra giao dịch, và @lan.nguyen xem lại. Khách gửi từ hoa@anhduong.vn, "
        "@khong-ai-ca thì không có ai. @lan.nguyen nhắc lại."
    )
    response = await note(lan, ticket["id"], body)
    assert response.status_code == 201, response.text
    comment_id = response.json()["id"]

    [mention] = await feed(staff.clients["crm-duc"])
    assert mention["kind"] == "mentioned" and mention["comment_id"] == comment_id
    assert mention["summary"].startswith("Bạn được nhắc đến trong ghi chú nội bộ của phiếu #")
    assert await feed(lan) == [], "mentioning oneself tells oneself nothing"
    assert await feed(staff.clients["hoa"]) == [], "an email address mentions nobody"

    fetched = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
    assert set(fetched["followers"]) == {staff.ids["crm-duc"], staff.ids["lan"]}
    history = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/history")).json()["items"]
    [followed] = [entry for entry in history if entry["field"] == "followers"]
    assert set(followed["new_value"]) == {staff.ids["crm-duc"], staff.ids["lan"]}
    assert followed["actor_id"] == staff.ids["lan"]


def test_handles_are_read_from_words_not_from_email_addresses() -> None:
    text = "(@An) gửi @Bình.Trần, cc an@shop.vn, @@x, email@ và @crm-42."
    assert mentioned_handles(text) == ["an", "bình.trần", "crm-42"]


async def test_a_mention_of_an_agent_who_may_not_see_the_ticket_is_refused(
    app: FastAPI, tenant: Tenant
) -> None:
    staff = await hire(app, tenant, lan={}, kho={"ticket_access": "restricted"})
    ticket = await create_ticket(tenant.agent, subject="Đơn hàng bị thất lạc")
    response = await note(staff.clients["lan"], ticket["id"], "Anh @kho kiểm tra kho giúp em")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == "body" and problem["handle"] == "kho" and "@kho" in problem["detail"]
    comments = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/comments")).json()["items"]
    assert comments == [], "the note is not written"
    fetched = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
    assert fetched["followers"] == []
    assert await feed(staff.clients["kho"]) == []

    # Once the ticket is theirs to see, the mention goes through.
    group = await create_group(tenant.admin, "Kho vận", [staff.ids["kho"]])
    await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"group_id": group["id"]})
    assert (await note(staff.clients["lan"], ticket["id"], "Anh @kho xem nhé")).status_code == 201
    assert [item["kind"] for item in await feed(staff.clients["kho"])] == ["mentioned"]


async def test_a_customer_reply_notifies_the_assignee_and_the_followers(app: FastAPI, tenant: Tenant) -> None:
    staff = await hire(app, tenant, lan={}, minh={}, thu={})
    customer = await create_contact(tenant.agent, name="Chị Ngọc", email="ngoc@example.vn")
    ticket = await create_ticket(
        tenant.agent,
        requester_id=customer["id"],
        assignee_id=staff.ids["lan"],
        followers=[staff.ids["minh"]],
    )
    reply = {"body": "Em vẫn chưa nhận được hàng", "public": True}
    response = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={**reply, "author": {"type": "contact", "id": customer["id"]}},
    )
    assert response.status_code == 201, response.text
    assert [item["kind"] for item in await feed(staff.clients["minh"])] == ["customer_replied"]
    kinds = [item["kind"] for item in await feed(staff.clients["lan"])]
    assert kinds == ["customer_replied", "assigned"]
    assert await feed(staff.clients["thu"]) == []

    # The assignee's own reply tells the followers nothing.
    await staff.clients["lan"].post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "Dạ em kiểm tra"})
    assert len(await feed(staff.clients["minh"])) == 1


async def test_sla_announcements_go_to_the_assignee_or_else_to_the_group(
    app: FastAPI, settings: Settings, tenant: Tenant
) -> None:
    staff = await hire(app, tenant, lan={}, minh={}, thu={})
    group = await create_group(tenant.admin, "Chăm sóc khách hàng", [staff.ids["minh"], staff.ids["thu"]])
    targets = [{"priority": "normal", "metric": "first_response", "minutes": 60, "business_hours": False}]
    await create(
        tenant.admin,
        "/v1/sla-policies",
        {"name": "Phản hồi trong 1 giờ", "targets": targets, "warn_at_percent": 80},
    )
    start = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        assigned = await create_ticket(tenant.agent, subject="Có người nhận", assignee_id=staff.ids["lan"])
        waiting = await create_ticket(tenant.agent, subject="Chờ trong nhóm", group_id=group["id"])
    with time_machine.travel(start + timedelta(minutes=50), tick=False):
        await announce_due(app.state.db, settings, start + timedelta(minutes=50))
    [warning] = [item for item in await feed(staff.clients["lan"]) if item["kind"] == "sla_warning"]
    assert warning["ticket_id"] == assigned["id"] and warning["actor"]["type"] == "system"
    assert "sắp đến hạn xử lý" in warning["summary"]
    for member in ("minh", "thu"):
        [item] = await feed(staff.clients[member])
        assert (item["kind"], item["ticket_id"]) == ("sla_warning", waiting["id"])

    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        await announce_due(app.state.db, settings, start + timedelta(minutes=61))
    kinds = [item["kind"] for item in await feed(staff.clients["lan"])]
    assert kinds == ["sla_breached", "sla_warning", "assigned"]


async def test_watchers_of_a_category_and_of_its_parents_hear_of_opening_and_closing(
    app: FastAPI, tenant: Tenant
) -> None:
    staff = await hire(app, tenant, lan={}, **{"truong-nhom": {"ticket_access": "restricted"}})
    parent = await create_category(tenant.admin, "Thanh toán")
    child = await create_category(tenant.admin, "Hoàn tiền", parent_id=parent["id"])
    other = await create_category(tenant.admin, "Giao hàng")
    response = await tenant.admin.put(f"/v1/categories/{parent['id']}/watchers/{staff.ids['truong-nhom']}")
    assert response.status_code == 204

    ticket = await create_ticket(staff.clients["lan"], subject="Hoàn tiền chưa về", category_id=child["id"])
    await create_ticket(staff.clients["lan"], subject="Giao nhầm", category_id=other["id"])
    watcher = staff.clients["truong-nhom"]
    [opened] = await feed(watcher)
    assert (opened["kind"], opened["ticket_id"]) == ("category_opened", ticket["id"])
    seen = await watcher.get(f"/v1/tickets/{ticket['id']}")
    assert seen.status_code == 200, "a watcher of the parent sees the sub-category's tickets"

    closed = await staff.clients["lan"].patch(f"/v1/tickets/{ticket['id']}", json={"status_kind": "closed"})
    assert closed.status_code == 200, closed.text
    assert [item["kind"] for item in await feed(watcher)] == ["category_closed", "category_opened"]


# The feed


async def test_the_feed_pages_newest_first_and_marks_read(app: FastAPI, tenant: Tenant) -> None:
    staff = await hire(app, tenant, lan={}, minh={})
    lan, minh = staff.clients["lan"], staff.clients["minh"]
    start = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
    tickets = []
    for minutes in range(3):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            tickets.append(
                await create_ticket(tenant.agent, subject=f"Phiếu {minutes}", assignee_id=staff.ids["minh"])
            )
    first = await minh.get("/v1/notifications", params={"limit": 2})
    assert [item["ticket_id"] for item in first.json()["items"]] == [tickets[2]["id"], tickets[1]["id"]]
    rest = await minh.get("/v1/notifications", params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [item["ticket_id"] for item in rest.json()["items"]] == [tickets[0]["id"]]
    assert rest.json()["next_cursor"] is None
    assert (await minh.get("/v1/notifications/unread-count")).json() == {"unread": 3}

    newest = first.json()["items"][0]
    read = await minh.post(f"/v1/notifications/{newest['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = await minh.post(f"/v1/notifications/{newest['id']}/read")
    assert again.json()["read_at"] == read.json()["read_at"], "read once, at the first time"
    assert (await minh.get("/v1/notifications/unread-count")).json() == {"unread": 2}
    assert [item["id"] for item in await feed(minh, unread="false")] == [newest["id"]]
    assert len(await feed(minh, unread="true")) == 2

    assert (await lan.post(f"/v1/notifications/{newest['id']}/read")).status_code == 404, "not hers"
    assert (await minh.post("/v1/notifications/read-all")).json() == {"marked": 2}
    assert (await minh.get("/v1/notifications/unread-count")).json() == {"unread": 0}
    assert await feed(minh, unread="true") == []


async def test_the_feed_is_an_agents_own(app: FastAPI, tenant: Tenant, other_tenant: Tenant) -> None:
    staff = await hire(app, tenant, minh={})
    await create_ticket(tenant.agent, assignee_id=staff.ids["minh"])
    [mine] = await feed(staff.clients["minh"])
    response = await tenant.admin.get("/v1/notifications")
    assert response.status_code == 404 and response.json()["code"] == "not_an_agent"
    assert (await tenant.agent.get("/v1/notifications/unread-count")).status_code == 404
    assert (await tenant.anonymous.get("/v1/notifications")).status_code == 401

    stranger = await hire(app, other_tenant, minh={})
    assert await feed(stranger.clients["minh"]) == []
    assert (await stranger.clients["minh"].post(f"/v1/notifications/{mine['id']}/read")).status_code == 404
    assert (await stranger.clients["minh"].post("/v1/notifications/read-all")).json() == {"marked": 0}
    assert (await staff.clients["minh"].get("/v1/notifications/unread-count")).json() == {"unread": 1}


async def test_the_stream_and_the_change_feed_tell_only_the_agent_concerned(
    app: FastAPI, live_url: str, tenant: Tenant
) -> None:
    staff = await hire(app, tenant, lan={}, minh={})
    only_notifications = {"types": "notification.created"}
    async with (
        open_stream(live_url, staff.tokens["lan"], only_notifications) as for_lan,
        open_stream(live_url, staff.tokens["minh"], only_notifications) as for_minh,
    ):
        for_minh_ticket = await create_ticket(tenant.agent, subject="Cho Minh", assignee_id=staff.ids["minh"])
        for_lan_ticket = await create_ticket(tenant.agent, subject="Cho Lan", assignee_id=staff.ids["lan"])
        [to_lan] = await next_messages(for_lan, 1)
        [to_minh] = await next_messages(for_minh, 1)
    assert to_lan["event"] == "notification.created"
    assert json.loads(to_lan["data"])["data"]["notification"]["ticket_id"] == for_lan_ticket["id"]
    assert json.loads(to_minh["data"])["data"]["notification"]["ticket_id"] == for_minh_ticket["id"]

    everything = (await tenant.admin.get("/v1/events", params={"types": "notification.created"})).json()
    assert everything["items"] == [], "an API key reads no agent's notifications"
    own = (await staff.clients["minh"].get("/v1/events", params={"types": "notification.created"})).json()[
        "items"
    ]
    assert [event["data"]["notification"]["ticket_id"] for event in own] == [for_minh_ticket["id"]]


async def test_webhooks_receive_notifications_only_when_they_name_them() -> None:
    from app.models import Webhook
    from app.webhooks.tasks import _subscribed

    assert not _subscribed(Webhook(event_types=["*"]), "notification.created")
    assert _subscribed(Webhook(event_types=["*"]), "ticket.created")
    assert _subscribed(Webhook(event_types=["notification.created"]), "notification.created")


# Retention


async def test_notifications_older_than_90_days_are_purged(app: FastAPI, tenant: Tenant) -> None:
    staff = await hire(app, tenant, minh={})
    # Long before the other tests' notifications, which are not this purge's to delete.
    now = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    for days in (91, 89):
        with time_machine.travel(now - timedelta(days=days), tick=False):
            await create_ticket(tenant.agent, subject=f"{days} ngày trước", assignee_id=staff.ids["minh"])
    assert await purge_old_notifications(app.state.db, now, batch=1) == 1
    assert await purge_old_notifications(app.state.db, now, batch=1) == 0
    [kept] = await feed(staff.clients["minh"])
    assert kept["summary"].endswith("89 ngày trước")
    async with app.state.db.sessionmaker() as session:
        statement = select(func.count()).where(Notification.workspace_id == tenant.workspace_id)
        assert await session.scalar(statement) == 1
