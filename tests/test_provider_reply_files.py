"""Messenger and Zalo replies carry the comment's files: uploaded with each Send API message, or to the
OA's upload endpoints first; a file the provider cannot carry fails the reply before anything is sent.
A local server stands in for the Graph and Zalo APIs."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartParser

from app.channels.adapters import messenger
from app.config import Settings
from tests.conftest import Tenant
from tests.receiver import Behaviour, Received, Receiver, header
from tests.test_attachments import PDF, upload
from tests.test_comments import comment
from tests.test_messaging_providers import (
    PSID,
    agent_on_the_ticket,
    customer,
    hub_signature,
    messenger_channel,
    page_event,
    post_page_event,
    post_zalo,
    send_path,
    send_replies,
    zalo_channel,
    zalo_vector,
)

ZALO_USER = "5510185758261927916"
CS = "/v3.0/oa/message/cs"
UPLOAD_IMAGE = "/v2.0/oa/upload/image"
UPLOAD_FILE = "/v2.0/oa/upload/file"
REFRESH = "/v4/oa/access_token"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)
INVOICE = ("Hóa đơn tháng 11.pdf", PDF, "application/pdf")
PHOTO = ("ảnh áo sơ mi trắng.png", PNG, "image/png")
REPLY = "Dạ shop gửi chị ảnh áo và hóa đơn tháng 11 ạ."
EXPIRED = {"error": -216, "message": "Access token is invalid"}


def zalo_ok(**data: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"error": 0, "message": "Success", "data": data}


async def form_of(request: Received) -> FormData:
    """A multipart request's fields as a server reads them."""

    async def body() -> AsyncIterator[bytes]:
        yield request.body

    headers = Headers({"content-type": header(request, "content-type")})
    return await MultiPartParser(headers, body()).parse()


async def file_of(form: FormData, field: str) -> tuple[str | None, bytes, str | None]:
    sent = form[field]
    assert isinstance(sent, UploadFile), f"{field} is a file part"
    return sent.filename, await sent.read(), sent.content_type


async def reply_with(agent: httpx.AsyncClient, ticket_id: str, *files: tuple[str, bytes, str]) -> str:
    tokens = [item["token"] for item in await upload(agent, *files)]
    return (await comment(agent, ticket_id, public=True, body=REPLY, attachments=tokens))["id"]


async def delivered(agent: httpx.AsyncClient, comment_id: str) -> dict[str, Any]:
    return (await agent.get(f"/v1/comments/{comment_id}")).json()


# Messenger


async def messenger_ticket(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver, agent_id: str
) -> tuple[httpx.AsyncClient, str, str]:
    """An agent, a ticket opened by a customer's message, and where the Page's replies are sent."""
    channel = await messenger_channel(tenant, receiver.base_url)
    body = page_event(channel, customer("m_1", "Shop gửi em ảnh áo với hóa đơn nhé"))
    assert (await post_page_event(tenant, channel, body, hub_signature(body))).status_code == 200
    agent, ticket = await agent_on_the_ticket(app, tenant, settings, agent_id)
    return agent, ticket["id"], send_path(channel)


async def test_a_messenger_reply_sends_the_text_then_each_file_uploaded_with_its_message(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    agent, ticket_id, send = await messenger_ticket(app, tenant, settings, receiver, "fb-tep-01")
    answers = [(200, {"recipient_id": PSID, "message_id": f"m_reply_{n}"}) for n in (1, 2, 3)]
    receiver.on(send, Behaviour(answers=answers))
    reply_id = await reply_with(agent, ticket_id, INVOICE, PHOTO)
    await send_replies(app, settings)

    text, invoice, photo = receiver.at(send)
    assert json.loads(text.body) == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": REPLY},
    }
    for request, (filename, data, content_type), kind in (
        (invoice, INVOICE, "file"),
        (photo, PHOTO, "image"),
    ):
        assert request.query == {"access_token": "EAAG-trang"}
        assert header(request, "content-type").startswith("multipart/form-data; boundary=")
        form = await form_of(request)
        assert json.loads(str(form["recipient"])) == {"id": PSID}
        assert form["messaging_type"] == "RESPONSE" and "tag" not in form
        assert json.loads(str(form["message"])) == {
            "attachment": {"type": kind, "payload": {"is_reusable": False}}
        }
        assert await file_of(form, "filedata") == (filename, data, content_type)
    shown = await delivered(agent, reply_id)
    assert shown["delivery"]["state"] == "sent" and shown["provider_message_id"] == "m_reply_3"


