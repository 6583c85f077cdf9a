"""Messenger and Zalo OA channels: signed events in (with the vectors of the providers' schemes), threaded
like every channel's, and replies out through a local server standing in for the Graph and Zalo APIs."""

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import time_machine
from fastapi import FastAPI
from sqlalchemy import select

from app.channels.adapters import messenger, zalo
from app.channels.tasks import send_due_replies, thread_due
from app.config import Settings
from app.kit.outbound import outbound_policy
from app.models import Conversation, InboundMessage
from tests.conftest import Tenant, agent_token_client
from tests.factories import create, create_agent
from tests.receiver import Behaviour, Receiver
from tests.test_comments import comment
from tests.test_triggers import comments_of

APP_SECRET = "It's a Secret to Everybody"
VERIFY_TOKEN = "xac-minh-trang-facebook"
PSID = "5510185758261927916"
ZALO_APP_ID = "50554360515256678"
# What a photo's first bytes look like: enough for its type to be recognised.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
OA_SECRET = "test_oa_secret_key"
ZALO_VECTOR_BODY = (
    '{"event_name":"user_send_text","app_id":"50554360515256678","sender":{"id":"5510185758261927916"},'
    '"recipient":{"id":"1646843870823903717"},"message":{"text":"Helo","msg_id":"e2a641af6661713b2874"},'
    '"timestamp":"1717061839659","user_id_by_app":"3611371994410983884"}'
)
ZALO_VECTOR_MAC = "mac=9a595270742ec754a9d256b530d2ddc424c5f0716bd1a3d32e46b0fbe84e2423"


def numeric_id() -> str:
    """A Page, OA or app id of its own: each belongs to one channel in the whole service, and the tests
    share one database."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def hub_signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def zalo_mac(body: bytes, secret: str = OA_SECRET) -> str:
    parsed = json.loads(body)
    signed = str(parsed["app_id"]).encode() + body + str(parsed["timestamp"]).encode() + secret.encode()
    return "mac=" + hashlib.sha256(signed).hexdigest()


async def send_replies(app: FastAPI, settings: Settings) -> int:
    async with httpx.AsyncClient() as client:
        return await send_due_replies(
            app.state.db, settings, app.state.secret_box, client, outbound_policy(settings)
        )


async def stored(app: FastAPI, workspace_id: UUID) -> list[InboundMessage]:
    async with app.state.db.sessionmaker() as session:
        statement = select(InboundMessage).where(InboundMessage.workspace_id == workspace_id)
        return list((await session.scalars(statement.order_by(InboundMessage.received_at))).all())


async def agent_on_the_ticket(
    app: FastAPI, tenant: Tenant, settings: Settings, external_id: str
) -> tuple[Any, dict[str, Any]]:
    """Thread what was received, then an agent's client and the one ticket it opened."""
    await thread_due(app.state.db, settings, app.state.secret_box)
    await create_agent(tenant.admin, external_id)
    return await agent_token_client(app, tenant, external_id), await only_ticket(tenant)


