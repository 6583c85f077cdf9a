"""A reply's files go out with it: attached to the mail sent by SMTP (within a size bound, failing with
the reason otherwise), and linked from chat and API callbacks to the API's download route."""

import hashlib
import json
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from app.attachments.storage import storage_for
from app.channels.tasks import send_due_replies, thread_due
from app.config import Settings
from app.kit.outbound import outbound_policy
from app.models import Attachment
from tests import test_email_channel
from tests.conftest import Tenant
from tests.receiver import Behaviour, Receiver, payload
from tests.test_attachments import PDF, upload
from tests.test_channels import SIGNING, TOKEN, chat_channel, receive, threaded
from tests.test_comments import comment
from tests.test_email_channel import Outbox, agent_of, email_channel, mail, received, reply_text, send_replies

# The SMTP server standing in for the business's mail server.
outbox = test_email_channel.outbox

INVOICE = ("Hóa đơn tháng 11.pdf", PDF, "application/pdf")
SCREENSHOT = (
    "ảnh chụp màn hình lỗi thanh toán.png",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89",
    "image/png",
)
REPLY = "Dạ shop gửi chị hóa đơn tháng 11 và ảnh chụp lỗi thanh toán ạ."


async def reply_with_files(
    agent: httpx.AsyncClient, ticket_id: str, *files: tuple[str, bytes, str]
) -> dict[str, Any]:
    """A public reply sent with its files in the same multipart request."""
    response = await agent.post(
        f"/v1/tickets/{ticket_id}/comments/with-files",
        data={"comment": json.dumps({"body": REPLY, "public": True})},
        files=[("files", file) for file in files],
    )
    assert response.status_code == 201, response.text
    return response.json()


async def emailed_ticket(
    app: FastAPI, settings: Settings, tenant: Tenant, outbox: Outbox, agent_id: str
) -> tuple[httpx.AsyncClient, str]:
    """An agent, and a ticket opened by a customer's mail on an email channel."""
    channel = await email_channel(tenant, outbox)
    stored = await received(app, settings, tenant, channel, mail())
    assert stored["state"] == "processed", stored
    return await agent_of(app, tenant, agent_id), stored["ticket_id"]


async def delivery_of(agent: httpx.AsyncClient, comment_id: str) -> dict[str, Any]:
    return (await agent.get(f"/v1/comments/{comment_id}")).json()["delivery"]


# Email


async def test_an_emailed_reply_carries_its_files_byte_for_byte_with_their_names(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    agent, ticket_id = await emailed_ticket(app, settings, tenant, outbox, "thu-tep-01")
    reply = await reply_with_files(agent, ticket_id, INVOICE, SCREENSHOT)
    await send_replies(app, settings)

    [sent] = outbox.received
    assert reply_text(sent) == REPLY
    parts = list(sent.iter_attachments())
    assert [(part.get_filename(), part.get_content_type()) for part in parts] == [
        ("Hóa đơn tháng 11.pdf", "application/pdf"),
        ("ảnh chụp màn hình lỗi thanh toán.png", "image/png"),
    ]
    assert [part.get_payload(decode=True) for part in parts] == [INVOICE[1], SCREENSHOT[1]]
    for part in parts:
        disposition = dict(part.raw_items())["Content-Disposition"]
        assert disposition.isascii(), "names are encoded, not sent as raw UTF-8 in a header"
    assert (await delivery_of(agent, reply["id"]))["state"] == "sent"


async def test_files_over_the_email_bound_fail_the_reply_at_once_with_the_reason(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    agent, ticket_id = await emailed_ticket(app, settings, tenant, outbox, "thu-tep-02")
    reply = await reply_with_files(agent, ticket_id, INVOICE, SCREENSHOT)
    total = len(INVOICE[1]) + len(SCREENSHOT[1])
    bounded = settings.model_copy(
        update={"email": settings.email.model_copy(update={"max_outgoing_bytes": total - 1})}
    )
    async with httpx.AsyncClient() as client:
        await send_due_replies(app.state.db, bounded, app.state.secret_box, client, outbound_policy(bounded))

    assert outbox.received == [], "never handed to a server that would refuse it"
    delivery = await delivery_of(agent, reply["id"])
    assert delivery["state"] == "failed", "permanent: not queued for another try"
    assert str(total) in delivery["error"] and "HELPDESK_EMAIL_MAX_OUTGOING_BYTES" in delivery["error"]


async def test_a_file_missing_from_storage_fails_the_reply_naming_it(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    agent, ticket_id = await emailed_ticket(app, settings, tenant, outbox, "thu-tep-03")
    reply = await reply_with_files(agent, ticket_id, INVOICE, SCREENSHOT)
    invoice_id = UUID(reply["attachments"][0]["id"])
    async with app.state.db.sessionmaker() as session:
        key = await session.scalar(select(Attachment.storage_key).where(Attachment.id == invoice_id))
    await storage_for(settings).delete(key)
    await send_replies(app, settings)

    assert outbox.received == []
    delivery = await delivery_of(agent, reply["id"])
    assert delivery["state"] == "failed"
    assert "Hóa đơn tháng 11.pdf" in delivery["error"] and "missing" in delivery["error"]


# Chat and API callbacks


async def test_a_chat_callback_links_the_files_and_the_links_download_them_with_an_api_key(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    channel = await chat_channel(
        tenant,
        settings={"callback_url": receiver.on("/replies", Behaviour())},
        secrets={"token": TOKEN, "callback_secret": SIGNING},
    )
    accepted = await receive(tenant, channel, conversation_id="c-tep")
    await thread_due(app.state.db, settings, app.state.secret_box)
    ticket_id = (await threaded(tenant, channel, accepted["id"]))["ticket_id"]
    agent = await agent_of(app, tenant, "khoa-tep-01")
    uploads = await upload(agent, INVOICE, SCREENSHOT)
    reply = await comment(
        agent, ticket_id, public=True, body=REPLY, attachments=[item["token"] for item in uploads]
    )
    await comment(agent, ticket_id, public=True, body="Chị cần gì thêm cứ nhắn shop nhé")
    async with httpx.AsyncClient() as client:
        await send_due_replies(
            app.state.db, settings, app.state.secret_box, client, outbound_policy(settings)
        )

    sent = {
        message["comment_id"]: message
        for message in (payload(request)["data"]["message"] for request in receiver.at("/replies"))
    }
    with_files = sent.pop(reply["id"])
    [without] = sent.values()
    assert without["attachments"] == [], "a reply without files lists none"
    linked = with_files["attachments"]
    assert linked == [
        {
            "id": uploaded["id"],
            "filename": name,
            "content_type": content_type,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "url": f"/v1/attachments/{uploaded['id']}",
        }
        for uploaded, (name, data, content_type) in zip(uploads, (INVOICE, SCREENSHOT), strict=True)
    ]
    for item, (_, data, _) in zip(linked, (INVOICE, SCREENSHOT), strict=True):
        downloaded = await tenant.viewer.get(item["url"])
        assert downloaded.status_code == 200 and downloaded.content == data
