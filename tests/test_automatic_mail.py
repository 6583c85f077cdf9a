"""Automatic mail (out of office, bulk, mailing lists) never brings work to an agent: on a ticket it is an
internal note that changes nothing, else it is ignored, or filed out of the queue where the channel says
so; and an automatic reply to it is suppressed, which is no failed delivery. Real mail, posted raw to
the channel and threaded by the worker; replies go to an SMTP server the tests run."""

from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from app.config import Settings
from app.models import Contact, Event
from tests import test_email_channel
from tests.conftest import Tenant
from tests.factories import create, status_id
from tests.test_assignment import team
from tests.test_email_channel import (
    CUSTOMER,
    Outbox,
    agent_of,
    email_channel,
    mail,
    received,
    send_replies,
)
from tests.test_sla import patch, policy, target
from tests.test_triggers import comments_of, get_ticket, macro, trigger, when

outbox = test_email_channel.outbox

NEWSLETTER = "Tin khuyến mãi <tin-tuc@khuyenmai.vn>"


def clocks(ticket: dict[str, Any]) -> dict[str, Any]:
    """What the SLA says of the ticket, without the times that move while the test runs."""
    metrics = {m["metric"]: (m["state"], m["cycle"], m["due_at"]) for m in ticket["sla"]["metrics"]}
    return {"due": ticket["sla_due_at"], "breached": ticket["sla_breached"], "metrics": metrics}


async def answered_ticket(
    app: FastAPI, settings: Settings, tenant: Tenant, channel: dict[str, Any], outbox: Outbox
) -> tuple[dict[str, Any], str]:
    """A ticket a customer's mail opened and an agent answered; and the Message-ID of the answer."""
    opened = await received(app, settings, tenant, channel, mail())
    assert opened["state"] == "processed", opened
    agent = await agent_of(app, tenant, f"thu-{channel['id'][-6:]}")
    response = await agent.post(
        f"/v1/tickets/{opened['ticket_id']}/comments",
        json={"body": "Dạ shop đang kiểm tra đơn của chị ạ.", "public": True},
    )
    assert response.status_code == 201, response.text
    await send_replies(app, settings)
    return await get_ticket(tenant, opened["ticket_id"]), str(outbox.received[-1]["Message-ID"])


async def failed_delivery_events(app: FastAPI, tenant: Tenant) -> int:
    """Read from the table: the feed holds events back while other tests' transactions run."""
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.workspace_id == tenant.workspace_id, Event.type == "ticket.comment_delivery_failed")
        )


async def contacts_with_email(app: FastAPI, tenant: Tenant, email: str) -> int:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.workspace_id == tenant.workspace_id, Contact.email == email)
        )