async def only_ticket(tenant: Tenant) -> dict[str, Any]:
    [ticket] = (await tenant.viewer.get("/v1/tickets")).json()["items"]
    return (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()


# The providers' signature schemes, with their published vectors


def test_messenger_signature_vector() -> None:
    vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert messenger.signature_matches(APP_SECRET, b"Hello, World!", vector)
    assert messenger.signature_matches(
        APP_SECRET, b"Hello, World!", vector.upper().replace("SHA256=", "sha256=")
    )
    assert not messenger.signature_matches(APP_SECRET, b"Hello, World?", vector)
    assert not messenger.signature_matches("another secret", b"Hello, World!", vector)
    assert not messenger.signature_matches(APP_SECRET, b"Hello, World!", None)
    assert not messenger.signature_matches(APP_SECRET, b"Hello, World!", vector.removeprefix("sha256="))


def test_zalo_signature_vector() -> None:
    body = ZALO_VECTOR_BODY.encode()
    assert zalo.signature_matches(OA_SECRET, body, ZALO_VECTOR_MAC)
    assert not zalo.signature_matches("app secret, not the OA key", body, ZALO_VECTOR_MAC)
    assert not zalo.signature_matches(OA_SECRET, body.replace(b"Helo", b"Hello"), ZALO_VECTOR_MAC)
    assert not zalo.signature_matches(OA_SECRET, body, None)
    assert not zalo.signature_matches(OA_SECRET, b"not json", ZALO_VECTOR_MAC)


# Messenger


async def messenger_channel(tenant: Tenant, graph: str, **settings: Any) -> dict[str, Any]:
    return await create(
        tenant.admin,
        "/v1/channels",
        {
            "kind": "messenger",
            "name": "Fanpage Shop Hoa",
            "settings": {"page_id": numeric_id(), "graph_base_url": graph, **settings},
            "secrets": {
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
                "page_access_token": "EAAG-trang",
            },
        },
    )


def page_event(channel: dict[str, Any], *messaging: dict[str, Any]) -> bytes:
    """A webhook POST for the channel's Page, its events in two entries; events name the Page as their
    recipient unless they say otherwise."""
    page_id = channel["settings"]["page_id"]
    events = [{"recipient": {"id": page_id}, **event} for event in messaging]
    half = len(events) // 2
    entries = [
        {"id": page_id, "time": 1764556800000, "messaging": part}
        for part in (events[:half], events[half:])
        if part
    ]
    return json.dumps({"object": "page", "entry": entries}).encode()


def customer(mid: str, text: str, sent: datetime | None = None, **message: Any) -> dict[str, Any]:
    """A customer's message event, sent `sent` (now by default) as Meta says it."""
    return {
        "sender": {"id": PSID},
        "timestamp": int((sent or datetime.now(UTC)).timestamp() * 1000),
        "message": {"mid": mid, "text": text, **message},
    }


def send_path(channel: dict[str, Any]) -> str:
    return f"/v21.0/{channel['settings']['page_id']}/messages"


async def post_signed(
    tenant: Tenant, channel: dict[str, Any], body: bytes, header: str, signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json", **({header: signature} if signature is not None else {})}
    return await tenant.anonymous.post(channel["inbound_urls"]["webhook"], content=body, headers=headers)


async def post_page_event(
    tenant: Tenant, channel: dict[str, Any], body: bytes, signature: str | None
) -> httpx.Response:
    return await post_signed(tenant, channel, body, "X-Hub-Signature-256", signature)


async def test_messenger_channels_need_their_secrets(tenant: Tenant) -> None:
    base = {
        "kind": "messenger",
        "name": "Trang",
        "settings": {"page_id": numeric_id(), "graph_base_url": "http://127.0.0.1:9"},
    }
    missing = await tenant.admin.post("/v1/channels", json={**base, "secrets": {"app_secret": APP_SECRET}})
    assert missing.status_code == 422 and missing.json()["field"] == "secrets.verify_token"
    bad_page = {**base, "settings": {"page_id": "trang-cua-toi"}, "secrets": {"app_secret": APP_SECRET}}
    assert (await tenant.admin.post("/v1/channels", json=bad_page)).status_code == 422
    channel = await messenger_channel(tenant, "http://127.0.0.1:9")
    assert channel["secrets_set"] == ["app_secret", "page_access_token", "verify_token"]
    assert channel["inbound_urls"] == {
        "messages": None,
        "calls": None,
        "uploads": None,
        "webhook": f"/v1/channels/{channel['id']}/messenger",
        "email": None,
    }
    unknown = await tenant.admin.patch(f"/v1/channels/{channel['id']}", json={"secrets": {"token": "x" * 30}})
    assert unknown.status_code == 422, "a chat channel's secret is not a Messenger one"
    window = await tenant.admin.patch(
        f"/v1/channels/{channel['id']}", json={"settings": {"human_agent_approved": True}}
    )
    assert (
        window.status_code == 200 and window.json()["settings"]["page_id"] == channel["settings"]["page_id"]
    )


async def test_the_verification_handshake(tenant: Tenant) -> None:
    channel = await messenger_channel(tenant, "http://127.0.0.1:9")
    url = channel["inbound_urls"]["webhook"]
    ok = await tenant.anonymous.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert (
        ok.status_code == 200
        and ok.text == "1158201444"
        and ok.headers["content-type"].startswith("text/plain")
    )
    wrong = await tenant.anonymous.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "sai", "hub.challenge": "1158201444"}
    )
    assert wrong.status_code == 403


