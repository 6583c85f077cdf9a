"""The `notify` action of triggers: who it reaches in the feed and by email (caught by a real SMTP server
on 127.0.0.1), once per recipient per change, never the customer for an internal note, the workspace's
notification channel, and sending by the worker with retries, never twice."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from sqlalchemy import select, update

from app.config import Settings
from app.kit.outbound import outbound_policy
from app.models import Event, NotificationEmail
from app.models.enums import NotificationEmailState
from app.notifications.tasks import EMAIL_RETRIES, send_due_emails
from tests.conftest import Tenant
from tests.factories import create, create_category, create_group, create_ticket
from tests.test_comments import comment
from tests.test_email_channel import Outbox, email_channel
from tests.test_email_channel import outbox as outbox  # a fixture
from tests.test_notifications import Staff, feed, hire, note
from tests.test_sla import travel
from tests.test_triggers import history_of, macro, trigger

CUSTOMER = "hoa.nguyen@gmail.com"
TEXT = "Phiếu #{{ ticket.number }} ({{ ticket.subject }}) cần được xử lý gấp."


def notify(macro_id: str, *to: str, via: tuple[str, ...] = ("feed",), **fields: Any) -> dict[str, Any]:
    return {"type": "notify", "to": list(to), "via": list(via), "macro_id": macro_id, **fields}


async def text_macro(tenant: Tenant, name: str = "Báo gấp", body: str = TEXT) -> str:
    return (await macro(tenant.admin, name, body))["id"]


async def use_channel(tenant: Tenant, channel_id: str | None) -> None:
    response = await tenant.admin.patch("/v1/workspace", json={"notification_channel_id": channel_id})
    assert response.status_code == 200, response.text
    assert response.json()["notification_channel_id"] == channel_id


async def emails_of(app: FastAPI, ticket_id: str) -> list[NotificationEmail]:
    async with app.state.db.sessionmaker() as session:
        statement = (
            select(NotificationEmail)
            .where(NotificationEmail.ticket_id == UUID(ticket_id))
            .order_by(NotificationEmail.to_address)
        )
        return list((await session.execute(statement)).scalars())


async def send_emails(app: FastAPI, settings: Settings) -> None:
    await send_due_emails(app.state.db, settings, app.state.secret_box, outbound_policy(settings))


def parsed(box: Outbox) -> dict[str, EmailMessage]:
    """What the SMTP server received, parsed again from the raw bytes, by recipient."""
    mails = [message_from_bytes(raw, policy=policy.default) for raw in box.raw]
    return {str(mail["To"].addresses[0].addr_spec): mail for mail in mails}  # type: ignore[union-attr,attr-defined]


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return body.get_content().strip()


async def notification_events(app: FastAPI, agent_id: str) -> list[dict[str, Any]]:
    """The `notification.created` events written for the agent, read from the outbox itself: the change
    feed holds events back while any transaction on the server is older than theirs."""
    async with app.state.db.sessionmaker() as session:
        statement = select(Event.data).where(
            Event.type == "notification.created", Event.subject_id == UUID(agent_id)
        )
        return [data["notification"] for data in (await session.execute(statement)).scalars()]


@pytest.fixture
async def staff(app: FastAPI, tenant: Tenant) -> Staff:
    return await hire(
        app,
        tenant,
        lan={"email": "lan@shophoa.vn", "name": "Trần Thị Lan"},
        minh={"email": "minh@shophoa.vn", "name": "Lê Văn Minh"},
        thu={"email": "thu@shophoa.vn"},
        kho={"email": "kho@shophoa.vn", "ticket_access": "restricted"},
        an={"email": "an@shophoa.vn"},
    )


# Set-up


async def test_what_a_notify_action_names_is_checked_when_the_trigger_is_stored(
    tenant: Tenant, staff: Staff
) -> None:
    macro_id = await text_macro(tenant)
    fields_only = {"name": "Chỉ đổi trường", "actions": [{"type": "add_tags", "tags": ["gap"]}]}
    empty = (await create(tenant.admin, "/v1/macros", fields_only))["id"]
    refused = {
        "actions.0.macro_id": notify(str(UUID(int=1)), "assignee"),
        "actions.1.agent_ids.1": notify(macro_id, agent_ids=[staff.ids["lan"], str(UUID(int=2))]),
    }
    for field, action in refused.items():
        actions = [action] if field.startswith("actions.0") else [notify(macro_id, "group"), action]
        response = await tenant.admin.post(
            "/v1/triggers", json={"name": field, "events": ["ticket.created"], "actions": actions}
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field and response.json()["code"] == "unknown_reference"
    no_body = await tenant.admin.post(
        "/v1/triggers",
        json={"name": "x", "events": ["ticket.created"], "actions": [notify(empty, "assignee")]},
    )
    assert no_body.status_code == 422 and no_body.json()["field"] == "actions.0.macro_id", no_body.text
    for bad in (notify(macro_id, "requester"), notify(macro_id), notify(macro_id, "group", "group")):
        response = await tenant.admin.post(
            "/v1/triggers", json={"name": "y", "events": ["ticket.created"], "actions": [bad]}
        )
        assert response.status_code == 422, response.text
    stored = await trigger(
        tenant.admin, "Báo nhóm", actions=[notify(macro_id, "group", via=("feed", "email"))]
    )
    assert stored["actions"] == [
        {"type": "notify", "to": ["group"], "agent_ids": [], "via": ["feed", "email"], "macro_id": macro_id}
    ]


async def test_the_notification_channel_is_an_email_channel_of_the_workspace_that_sends_mail(
    tenant: Tenant, other_tenant: Tenant, outbox: Outbox
) -> None:
    assert (await tenant.viewer.get("/v1/workspace")).json()["notification_channel_id"] is None
    others = await email_channel(other_tenant, outbox)
    chat = await create(
        tenant.admin,
        "/v1/channels",
        {"kind": "chat", "name": "Chat web", "secrets": {"token": "ma-chat-website-cua-shop-hoa-2026"}},
    )
    for channel_id, why in ((others["id"], "no such channel"), (chat["id"], "not an email channel")):
        response = await tenant.admin.patch("/v1/workspace", json={"notification_channel_id": channel_id})
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "notification_channel_id" and why in response.json()["detail"]
    mailbox = await email_channel(tenant, outbox)
    await use_channel(tenant, mailbox["id"])
    assert (
        await tenant.agent.patch("/v1/workspace", json={"notification_channel_id": None})
    ).status_code == 403
    await use_channel(tenant, None)


# Who hears of it, in the feed


async def test_every_kind_of_agent_recipient_hears_in_the_feed_with_the_rules_text(
    app: FastAPI, tenant: Tenant, staff: Staff
) -> None:
    macro_id = await text_macro(tenant)
    group = await create_group(tenant.admin, "Nhóm Giao hàng", [staff.ids["lan"], staff.ids["minh"]])
    parent = await create_category(tenant.admin, "Giao hàng")
    child = await create_category(tenant.admin, "Giao chậm", parent_id=parent["id"])
    watched = await tenant.admin.put(f"/v1/categories/{parent['id']}/watchers/{staff.ids['thu']}")
    assert watched.status_code == 204, watched.text
    await trigger(
        tenant.admin,
        "Báo mọi người khi khách trả lời",
        events=["ticket.comment_added"],
        actions=[
            notify(
                macro_id, "assignee", "group", "followers", "category_watchers", agent_ids=[staff.ids["an"]]
            )
        ],
    )
    ticket = await create_ticket(
        tenant.admin,
        subject="Đơn hàng giao chậm",
        assignee_id=staff.ids["lan"],
        group_id=group["id"],
        category_id=child["id"],
        followers=[staff.ids["kho"]],
    )
    await comment(tenant.admin, ticket["id"], body="Đã liên hệ bên vận chuyển.", public=False)
    expected = f"Phiếu #{ticket['number']} (Đơn hàng giao chậm) cần được xử lý gấp."
    for name in ("lan", "minh", "thu", "kho", "an"):
        rule = [item for item in await feed(staff.clients[name]) if item["kind"] == "rule"]
        assert [(item["ticket_id"], item["summary"]) for item in rule] == [(ticket["id"], expected)], name
        assert rule[0]["actor"]["type"] == "trigger"
        events = await notification_events(app, staff.ids[name])
        assert rule[0]["id"] in [event["id"] for event in events], name


async def test_a_named_agent_who_may_not_see_the_ticket_is_not_notified(
    app: FastAPI, settings: Settings, tenant: Tenant, staff: Staff, outbox: Outbox
) -> None:
    await use_channel(tenant, (await email_channel(tenant, outbox))["id"])
    macro_id = await text_macro(tenant)
    named = [staff.ids["kho"], staff.ids["an"]]
    await trigger(tenant.admin, "Báo kho", actions=[notify(macro_id, agent_ids=named, via=("feed", "email"))])
    ticket = await create_ticket(tenant.admin, subject="Hỏi tồn kho")
    assert await feed(staff.clients["kho"]) == []
    assert [item["kind"] for item in await feed(staff.clients["an"])] == ["rule"]
    assert [email.to_address for email in await emails_of(app, ticket["id"])] == ["an@shophoa.vn"]


# Once per recipient per change


async def test_two_triggers_and_the_assignment_notify_an_agent_once_in_the_feed_and_once_by_email(
    app: FastAPI, settings: Settings, tenant: Tenant, staff: Staff, outbox: Outbox
) -> None:
    await use_channel(tenant, (await email_channel(tenant, outbox))["id"])
    first, second = await text_macro(tenant, "Một"), await text_macro(tenant, "Hai", "Lần hai")
    both = ("feed", "email")
    await trigger(tenant.admin, "Một", position=1, actions=[notify(first, "assignee", via=both)])
    await trigger(
        tenant.admin, "Hai", position=2, actions=[notify(second, agent_ids=[staff.ids["minh"]], via=both)]
    )
    ticket = await create_ticket(tenant.admin, subject="Gấp", assignee_id=staff.ids["minh"])
    [only] = await feed(staff.clients["minh"])
    assert only["kind"] == "assigned", "the assignment notified first, and the rules found them notified"
    [email] = await emails_of(app, ticket["id"])
    assert email.to_address == "minh@shophoa.vn" and email.body.startswith("Phiếu #")
    await send_emails(app, settings)
    assert list(parsed(outbox)) == ["minh@shophoa.vn"]


async def test_a_trigger_that_fails_after_notifying_leaves_the_agent_to_the_next_one(
    tenant: Tenant, staff: Staff
) -> None:
    failing, kept = (
        await text_macro(tenant, "Sẽ hỏng"),
        await text_macro(tenant, "Giữ lại", "Lời nhắn còn lại"),
    )
    reply = await text_macro(tenant, "Trả lời", "Dạ em chào anh/chị")
    await trigger(
        tenant.admin,
        "Báo rồi hỏng",
        position=1,
        actions=[
            notify(failing, agent_ids=[staff.ids["an"]]),
            {"type": "add_comment", "macro_id": reply, "public": False},
        ],
    )
    await trigger(tenant.admin, "Báo sau", position=2, actions=[notify(kept, agent_ids=[staff.ids["an"]])])
    deleted = await tenant.admin.delete(f"/v1/macros/{reply}")
    assert deleted.status_code == 204, deleted.text
    ticket = await create_ticket(tenant.admin, subject="Lỗi giữa chừng")
    [only] = await feed(staff.clients["an"])
    assert only["summary"] == "Lời nhắn còn lại", "the first trigger's notification went with its failure"
    failed = [entry for entry in await history_of(tenant, ticket["id"]) if entry["field"] == "triggers"]
    assert "failed" in failed[0]["new_value"]


async def test_a_triggers_assignment_notifies_the_new_assignee_as_the_trigger(
    tenant: Tenant, staff: Staff
) -> None:
    macro_id = await text_macro(tenant)
    await trigger(
        tenant.admin,
        "Giao cho Lan và báo",
        actions=[{"type": "set_assignee", "assignee_id": staff.ids["lan"]}, notify(macro_id, "assignee")],
    )
    ticket = await create_ticket(tenant.admin, subject="Đổi trả hàng")
    [assigned] = await feed(staff.clients["lan"])
    assert assigned["kind"] == "assigned" and assigned["ticket_id"] == ticket["id"]
    assert assigned["actor"]["type"] == "trigger"


# By email


async def test_emails_go_to_agents_and_the_requester_through_the_notification_channel(
    app: FastAPI, settings: Settings, tenant: Tenant, staff: Staff, outbox: Outbox
) -> None:
    mailbox = await email_channel(tenant, outbox)
    await use_channel(tenant, mailbox["id"])
    macro_id = await text_macro(
        tenant, body="Chào {{ requester.name }}, phiếu #{{ ticket.number }} đã được tiếp nhận."
    )
    await trigger(
        tenant.admin, "Báo tiếp nhận", actions=[notify(macro_id, "assignee", "requester", via=("email",))]
    )
    ticket = await create_ticket(
        tenant.admin,
        subject="Hoa giao nhầm màu",
        assignee_id=staff.ids["lan"],
        requester={"email": CUSTOMER, "name": "Nguyễn Thị Hoa"},
    )
    assert [item["kind"] for item in await feed(staff.clients["lan"])] == ["assigned"], "email only"
    assert outbox.raw == [], "nothing is sent in the change's transaction"
    await send_emails(app, settings)
    mails = parsed(outbox)
    assert sorted(mails) == [CUSTOMER, "lan@shophoa.vn"]
    expected = f"Chào Nguyễn Thị Hoa, phiếu #{ticket['number']} đã được tiếp nhận."
    for address, mail in mails.items():
        assert mail["Subject"] == f"[#{ticket['number']}] Hoa giao nhầm màu"
        assert text_of(mail) == expected
        assert mail["From"].addresses[0].addr_spec == mailbox["settings"]["address"]  # type: ignore[attr-defined]
        assert mail["Auto-Submitted"] == "auto-generated"
        assert (f"+t{ticket['number']}-" in str(mail["Reply-To"] or "")) is (address == CUSTOMER)
    assert {email.state for email in await emails_of(app, ticket["id"])} == {NotificationEmailState.sent}
    await send_emails(app, settings)
    assert len(outbox.raw) == 2, "never sent twice"


async def test_an_internal_note_never_reaches_the_requester(
    app: FastAPI, settings: Settings, tenant: Tenant, staff: Staff, outbox: Outbox
) -> None:
    await use_channel(tenant, (await email_channel(tenant, outbox))["id"])
    macro_id = await text_macro(tenant, body="Phiếu #{{ ticket.number }} có cập nhật mới.")
    await trigger(
        tenant.admin,
        "Báo khi có bình luận",
        events=["ticket.comment_added"],
        actions=[notify(macro_id, "requester", "assignee", via=("email", "feed"))],
    )
    ticket = await create_ticket(
        tenant.admin, subject="Hỏi hóa đơn", assignee_id=staff.ids["lan"], requester={"email": CUSTOMER}
    )
    written = await note(staff.clients["minh"], ticket["id"], "Khách này từng khiếu nại, cẩn thận.")
    assert written.status_code == 201, written.text
    assert [email.to_address for email in await emails_of(app, ticket["id"])] == ["lan@shophoa.vn"]
    await comment(
        staff.clients["minh"], ticket["id"], body="Chúng tôi đã gửi lại hóa đơn cho anh/chị.", public=True
    )
    await send_emails(app, settings)
    mails = parsed(outbox)
    assert sorted(mails) == [CUSTOMER, "lan@shophoa.vn"]
    assert "cẩn thận" not in text_of(mails[CUSTOMER])


async def test_no_email_goes_to_an_address_a_channel_receives_mail_for(
    app: FastAPI, tenant: Tenant, outbox: Outbox
) -> None:
    mailbox = await email_channel(tenant, outbox)
    await use_channel(tenant, mailbox["id"])
    macro_id = await text_macro(tenant)
    await trigger(tenant.admin, "Báo khách", actions=[notify(macro_id, "requester", via=("email",))])
    own = mailbox["settings"]["address"].replace("@", "+khach@")
    ticket = await create_ticket(tenant.admin, subject="Vòng lặp thư", requester={"email": own})
    assert await emails_of(app, ticket["id"]) == []


async def test_without_a_notification_channel_emails_are_skipped_and_the_history_says_so(
    app: FastAPI, tenant: Tenant, staff: Staff
) -> None:
    macro_id = await text_macro(tenant)
    rule = await trigger(
        tenant.admin,
        "Báo qua thư",
        actions=[notify(macro_id, "requester", "assignee", via=("email", "feed"))],
    )
    ticket = await create_ticket(
        tenant.admin, subject="Không có kênh", assignee_id=staff.ids["lan"], requester={"email": CUSTOMER}
    )
    assert await emails_of(app, ticket["id"]) == []
    [skipped] = [entry for entry in await history_of(tenant, ticket["id"]) if entry["field"] == "notify"]
    assert skipped["new_value"] == {"skipped": "the workspace has no notification channel", "emails": 2}
    assert (skipped["actor_type"], skipped["actor_id"]) == ("trigger", rule["id"])


# Sending


class Refusing(Outbox):
    """An SMTP server that answers the first `refusals` mails with `answer`, then takes them."""

    def __init__(self, refusals: int, answer: str) -> None:
        super().__init__()
        self.refusals, self.answer = refusals, answer

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusals > 0:
            self.refusals -= 1
            return self.answer
        return await super().handle_DATA(server, session, envelope)


@contextlib.asynccontextmanager
async def refusing_server(refusals: int, answer: str) -> AsyncIterator[Refusing]:
    box = Refusing(refusals, answer)
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(box), host="127.0.0.1", port=0)
    box.port = server.sockets[0].getsockname()[1]
    async with server:
        yield box


async def queued_email(app: FastAPI, tenant: Tenant, staff: Staff, box: Outbox, subject: str) -> str:
    await use_channel(tenant, (await email_channel(tenant, box))["id"])
    macro_id = await text_macro(tenant)
    await trigger(tenant.admin, subject, actions=[notify(macro_id, "assignee", via=("email",))])
    ticket = await create_ticket(tenant.admin, subject=subject, assignee_id=staff.ids["lan"])
    return ticket["id"]


async def test_a_refused_email_is_tried_again_later_and_then_sent_once(
    app: FastAPI, settings: Settings, tenant: Tenant, staff: Staff
) -> None:
    async with refusing_server(1, "451 4.3.0 Mailbox busy, try again later") as box:
        ticket_id = await queued_email(app, tenant, staff, box, "Thử lại")
        await send_emails(app, settings)
        [email] = await emails_of(app, ticket_id)
        assert email.state is NotificationEmailState.queued and email.attempts == 1
        assert email.error is not None and "451" in email.error and box.raw == []
        await send_emails(app, settings)
        assert box.raw == [], "not due before its retry"
        wait = EMAIL_RETRIES.delays[0] * 2
        with travel(datetime.now(UTC) + wait):
            await send_emails(app, settings)
        [email] = await emails_of(app, ticket_id)
        assert email.state is NotificationEmailState.sent and email.attempts == 2 and email.error is None
        assert list(parsed(box)) == ["lan@shophoa.vn"]


async def test_a_permanent_refusal_fails_the_email_for_good(
    app: FastAPI, settings: Settings, tenant: Tenant, staff: Staff
) -> None:
    async with refusing_server(1, "550 5.1.1 No such mailbox") as box:
        ticket_id = await queued_email(app, tenant, staff, box, "Hỏng hẳn")
        await send_emails(app, settings)
        [email] = await emails_of(app, ticket_id)
        assert email.state is NotificationEmailState.failed and "550" in (email.error or "")
        [failed] = [entry for entry in await history_of(tenant, ticket_id) if entry["field"] == "notify"]
        assert failed["new_value"] == {"failed": email.error, "to": "lan@shophoa.vn"}
        assert failed["actor_type"] == "system"
        with travel(datetime.now(UTC) + timedelta(days=1)):
            await send_emails(app, settings)
        assert box.raw == []


async def test_an_email_whose_worker_stopped_mid_send_fails_rather_than_go_twice(
    app: FastAPI, settings: Settings, tenant: Tenant, staff: Staff, outbox: Outbox
) -> None:
    ticket_id = await queued_email(app, tenant, staff, outbox, "Dừng giữa chừng")
    past = datetime.now(UTC) - timedelta(minutes=5)
    async with app.state.db.sessionmaker() as session, session.begin():
        # What a worker that took it and stopped before writing the outcome leaves.
        await session.execute(
            update(NotificationEmail)
            .where(NotificationEmail.ticket_id == UUID(ticket_id))
            .values(state=NotificationEmailState.sending, attempts=1, leased_until=past)
        )
    await send_emails(app, settings)
    [email] = await emails_of(app, ticket_id)
    assert email.state is NotificationEmailState.failed and "not sent again" in (email.error or "")
    [failed] = [entry for entry in await history_of(tenant, ticket_id) if entry["field"] == "notify"]
    assert failed["new_value"]["failed"] == email.error
    assert outbox.raw == []