async def test_an_out_of_office_reply_is_a_note_on_a_pending_ticket_that_stays_pending(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    await policy(
        tenant.admin,
        [target("first_response", 60, business_hours=False), target("resolution", 600, business_hours=False)],
    )
    # What a customer's message sets off: were the out-of-office reply one, a note would follow it.
    seen = await macro(tenant.admin, "Khách vừa viết", "Khách vừa viết thêm.")
    await trigger(
        tenant.admin,
        "Khách trả lời",
        events=["ticket.comment_added"],
        conditions=when(("comment_author", "equals", "contact")),
        actions=[{"type": "add_comment", "macro_id": seen["id"], "public": False}],
    )
    channel = await email_channel(tenant, outbox)
    ticket, answer_id = await answered_ticket(app, settings, tenant, channel, outbox)
    pending = await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "pending"})
    before = await get_ticket(tenant, ticket["id"])
    assert before["status_kind"] == "pending"
    assert clocks(before)["metrics"]["resolution"][0] == "paused", "a clock that waits on the customer"

    out_of_office = mail(
        subject="Vắng mặt: Đơn hàng #1024 giao chậm",
        body="Tôi đang nghỉ phép đến hết ngày 20/12, sẽ trả lời khi quay lại.\nLan",
        Auto_Submitted="auto-replied",
        In_Reply_To=answer_id,
        References=answer_id,
    )
    noted = await received(app, settings, tenant, channel, out_of_office)
    assert noted["state"] == "processed" and noted["ticket_id"] == ticket["id"]
    after = await get_ticket(tenant, ticket["id"])
    assert after["status_kind"] == "pending", "an out-of-office reply reopens nothing"
    assert after["status_id"] == pending["status_id"]
    assert clocks(after) == clocks(before), "no clock started, resumed or moved"
    *_, note = await comments_of(tenant, ticket["id"])
    assert note["author"]["type"] != "system", "no trigger took it for a customer's message"
    assert note["public"] is False and note["author"]["type"] == "contact"
    assert note["body"].startswith("Tôi đang nghỉ phép")
    assert note["threading"]["rule"] == "automatic_note"
    assert note["threading"]["automatic"] == "Auto-Submitted: auto-replied"

    # Solved within the reopen window: a person's mail would reopen it; an automatic one is a note.
    solved = await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "solved"})
    again = mail(
        subject="Automatic reply: Đơn hàng #1024 giao chậm",
        body="Tôi đang nghỉ phép.",
        X_Auto_Response_Suppress="All",
        In_Reply_To=answer_id,
    )
    second = await received(app, settings, tenant, channel, again)
    assert second["ticket_id"] == ticket["id"]
    still = await get_ticket(tenant, ticket["id"])
    assert still["status_kind"] == "solved" and still["solved_at"] == solved["solved_at"]
    assert clocks(still) == clocks(solved)
    last = (await comments_of(tenant, ticket["id"]))[-1]
    assert (last["public"], last["threading"]["automatic"]) == (False, "X-Auto-Response-Suppress")

    # The same customer writing as a person still reopens it, and the trigger sees a customer's reply.
    person = mail(subject="Re: Đơn hàng #1024", body="Shop ơi, hàng tới chưa ạ?", In_Reply_To=answer_id)
    reopened = await received(app, settings, tenant, channel, person)
    shown = await get_ticket(tenant, reopened["ticket_id"])
    assert shown["id"] == ticket["id"] and shown["status_kind"] == "open"
    *_, answered, followed = await comments_of(tenant, ticket["id"])
    assert answered["public"] is True and answered["threading"]["rule"] == "reopened"
    assert followed["author"]["type"] == "system" and followed["body"] == "Khách vừa viết thêm."