async def test_page_events_are_checked_stored_once_and_threaded(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    channel = await messenger_channel(tenant, "http://127.0.0.1:9")
    photo = receiver.on(
        "/cdn/v/t1/39_hoa.jpg", Behaviour(content=JPEG, headers={"Content-Type": "image/jpeg"})
    )
    body = page_event(
        channel,
        customer("m_1", "Chào shop, hoa hồng còn không ạ?"),
        customer("m_echo", "Dạ còn ạ", is_echo=True, app_id=123),
        {"sender": {"id": PSID}, "delivery": {"watermark": 1764556800000}},
        {"sender": {"id": PSID}, "read": {"watermark": 1764556800000}},
        customer(
            "m_2",
            "",
            attachments=[
                {"type": "image", "payload": {"url": photo + "?_nc_cat=1"}},
                {"type": "fallback", "title": "Bảng giá", "payload": {"url": "https://shop.example/gia"}},
            ],
        ),
        {
            "sender": {"id": PSID},
            "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "postback": {"mid": "m_3", "title": "Đặt hàng", "payload": "ORDER"},
        },
    )
    workspace_id = UUID(str(tenant.workspace_id))
    assert (await post_page_event(tenant, channel, body, None)).status_code == 403
    assert (await post_page_event(tenant, channel, body, hub_signature(body, "sai"))).status_code == 403
    tampered = body.replace(b'"m_1"', b'"m_9"')
    assert (await post_page_event(tenant, channel, tampered, hub_signature(body))).status_code == 403
    assert await stored(app, workspace_id) == [], "nothing is stored without a good signature"

    accepted = await post_page_event(tenant, channel, body, hub_signature(body))
    assert accepted.status_code == 200 and accepted.json() == {"stored": 3}
    again = await post_page_event(tenant, channel, body, hub_signature(body))
    assert again.json() == {"stored": 0}, "Meta's retry changes nothing"
    assert sorted(row.provider_message_id for row in await stored(app, workspace_id)) == ["m_1", "m_2", "m_3"]

    await thread_due(app.state.db, settings, app.state.secret_box)
    ticket = await only_ticket(tenant)
    assert ticket["channel"] == "messenger" and ticket["subject"] == "Chào shop, hoa hồng còn không ạ?"
    comments = await comments_of(tenant, ticket["id"])
    bodies = [c["body"] for c in comments]
    assert bodies == ["Chào shop, hoa hồng còn không ạ?", "[fallback] https://shop.example/gia", "Đặt hàng"]
    [kept] = comments[1]["attachments"]
    assert kept["filename"] == "39_hoa.jpg" and kept["content_type"] == "image/jpeg"
    assert (await tenant.viewer.get(kept["url"])).content == JPEG, "the CDN's file is kept, not its link"
    requester = (await tenant.viewer.get(f"/v1/contacts/{ticket['requester_id']}")).json()
    assert {"kind": "messenger", "value": PSID} in [
        {"kind": i["kind"], "value": i["value"]} for i in requester["identities"]
    ]
    window = ticket["reply_channel"]
    assert window["kind"] == "messenger" and window["can_reply"] is True
    assert datetime.fromisoformat(window["until"]) - datetime.now(UTC) > timedelta(hours=23)


async def test_the_reply_window_counts_from_when_the_customer_wrote_not_from_when_it_arrived(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    """Meta delivered a message two days late: it opens no window. A newer one does, and an older one
    arriving after it takes nothing back."""
    channel = await messenger_channel(tenant, receiver.base_url)
    two_days_ago = datetime.now(UTC) - timedelta(hours=48)
    late = page_event(channel, customer("m_late", "Shop ơi còn hàng không?", sent=two_days_ago))
    assert (await post_page_event(tenant, channel, late, hub_signature(late))).status_code == 200
    await thread_due(app.state.db, settings, app.state.secret_box)
    window = (await only_ticket(tenant))["reply_channel"]
    assert window["can_reply"] is False and "window closed" in window["reason"]
    until = datetime.fromisoformat(window["until"])
    assert abs(until - (two_days_ago + timedelta(hours=24))) < timedelta(seconds=1), "Meta's time"

    now = page_event(channel, customer("m_now", "Em cần gấp ạ"))
    older = page_event(channel, customer("m_older", "(tin cũ)", sent=two_days_ago - timedelta(hours=1)))
    for body in (now, older):
        assert (await post_page_event(tenant, channel, body, hub_signature(body))).status_code == 200
        await thread_due(app.state.db, settings, app.state.secret_box)
    window = (await only_ticket(tenant))["reply_channel"]
    assert window["can_reply"] is True
    assert datetime.fromisoformat(window["until"]) - datetime.now(UTC) > timedelta(hours=23)


async def test_replies_go_by_the_send_api_within_the_window(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    channel = await messenger_channel(tenant, receiver.base_url)
    sent_to = send_path(channel)
    receiver.on(sent_to, Behaviour(answers=[(200, {"recipient_id": PSID, "message_id": "m_reply_1"})]))
    body = page_event(channel, customer("m_1", "Cho em hỏi giá"))
    assert (await post_page_event(tenant, channel, body, hub_signature(body))).status_code == 200
    agent, ticket = await agent_on_the_ticket(app, tenant, settings, "fb-01")

    reply = await comment(agent, ticket["id"], public=True, body="Dạ giá 250.000đ ạ")
    await send_replies(app, settings)
    [request] = receiver.at(sent_to)
    assert request.query == {"access_token": "EAAG-trang"}
    assert json.loads(request.body) == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Dạ giá 250.000đ ạ"},
    }
    shown = (await agent.get(f"/v1/comments/{reply['id']}")).json()
    assert shown["delivery"]["state"] == "sent" and shown["provider_message_id"] == "m_reply_1"

    # The page's own echo of that reply is not a customer message.
    echo = page_event(channel, customer("m_reply_1", "Dạ giá 250.000đ ạ", is_echo=True))
    assert (await post_page_event(tenant, channel, echo, hub_signature(echo))).json() == {"stored": 0}

    # A day later the window is closed: the reply fails at once, with why.
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25), tick=False):
        agent = await agent_token_client(app, tenant, "fb-01")
        late = await comment(agent, ticket["id"], public=True, body="Anh/chị còn quan tâm không ạ?")
        await send_replies(app, settings)
        closed = (await agent.get(f"/v1/tickets/{ticket['id']}")).json()["reply_channel"]
        failed = (await agent.get(f"/v1/comments/{late['id']}")).json()["delivery"]
    assert len(receiver.at(sent_to)) == 1
    assert failed["state"] == "failed" and "window closed" in failed["error"]
    assert closed["can_reply"] is False and "window closed" in closed["reason"]

    # With Meta's approval for HUMAN_AGENT, the same late reply may go, tagged.
    await tenant.admin.patch(
        f"/v1/channels/{channel['id']}", json={"settings": {"human_agent_approved": True}}
    )
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25), tick=False):
        agent = await agent_token_client(app, tenant, "fb-01")
        await comment(agent, ticket["id"], public=True, body="Shop gửi anh/chị mã giảm giá ạ")
        await send_replies(app, settings)
    tagged = json.loads(receiver.at(sent_to)[-1].body)
    assert tagged["messaging_type"] == "MESSAGE_TAG" and tagged["tag"] == "HUMAN_AGENT"