async def test_a_file_over_messengers_limit_fails_the_reply_before_anything_is_sent(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, ticket_id, send = await messenger_ticket(app, tenant, settings, receiver, "fb-tep-02")
    receiver.on(send, Behaviour(answers=[(200, {"recipient_id": PSID, "message_id": "m_x"})]))
    monkeypatch.setattr(messenger, "MAX_FILE_BYTES", len(PNG) - 1)
    reply_id = await reply_with(agent, ticket_id, PHOTO)
    await send_replies(app, settings)

    assert receiver.at(send) == [], "not even the text: the customer would get it without its file"
    delivery = (await delivered(agent, reply_id))["delivery"]
    assert delivery["state"] == "failed", "permanent: not queued for another try"
    assert PHOTO[0] in delivery["error"] and str(len(PNG)) in delivery["error"]


# Zalo OA


async def zalo_ticket(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver, agent_id: str
) -> tuple[httpx.AsyncClient, str]:
    channel = await zalo_channel(tenant, receiver.base_url)
    assert (await post_zalo(tenant, channel, *zalo_vector(channel))).status_code == 200
    agent, ticket = await agent_on_the_ticket(app, tenant, settings, agent_id)
    return agent, ticket["id"]


async def test_zalo_uploads_each_file_then_sends_it_by_the_id_it_got(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    receiver.on(UPLOAD_IMAGE, Behaviour(answers=[zalo_ok(attachment_id="anh-123")]))
    receiver.on(UPLOAD_FILE, Behaviour(answers=[zalo_ok(token="tep-456")]))
    receiver.on(CS, Behaviour(answers=[zalo_ok(message_id="z-1"), zalo_ok(message_id="z-2")]))
    agent, ticket_id = await zalo_ticket(app, tenant, settings, receiver, "zalo-tep-01")
    reply_id = await reply_with(agent, ticket_id, PHOTO, INVOICE)
    await send_replies(app, settings)

    assert [r.path for r in receiver.received] == [UPLOAD_IMAGE, CS, UPLOAD_FILE, CS]
    for path, (filename, data, content_type) in ((UPLOAD_IMAGE, PHOTO), (UPLOAD_FILE, INVOICE)):
        [uploaded] = receiver.at(path)
        assert header(uploaded, "access_token") == "zalo-access-1"
        assert await file_of(await form_of(uploaded), "file") == (filename, data, content_type)
    with_photo, with_invoice = (json.loads(request.body) for request in receiver.at(CS))
    assert with_photo == {
        "recipient": {"user_id": ZALO_USER},
        "message": {
            "text": REPLY,
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "image", "attachment_id": "anh-123"}],
                },
            },
        },
    }, "a short text goes as the picture's caption: one message less of the OA's quota"
    assert with_invoice == {
        "recipient": {"user_id": ZALO_USER},
        "message": {"attachment": {"type": "file", "payload": {"token": "tep-456"}}},
    }
    shown = await delivered(agent, reply_id)
    assert shown["delivery"]["state"] == "sent" and shown["provider_message_id"] == "z-2"


async def test_a_token_expiring_during_an_upload_is_refreshed_once_and_the_reply_goes_on(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    receiver.on(UPLOAD_FILE, Behaviour(answers=[(200, EXPIRED), zalo_ok(token="tep-789")]))
    receiver.on(CS, Behaviour(answers=[zalo_ok(message_id="z-1"), zalo_ok(message_id="z-2")]))
    new_pair = {"access_token": "zalo-access-2", "refresh_token": "zalo-refresh-2", "expires_in": "90000"}
    receiver.on(REFRESH, Behaviour(answers=[(200, new_pair)]))
    agent, ticket_id = await zalo_ticket(app, tenant, settings, receiver, "zalo-tep-02")
    reply_id = await reply_with(agent, ticket_id, INVOICE)
    await send_replies(app, settings)

    assert [r.path for r in receiver.received] == [CS, UPLOAD_FILE, REFRESH, UPLOAD_FILE, CS]
    assert [header(r, "access_token") for r in receiver.at(UPLOAD_FILE)] == ["zalo-access-1", "zalo-access-2"]
    text, invoice = receiver.at(CS)
    assert json.loads(text.body)["message"] == {"text": REPLY}, "sent once, not again after the refresh"
    assert header(text, "access_token") == "zalo-access-1"
    assert header(invoice, "access_token") == "zalo-access-2"
    assert json.loads(invoice.body)["message"]["attachment"]["payload"] == {"token": "tep-789"}
    shown = await delivered(agent, reply_id)
    assert shown["delivery"]["state"] == "sent" and shown["provider_message_id"] == "z-2"


async def test_a_file_zalo_cannot_carry_fails_the_reply_before_anything_is_sent(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    receiver.on(CS, Behaviour(answers=[zalo_ok(message_id="z-1")]))
    receiver.on(UPLOAD_IMAGE, Behaviour(answers=[zalo_ok(attachment_id="anh-1")]))
    agent, ticket_id = await zalo_ticket(app, tenant, settings, receiver, "zalo-tep-03")
    notes = ("ghi chú giao hàng.txt", "Giao giờ hành chính giúp em".encode(), "text/plain")
    # An image Zalo's upload takes only up to 1 MB.
    poster = ("ảnh bìa khổ lớn.png", PNG + bytes(1024 * 1024), "image/png")
    unsupported = await reply_with(agent, ticket_id, INVOICE, notes)
    too_large = await reply_with(agent, ticket_id, poster)
    await send_replies(app, settings)

    assert receiver.at(CS) == [] and receiver.at(UPLOAD_IMAGE) == [] and receiver.at(UPLOAD_FILE) == []
    refused = (await delivered(agent, unsupported))["delivery"]
    assert refused["state"] == "failed" and notes[0] in refused["error"] and "JPG" in refused["error"]
    over = (await delivered(agent, too_large))["delivery"]
    assert over["state"] == "failed" and poster[0] in over["error"]
    assert str(len(poster[1])) in over["error"] and str(1024 * 1024) in over["error"]