async def test_an_outlook_automatic_reply_on_an_open_ticket_is_a_note_and_opens_nothing_else(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    ticket, answer_id = await answered_ticket(app, settings, tenant, channel, outbox)
    outlook = mail(
        subject=f"Automatic reply: [#{ticket['number']}] Đơn hàng #1024 giao chậm",
        body="Cảm ơn anh/chị đã liên hệ. Tôi đang đi công tác, vui lòng liên hệ số 0912 345 678.",
        X_Auto_Response_Suppress="All",
        In_Reply_To=answer_id,
    )
    noted = await received(app, settings, tenant, channel, outlook)
    assert noted["ticket_id"] == ticket["id"]
    after = await get_ticket(tenant, ticket["id"])
    assert after["status_kind"] == ticket["status_kind"] and after["assignee_id"] == ticket["assignee_id"]
    [*_, note] = await comments_of(tenant, ticket["id"])
    assert note["public"] is False and note["threading"]["rule"] == "automatic_note"

    # Vietnamese Outlook's subject alone says so, from someone new: ignored, no contact made for them.
    stranger = "pho.phong@congty.vn"
    vietnamese = mail(
        subject="Trả lời tự động: Báo giá hoa cưới",
        body="Tôi đang nghỉ phép đến 02/01/2027.",
        sender=f"Phó phòng <{stranger}>",
    )
    ignored = await received(app, settings, tenant, channel, vietnamese)
    assert ignored["state"] == "ignored" and ignored["ticket_id"] is None
    assert ignored["error"] == 'automatic mail (vacation subject "Trả lời tự động:"): no ticket opened'
    assert await contacts_with_email(app, tenant, stranger) == 0
    listed = (await tenant.viewer.get("/v1/tickets")).json()["items"]
    assert [t["id"] for t in listed] == [ticket["id"]]


async def test_a_newsletter_from_a_stranger_is_ignored_and_list_mail_from_the_requester_is_a_reply(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    newsletter = mail(
        subject="Ưu đãi Giáng sinh: giảm 30% mọi đơn hàng",
        body="Chỉ trong tuần này!\nHủy đăng ký: https://khuyenmai.vn/huy",
        sender=NEWSLETTER,
        List_Id="Tin khuyến mãi <tin-tuc.khuyenmai.vn>",
        List_Unsubscribe="<https://khuyenmai.vn/huy>, <mailto:huy@khuyenmai.vn>",
    )
    ignored = await received(app, settings, tenant, channel, newsletter)
    assert ignored["state"] == "ignored" and ignored["ticket_id"] is None and ignored["comment_id"] is None
    assert ignored["error"] == "automatic mail (List-Id): no ticket opened"
    unsubscribe_only = mail(
        subject="Bản tin tháng 12", sender=NEWSLETTER, List_Unsubscribe="<https://khuyenmai.vn/huy>"
    )
    second = await received(app, settings, tenant, channel, unsubscribe_only)
    assert second["error"] == "automatic mail (List-Unsubscribe): no ticket opened"
    assert (await tenant.viewer.get("/v1/tickets")).json()["items"] == []
    assert await contacts_with_email(app, tenant, "tin-tuc@khuyenmai.vn") == 0

    # The requester answers through a mailing list (a Google Group the team shares): a person writing.
    ticket, answer_id = await answered_ticket(app, settings, tenant, channel, outbox)
    await patch(tenant.agent, f"/v1/tickets/{ticket['id']}", {"status_kind": "pending"})
    through_list = mail(
        subject="Re: Đơn hàng #1024 giao chậm",
        body="Dạ em nhận được hàng rồi, cảm ơn shop.",
        In_Reply_To=answer_id,
        List_Id="<mua-hang.congty.vn>",
        Precedence="list",
    )
    answered = await received(app, settings, tenant, channel, through_list)
    assert answered["state"] == "processed" and answered["ticket_id"] == ticket["id"]
    reply = (await comments_of(tenant, ticket["id"]))[-1]
    assert reply["public"] is True and reply["body"] == "Dạ em nhận được hàng rồi, cảm ơn shop."
    assert reply["threading"]["rule"] == "open_ticket" and "automatic" not in reply["threading"]
    assert reply["threading"]["mailing_list"] == "Precedence: list"
    assert (await get_ticket(tenant, ticket["id"]))["status_kind"] == "open", "the customer's reply"

    # Someone else on that list, on the same thread: automatic for this ticket, a note.
    colleague = mail(
        subject="Re: Đơn hàng #1024 giao chậm",
        body="+1",
        sender="Anh Tuấn <tuan@congty.vn>",
        In_Reply_To=answer_id,
        List_Id="<mua-hang.congty.vn>",
    )
    noted = await received(app, settings, tenant, channel, colleague)
    assert noted["ticket_id"] == ticket["id"]
    note = (await comments_of(tenant, ticket["id"]))[-1]
    assert (note["public"], note["threading"]["automatic"]) == (False, "List-Id")


async def test_a_channel_can_file_automatic_mail_unassigned_out_of_the_queue(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    noise = await create(tenant.admin, "/v1/statuses", {"name": "Thư tự động", "kind": "solved"})
    group, _ = await team(tenant, 1, strategy="round_robin")
    await policy(tenant.admin, [target("first_response", 60, business_hours=False)])
    channel = await email_channel(tenant, outbox)
    path = f"/v1/channels/{channel['id']}"
    refusals = {
        "required": {"automatic_mail": "file"},
        "unknown_reference": {
            "automatic_mail": "file",
            "automatic_mail_status_id": "01a250b9-6e3c-7782-a46f-f30834674c85",
        },
        "not solved": {
            "automatic_mail": "file",
            "automatic_mail_status_id": await status_id(tenant.viewer, "open"),
        },
    }
    for case, body in refusals.items():
        refused = await tenant.admin.patch(path, json={"settings": body})
        assert refused.status_code == 422, (case, refused.text)
        problem = refused.json()
        assert problem["field"] == "settings.automatic_mail_status_id", case
        assert (problem["code"] == "unknown_reference") == (case == "unknown_reference"), case
    bad_value = await tenant.admin.patch(path, json={"settings": {"automatic_mail": "keep"}})
    assert bad_value.status_code == 422 and bad_value.json()["field"] == "settings.automatic_mail"
    settings_sent = {"automatic_mail": "file", "automatic_mail_status_id": noise["id"]}
    response = await tenant.admin.patch(
        path, json={"settings": settings_sent, "defaults": {"group_id": group["id"]}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["settings"]["automatic_mail"] == "file"

    person = await received(app, settings, tenant, channel, mail())
    assigned = await get_ticket(tenant, person["ticket_id"])
    assert assigned["assignee_id"] is not None and assigned["sla"] is not None, "a person's mail, as before"

    newsletter = mail(
        subject="Ưu đãi Giáng sinh",
        sender=NEWSLETTER,
        List_Id="<tin-tuc.khuyenmai.vn>",
        Precedence="bulk",
    )
    filed = await received(app, settings, tenant, channel, newsletter)
    assert filed["state"] == "processed", filed
    ticket = await get_ticket(tenant, filed["ticket_id"])
    assert ticket["status_id"] == noise["id"] and ticket["status_kind"] == "solved"
    assert ticket["assignee_id"] is None and ticket["group_id"] == group["id"]
    assert ticket["sla"] is None and ticket["sla_due_at"] is None
    [opening] = await comments_of(tenant, ticket["id"])
    assert opening["public"] is False and opening["threading"]["rule"] == "automatic_filed"
    assert opening["threading"]["automatic"] == "Precedence: bulk"

    # A status deactivated since keeps nothing: such mail is ignored.
    deactivated = await tenant.admin.patch(f"/v1/statuses/{noise['id']}", json={"active": False})
    assert deactivated.status_code == 200, deactivated.text
    later = await received(
        app, settings, tenant, channel, mail(subject="Bản tin", sender=NEWSLETTER, Precedence="bulk")
    )
    assert (
        later["state"] == "ignored"
        and later["error"] == "automatic mail (Precedence: bulk): no ticket opened"
    )
    reactivated = await tenant.admin.patch(f"/v1/statuses/{noise['id']}", json={"active": True})
    assert reactivated.status_code == 200, reactivated.text

    # Filed from a mail system: an agent's answer to it is kept from going out, as no failure.
    bounce_like = mail(subject="Undeliverable: Ưu đãi", sender="postmaster@congty.vn")
    system = await received(app, settings, tenant, channel, bounce_like)
    agent = await agent_of(app, tenant, "thu-he-thong")
    response = await agent.post(
        f"/v1/tickets/{system['ticket_id']}/comments", json={"body": "Kiểm tra lại địa chỉ", "public": True}
    )
    assert response.status_code == 201, response.text
    sent_before = len(outbox.received)
    await send_replies(app, settings)
    assert len(outbox.received) == sent_before
    delivery = (await agent.get(f"/v1/comments/{response.json()['id']}")).json()["delivery"]
    assert delivery == {"state": "suppressed", "error": "the recipient is a mail system (postmaster)"}
    assert await failed_delivery_events(app, tenant) == 0


async def test_an_automatic_acknowledgement_to_automatic_mail_is_suppressed_not_failed(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    noise = await create(tenant.admin, "/v1/statuses", {"name": "Nhiễu", "kind": "solved"})
    acknowledgement = await macro(tenant.admin, "Xác nhận", "Shop đã nhận thư, phiếu #{{ ticket.number }}.")
    await trigger(
        tenant.admin,
        "Tự động xác nhận thư",
        conditions=when(("channel", "equals", "email")),
        actions=[{"type": "add_comment", "macro_id": acknowledgement["id"], "public": True}],
    )
    channel = await email_channel(tenant, outbox)
    response = await tenant.admin.patch(
        f"/v1/channels/{channel['id']}",
        json={"settings": {"automatic_mail": "file", "automatic_mail_status_id": noise["id"]}},
    )
    assert response.status_code == 200, response.text

    person = await received(app, settings, tenant, channel, mail())
    out_of_office = mail(
        subject="Out of Office: Đơn hàng",
        body="Tôi đang nghỉ phép.",
        sender="Anh Nam <nam@example.vn>",
        Auto_Submitted="auto-replied",
    )
    filed = await received(app, settings, tenant, channel, out_of_office)
    assert filed["state"] == "processed" and filed["ticket_id"] != person["ticket_id"]
    await send_replies(app, settings)

    [sent] = outbox.received
    assert sent["To"].addresses[0].addr_spec == CUSTOMER, "the person is answered as before"
    [acknowledged] = [
        c for c in await comments_of(tenant, person["ticket_id"]) if c["author"]["type"] == "system"
    ]
    assert acknowledged["delivery"]["state"] == "sent"
    [suppressed] = [
        c for c in await comments_of(tenant, filed["ticket_id"]) if c["author"]["type"] == "system"
    ]
    assert suppressed["delivery"] == {
        "state": "suppressed",
        "error": "automatic replies are never sent to automatic mail (Auto-Submitted: auto-replied)",
    }
    await send_replies(app, settings)
    assert len(outbox.received) == 1, "nothing is tried again"
    assert await failed_delivery_events(app, tenant) == 0
    ticket = await get_ticket(tenant, filed["ticket_id"])
    assert ticket["status_id"] == noise["id"] and ticket["assignee_id"] is None