async def test_send_api_errors_are_told_apart(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    limited = {"error": {"message": "Calls to this api have exceeded the rate limit.", "code": 613}}
    expired = {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}
    channel = await messenger_channel(tenant, receiver.base_url)
    receiver.on(send_path(channel), Behaviour(answers=[(400, limited), (400, expired)]))
    body = page_event(channel, customer("m_1", "Alo shop"))
    await post_page_event(tenant, channel, body, hub_signature(body))
    agent, ticket = await agent_on_the_ticket(app, tenant, settings, "fb-02")
    reply = await comment(agent, ticket["id"], public=True, body="Dạ shop nghe ạ")

    await send_replies(app, settings)
    waiting = (await agent.get(f"/v1/comments/{reply['id']}")).json()["delivery"]
    assert waiting == {"state": "queued", "error": None}, "rate limited: tried again later"
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=10), tick=False):
        await send_replies(app, settings)
    failed = (await agent.get(f"/v1/comments/{reply['id']}")).json()["delivery"]
    assert failed["state"] == "failed" and "access token is invalid" in failed["error"]


# Zalo OA


async def zalo_channel(tenant: Tenant, api: str, **settings: Any) -> dict[str, Any]:
    return await create(
        tenant.admin,
        "/v1/channels",
        {
            "kind": "zalo",
            "name": "Zalo OA Shop Hoa",
            "settings": {"app_id": numeric_id(), "api_base_url": api, "oauth_base_url": api, **settings},
            "secrets": {
                "oa_secret_key": OA_SECRET,
                "app_secret": "bi-mat-cua-ung-dung",
                "access_token": "zalo-access-1",
                "refresh_token": "zalo-refresh-1",
            },
        },
    )


def zalo_event(channel: dict[str, Any], event_name: str, timestamp: int, **fields: Any) -> bytes:
    app_id = channel["settings"]["app_id"]
    body = {"app_id": app_id, "event_name": event_name, "timestamp": str(timestamp), **fields}
    return json.dumps(body, ensure_ascii=False).encode()


def zalo_vector(channel: dict[str, Any]) -> tuple[bytes, str]:
    """The published vector's event, for the channel's app, and its signature."""
    body = ZALO_VECTOR_BODY.replace(ZALO_APP_ID, channel["settings"]["app_id"]).encode()
    return body, zalo_mac(body)


async def post_zalo(
    tenant: Tenant, channel: dict[str, Any], body: bytes, signature: str | None
) -> httpx.Response:
    return await post_signed(tenant, channel, body, "X-ZEvent-Signature", signature)


async def test_zalo_events_are_checked_stored_once_and_mapped(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    channel = await zalo_channel(tenant, "http://127.0.0.1:9")
    # Zalo's links redirect to the CDN; the file named by the event, the other by its bytes.
    moved = receiver.on("/dl/a", Behaviour(status=302, headers={"Location": "/cdn/a"}))
    receiver.on("/cdn/a", Behaviour(content=JPEG))
    document = receiver.on("/cdn/b", Behaviour(content=b"%PDF-1.4 hoa don"))
    gone = receiver.on("/cdn/c", Behaviour(status=404))
    vector, mac = zalo_vector(channel)
    assert (await post_zalo(tenant, channel, vector, None)).status_code == 403
    assert (await post_zalo(tenant, channel, vector, "mac=" + "0" * 64)).status_code == 403
    accepted = await post_zalo(tenant, channel, vector, mac)
    assert accepted.status_code == 200 and accepted.json() == {"stored": 1}
    assert (await post_zalo(tenant, channel, vector, mac)).json() == {"stored": 0}

    sender = {"sender": {"id": "5510185758261927916"}, "recipient": {"id": "1646843870823903717"}}
    not_customers = [
        zalo_event(
            channel, "oa_send_text", 1717061840000, **sender, message={"text": "Dạ", "msg_id": "oa-1"}
        ),
        zalo_event(channel, "user_received_message", 1717061841000, **sender, message={"msg_id": "oa-1"}),
        zalo_event(channel, "user_seen_message", 1717061842000, **sender, message={"msg_ids": ["oa-1"]}),
    ]
    for body in not_customers:
        assert (await post_zalo(tenant, channel, body, zalo_mac(body))).json() == {"stored": 0}
    image = zalo_event(
        channel,
        "user_send_image",
        1717061843000,
        **sender,
        message={
            "msg_id": "img-1",
            "attachments": [
                {"type": "image", "payload": {"url": moved}},
                {"type": "file", "payload": {"url": document, "name": "Hóa đơn tháng 11.pdf", "size": "16"}},
                {"type": "image", "payload": {"url": gone}},
                {"type": "sticker", "payload": {"id": "bfe1", "url": "https://zalo.example/sticker"}},
            ],
        },
    )
    assert (await post_zalo(tenant, channel, image, zalo_mac(image))).json() == {"stored": 1}
    other_app = zalo_event(
        channel, "user_send_text", 1717061844000, **sender, message={"text": "x", "msg_id": "t-9"}
    )
    other_app = other_app.replace(channel["settings"]["app_id"].encode(), b"999")
    dropped = await post_zalo(tenant, channel, other_app, zalo_mac(other_app))
    assert dropped.status_code == 200 and dropped.json() == {"stored": 0}, "another app's: never threaded"

    await thread_due(app.state.db, settings, app.state.secret_box)
    ticket = await only_ticket(tenant)
    assert ticket["channel"] == "zalo" and ticket["subject"] == "Helo"
    comments = await comments_of(tenant, ticket["id"])
    assert [c["body"] for c in comments] == [
        "Helo",
        "[Nhãn dán] https://zalo.example/sticker\n\n"
        f"[Hình ảnh không tải được (the server answered 404): {gone}]",
    ]
    files = comments[1]["attachments"]
    assert [(f["filename"], f["content_type"]) for f in files] == [
        ("image.jpg", "image/jpeg"),
        ("Hóa đơn tháng 11.pdf", "application/pdf"),
    ]
    assert [(await tenant.viewer.get(f["url"])).content for f in files] == [JPEG, b"%PDF-1.4 hoa don"]
    assert ticket["reply_channel"]["can_reply"] is True


async def test_zalo_replies_refresh_an_expired_token_once_and_keep_the_new_pair(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    expired = {"error": -216, "message": "Access token is invalid"}
    receiver.on(
        "/v3.0/oa/message/cs",
        Behaviour(
            answers=[(200, expired), (200, {"error": 0, "message": "Success", "data": {"message_id": "z-1"}})]
        ),
    )
    receiver.on(
        "/v4/oa/access_token",
        Behaviour(
            answers=[
                (
                    200,
                    {
                        "access_token": "zalo-access-2",
                        "refresh_token": "zalo-refresh-2",
                        "expires_in": "90000",
                    },
                )
            ]
        ),
    )
    channel = await zalo_channel(tenant, receiver.base_url)
    await post_zalo(tenant, channel, *zalo_vector(channel))
    agent, ticket = await agent_on_the_ticket(app, tenant, settings, "zalo-01")
    reply = await comment(agent, ticket["id"], public=True, body="Dạ shop chào anh ạ")
    await send_replies(app, settings)

    first, second = receiver.at("/v3.0/oa/message/cs")
    assert (
        first.headers["access_token"] == "zalo-access-1" and second.headers["access_token"] == "zalo-access-2"
    )
    assert json.loads(second.body) == {
        "recipient": {"user_id": "5510185758261927916"},
        "message": {"text": "Dạ shop chào anh ạ"},
    }
    [refresh] = receiver.at("/v4/oa/access_token")
    assert refresh.headers["secret_key"] == "bi-mat-cua-ung-dung"
    assert dict(part.split("=") for part in refresh.body.decode().split("&")) == {
        "refresh_token": "zalo-refresh-1",
        "app_id": channel["settings"]["app_id"],
        "grant_type": "refresh_token",
    }
    shown = (await agent.get(f"/v1/comments/{reply['id']}")).json()
    assert shown["delivery"]["state"] == "sent" and shown["provider_message_id"] == "z-1"

    # The new pair was kept: the next reply uses it, with no refresh.
    await comment(agent, ticket["id"], public=True, body="Anh cần shop tư vấn gì ạ?")
    await send_replies(app, settings)
    assert receiver.at("/v3.0/oa/message/cs")[-1].headers["access_token"] == "zalo-access-2"
    assert len(receiver.at("/v4/oa/access_token")) == 1


async def test_an_unfollow_stops_replies(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    receiver.on(
        "/v3.0/oa/message/cs", Behaviour(answers=[(200, {"error": 0, "data": {"message_id": "z-9"}})])
    )
    channel = await zalo_channel(tenant, receiver.base_url)
    await post_zalo(tenant, channel, *zalo_vector(channel))
    unfollow = zalo_event(
        channel,
        "unfollow",
        1717061899000,
        follower={"id": "5510185758261927916"},
        oa_id="1646843870823903717",
    )
    assert (await post_zalo(tenant, channel, unfollow, zalo_mac(unfollow))).json() == {"stored": 1}
    agent, ticket = await agent_on_the_ticket(app, tenant, settings, "zalo-02")
    assert ticket["reply_channel"]["can_reply"] is False and "unfollowed" in ticket["reply_channel"]["reason"]
    async with app.state.db.sessionmaker() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.workspace_id == UUID(str(tenant.workspace_id)))
        )
    assert conversation is not None and conversation.address["following"] is False
    reply = await comment(agent, ticket["id"], public=True, body="Dạ shop chào anh")
    await send_replies(app, settings)
    failed = (await agent.get(f"/v1/comments/{reply['id']}")).json()["delivery"]
    assert failed["state"] == "failed" and "unfollowed" in failed["error"]
    assert receiver.at("/v3.0/oa/message/cs") == []
