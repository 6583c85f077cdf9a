"""Chat and API channels: set-up with write-only secrets, receiving (checked, stored once, answered at
once), threading by workers exactly once, call records, and replies sent back signed."""

import asyncio
import ipaddress
import itertools
import json
import signal
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select, update
from standardwebhooks.webhooks import Webhook as Verifier

from app.channels.tasks import _failed, send_due_replies, thread_due
from app.config import Settings
from app.kit.outbound import (
    MAX_REDIRECTS,
    OutboundPolicy,
    ResponseTooLarge,
    UnsafeDestination,
    outbound_policy,
    safe_get,
)
from app.kit.plain import PlainStatement
from app.models import Comment, Contact, InboundMessage, Ticket
from tests.conftest import Tenant, agent_token_client
from tests.factories import create, create_agent, create_contact, create_group, create_ticket
from tests.receiver import Behaviour, Receiver, header
from tests.test_comments import comment
from tests.test_triggers import comments_of
from tests.test_worker import start_worker

TOKEN = "token-cua-kenh-chat-website-2026"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


async def chat_channel(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"kind": "chat", "name": "Chat website", "secrets": {"token": TOKEN}, **fields}
    return await create(tenant.admin, "/v1/channels", body)


async def post_message(tenant: Tenant, channel: dict[str, Any], **fields: Any) -> httpx.Response:
    body = {
        "message_id": "m-1",
        "contact": {"id": "khach-01", "name": "Chị Mai"},
        "text": "Shop ơi, áo size M còn không ạ?",
        **fields,
    }
    return await tenant.anonymous.post(channel["inbound_urls"]["messages"], json=body, headers=AUTH)


async def receive(tenant: Tenant, channel: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = await post_message(tenant, channel, **fields)
    assert response.status_code == 202, response.text
    return response.json()


async def threaded(tenant: Tenant, channel: dict[str, Any], inbound_id: str) -> dict[str, Any]:
    response = await tenant.admin.get(f"/v1/channels/{channel['id']}/inbound/{inbound_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def count(app: FastAPI, model: Any, workspace_id: UUID, *where: Any) -> int:
    async with app.state.db.sessionmaker() as session:
        statement = select(func.count()).select_from(model).where(model.workspace_id == workspace_id, *where)
        return await session.scalar(statement)


async def processed_at_least(app: FastAPI, workspace_id: UUID, wanted: int, within_seconds: float) -> None:
    async with asyncio.timeout(within_seconds):
        for _ in itertools.count():
            if await count(app, InboundMessage, workspace_id, InboundMessage.state == "processed") >= wanted:
                return
            await asyncio.sleep(0.02)


# Set-up


async def test_secrets_are_write_only_and_channels_check_what_they_name(tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm CSKH")
    channel = await chat_channel(
        tenant,
        settings={"callback_url": "http://127.0.0.1:9/replies"},
        secrets={"token": TOKEN, "callback_secret": SIGNING},
        defaults={"group_id": group["id"], "priority": "high", "tags": ["website"]},
    )
    assert channel["secrets_set"] == ["callback_secret", "token"]
    assert TOKEN not in json.dumps(channel) and SIGNING not in json.dumps(channel)
    assert channel["inbound_urls"]["messages"] == f"/v1/channels/{channel['id']}/messages"
    assert channel["settings"]["reopen_window_hours"] == 72
    fetched = await tenant.admin.get(f"/v1/channels/{channel['id']}")
    assert TOKEN not in fetched.text and fetched.json()["defaults"]["tags"] == ["website"]

    u = "00000000-0000-7000-8000-000000000000"
    token = {"token": TOKEN}
    bad = {
        "no token": {"kind": "chat", "name": "a", "secrets": {}},
        "short token": {"kind": "chat", "name": "b", "secrets": {"token": "ngan"}},
        "unsigned callback": {
            "kind": "api",
            "name": "c",
            "settings": {"callback_url": "http://127.0.0.1:9/x"},
            "secrets": {"token": TOKEN},
        },
        "not a signing secret": {"kind": "chat", "name": "d", "secrets": {**token, "callback_secret": "x"}},
        "unknown group": {"kind": "chat", "name": "e", "secrets": token, "defaults": {"group_id": u}},
        "kind without an adapter yet": {"kind": "fax", "name": "f", "secrets": {"token": TOKEN}},
        "private callback": {
            "kind": "chat",
            "name": "g",
            "settings": {"callback_url": "http://10.0.0.8/x"},
            "secrets": {"token": TOKEN, "callback_secret": SIGNING},
        },
    }  # fmt: skip
    for case, body in bad.items():
        response = await tenant.admin.post("/v1/channels", json=body)
        assert response.status_code == 422, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert (await tenant.agent.get("/v1/channels")).status_code == 403

    url = f"/v1/channels/{channel['id']}"
    rotated = await tenant.admin.patch(url, json={"secrets": {"token": "mot-token-moi-dai-hon-24-ky-tu"}})
    assert rotated.status_code == 200 and rotated.json()["version"] == 2
    assert (await post_message(tenant, channel)).status_code == 401, "the old token no longer works"
    refused = await tenant.admin.patch(url, json={"secrets": {"callback_secret": None}})
    assert refused.status_code == 422, "a callback URL is never called unsigned"
    assert (await tenant.admin.delete(url)).status_code == 204, "nothing came in on it yet"


async def test_callers_without_the_token_are_refused_and_nothing_is_stored(
    app: FastAPI, tenant: Tenant
) -> None:
    channel = await chat_channel(tenant)
    url = channel["inbound_urls"]["messages"]
    body = {"message_id": "m-x", "contact": {"id": "k"}, "text": "Xin chào"}
    assert (await tenant.anonymous.post(url, json=body)).status_code == 401
    wrong = {"Authorization": "Bearer khong-phai-token-cua-kenh-nay"}
    assert (await tenant.anonymous.post(url, json=body, headers=wrong)).status_code == 401
    assert (await tenant.admin.post(url, json=body)).status_code == 401, (
        "an API key is not the channel's token"
    )
    unknown = "/v1/channels/00000000-0000-7000-8000-000000000000/messages"
    assert (await tenant.anonymous.post(unknown, json=body, headers=AUTH)).status_code == 401
    bad_phone = await post_message(tenant, channel, contact={"id": "k", "phone": "12"})
    assert bad_phone.status_code == 422 and bad_phone.json()["field"] == "contact.phone"
    await tenant.admin.patch(f"/v1/channels/{channel['id']}", json={"active": False})
    inactive = await post_message(tenant, channel)
    assert inactive.status_code == 403 and inactive.json()["code"] == "channel_inactive"
    assert await count(app, InboundMessage, UUID(str(tenant.workspace_id))) == 0


# Threading


async def test_a_conversation_opens_one_ticket_and_follows_it_through_its_life(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    group = await create_group(tenant.admin, "Nhóm Bán hàng")
    channel = await chat_channel(
        tenant, defaults={"group_id": group["id"], "priority": "high", "tags": ["web"]}
    )
    first = await receive(
        tenant, channel, conversation_id="c-1", contact={"id": "khach-01", "name": "Chị Mai"}
    )
    again = await receive(
        tenant, channel, conversation_id="c-1", contact={"id": "khach-01", "name": "Chị Mai"}
    )
    assert again == {"id": first["id"], "duplicate": True}, "a re-sent message is acknowledged once"
    await thread_due(app.state.db, settings, app.state.secret_box)

    stored = await threaded(tenant, channel, first["id"])
    assert stored["state"] == "processed" and stored["ticket_id"] and stored["comment_id"]
    ticket = (await tenant.viewer.get(f"/v1/tickets/{stored['ticket_id']}")).json()
    assert ticket["subject"] == "Shop ơi, áo size M còn không ạ?"
    assert ticket["channel"] == "chat" and ticket["group_id"] == group["id"]
    assert ticket["priority"] == "high" and ticket["tags"] == ["web"]
    requester = (await tenant.viewer.get(f"/v1/contacts/{ticket['requester_id']}")).json()
    assert requester["name"] == "Chị Mai"
    assert {"kind": "chat", "value": "khach-01"} in [
        {"kind": i["kind"], "value": i["value"]} for i in requester["identities"]
    ]
    [message] = await comments_of(tenant, ticket["id"])
    assert message["author"] == {"type": "contact", "id": requester["id"]} and message["public"] is True
    assert message["provider_message_id"] == "m-1" and message["threading"]["rule"] == "new_conversation"
    history = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/history")).json()["items"]
    assert {entry["actor_type"] for entry in history} == {"channel"}
    assert {entry["actor_id"] for entry in history} == {channel["id"]}

    async def next_message(message_id: str) -> dict[str, Any]:
        accepted = await receive(tenant, channel, message_id=message_id, conversation_id="c-1")
        await thread_due(app.state.db, settings, app.state.secret_box)
        return await threaded(tenant, channel, accepted["id"])

    assert (await next_message("m-2"))["ticket_id"] == ticket["id"]
    url = f"/v1/tickets/{ticket['id']}"
    await tenant.agent.patch(url, json={"status_kind": "solved"})
    reopened = await next_message("m-3")
    assert reopened["ticket_id"] == ticket["id"]
    assert (await tenant.viewer.get(url)).json()["status_kind"] == "open", "solved lately: reopened"
    await tenant.agent.patch(url, json={"status_kind": "closed"})
    follow_up = await next_message("m-4")
    assert follow_up["ticket_id"] != ticket["id"]
    links = (await tenant.viewer.get(f"/v1/tickets/{follow_up['ticket_id']}/links")).json()["items"]
    assert [(link["kind"], link["linked_ticket_id"]) for link in links] == [("follow_up_of", ticket["id"])]
    rules = [c["threading"]["rule"] for c in await comments_of(tenant, ticket["id"])]
    assert rules == ["new_conversation", "open_ticket", "reopened"]
    [after] = await comments_of(tenant, follow_up["ticket_id"])
    assert after["threading"] == {
        "rule": "follow_up",
        "matched": "conversation",
        "conversation_id": after["threading"]["conversation_id"],
        "inbound_message_id": follow_up["id"],
        "previous_ticket_id": ticket["id"],
    }
    assert (await tenant.admin.delete(f"/v1/channels/{channel['id']}")).status_code == 409


async def test_a_failure_written_after_another_worker_threaded_the_message_changes_nothing(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    """A failed attempt rolls back and lets its message go before the failure is written; a worker that
    threaded it meanwhile wins, and the late failure neither marks it failed nor counts an attempt."""
    channel = await chat_channel(tenant)
    inbound = await receive(tenant, channel)
    await thread_due(app.state.db, settings, app.state.secret_box)
    async with app.state.db.sessionmaker() as session, session.begin():
        await _failed(session, tenant.workspace_id, UUID(inbound["id"]), "boom", permanent=True)
    stored = await threaded(tenant, channel, inbound["id"])
    assert stored["state"] == "processed" and stored["attempts"] == 0 and stored["error"] is None


async def test_ten_messages_of_a_new_customer_at_once_make_one_ticket(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    channel = await chat_channel(tenant)
    messages = [
        {"message_id": f"m-{n}", "contact": {"id": "khach-moi", "phone": "0987654321"}, "text": f"Tin {n}"}
        for n in range(10)
    ]
    url = channel["inbound_urls"]["messages"]
    answers = await asyncio.gather(*(tenant.anonymous.post(url, json=m, headers=AUTH) for m in messages))
    assert [answer.status_code for answer in answers] == [202] * 10
    # Four workers' worth of threading at once, and the same ten messages sent again meanwhile.
    resent = asyncio.gather(*(tenant.anonymous.post(url, json=m, headers=AUTH) for m in messages))
    await asyncio.gather(
        *(thread_due(app.state.db, settings, app.state.secret_box) for _ in range(4)), resent
    )
    await thread_due(app.state.db, settings, app.state.secret_box)

    workspace_id = UUID(str(tenant.workspace_id))
    assert await count(app, Ticket, workspace_id) == 1
    assert await count(app, Contact, workspace_id) == 1
    assert await count(app, Comment, workspace_id) == 10
    [ticket] = (await tenant.viewer.get("/v1/tickets")).json()["items"]
    bodies = sorted(c["body"] for c in await comments_of(tenant, ticket["id"]))
    assert bodies == sorted(f"Tin {n}" for n in range(10))


async def test_known_and_new_senders_of_one_conversation_at_once_open_one_follow_up(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    """A known sender's message locks the conversation's row as it brings it up to date; a new sender's
    is found under the conversation's advisory lock, and then locks the row too: racing on a closed
    ticket, they open one follow-up between them."""
    channel = await chat_channel(tenant)
    first = await receive(tenant, channel, message_id="m-0", conversation_id="c-nhom")
    await thread_due(app.state.db, settings, app.state.secret_box)
    closed = (await threaded(tenant, channel, first["id"]))["ticket_id"]
    assert (
        await tenant.agent.patch(f"/v1/tickets/{closed}", json={"status_kind": "closed"})
    ).status_code == 200
    messages = [
        {
            "message_id": f"m-{n}",
            "conversation_id": "c-nhom",
            "contact": {"id": "khach-01"} if n % 2 else {"id": f"khach-moi-{n}", "name": f"Khách {n}"},
            "text": f"Tin nhắn {n}",
        }
        for n in range(1, 13)
    ]
    url = channel["inbound_urls"]["messages"]
    for message in messages:
        assert (await tenant.anonymous.post(url, json=message, headers=AUTH)).status_code == 202
    await asyncio.gather(*(thread_due(app.state.db, settings, app.state.secret_box) for _ in range(4)))

    workspace_id = UUID(str(tenant.workspace_id))
    assert await count(app, InboundMessage, workspace_id, InboundMessage.state == "processed") == 13
    follow_ups = await count(app, Ticket, workspace_id, Ticket.id != UUID(closed))
    assert follow_ups == 1, "one follow-up, whichever sender came first"
    [ticket] = [t for t in (await tenant.viewer.get("/v1/tickets")).json()["items"] if t["id"] != closed]
    comments = await comments_of(tenant, ticket["id"])
    assert sorted(c["body"] for c in comments) == sorted(m["text"] for m in messages)
    assert sorted(c["threading"]["rule"] for c in comments) == ["follow_up"] + ["open_ticket"] * 11


async def test_a_message_on_an_open_ticket_is_threaded_in_six_statements(
    app: FastAPI, tenant: Tenant, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claimed with its channel, its echo check and the rules version; the conversation locked and
    updated; the ticket locked; the comment; the ticket's change with its history and events; done."""
    channel = await chat_channel(tenant)
    await receive(tenant, channel, message_id="m-1", conversation_id="c-dem")
    await thread_due(app.state.db, settings, app.state.secret_box)
    second = await receive(tenant, channel, message_id="m-2", conversation_id="c-dem")
    transactions: list[list[str]] = []

    def ran(statement: str) -> None:
        if statement.lstrip().startswith("SELECT inbound_messages."):  # a claim starts a transaction
            transactions.append([])
        # Wake-ups are sent after the commit, on a connection of their own: not the transaction's.
        if not statement.startswith("SELECT pg_notify("):
            transactions[-1].append(statement)

    def before_cursor_execute(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        ran(statement)

    run_plain = PlainStatement.fetchrow

    async def plain(statement: PlainStatement, session: Any, parameters: Any) -> Any:
        ran(statement.sql)
        return await run_plain(statement, session, parameters)

    monkeypatch.setattr(PlainStatement, "fetchrow", plain)
    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        await thread_due(app.state.db, settings, app.state.secret_box)
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
    assert (await threaded(tenant, channel, second["id"]))["state"] == "processed"
    [mine] = [t for t in transactions if any(s.startswith("INSERT INTO comments") for s in t)]
    assert len(mine) <= 6, "\n".join(mine)


async def test_a_known_customer_is_found_by_email_or_phone(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    known = await create_contact(tenant.agent, name="Anh Tuấn", email="tuan@example.vn")
    from_crm = {"field": "channel", "operator": "equals", "value": "api"}
    await create(
        tenant.admin,
        "/v1/triggers",
        {
            "name": "Từ CRM",
            "events": ["ticket.created"],
            "conditions": {"all": [from_crm]},
            "actions": [{"type": "add_tags", "tags": ["crm"]}],
        },
    )
    channel = await create(
        tenant.admin, "/v1/channels", {"kind": "api", "name": "CRM", "secrets": {"token": TOKEN}}
    )
    accepted = await receive(tenant, channel, contact={"id": "CRM-991", "email": "Tuan@Example.vn"})
    await thread_due(app.state.db, settings, app.state.secret_box)
    ticket_id = (await threaded(tenant, channel, accepted["id"]))["ticket_id"]
    ticket = (await tenant.viewer.get(f"/v1/tickets/{ticket_id}")).json()
    assert ticket["requester_id"] == known["id"] and ticket["channel"] == "api"
    assert ticket["tags"] == ["crm"], "triggers run on tickets channels open"
    identities = (await tenant.viewer.get(f"/v1/contacts/{known['id']}")).json()["identities"]
    assert {"kind": "external", "value": "CRM-991"} in [
        {"kind": i["kind"], "value": i["value"]} for i in identities
    ]


async def test_required_fields_and_retired_defaults_never_refuse_a_customers_message(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    for entity, key in (("ticket", "ma_don_hang"), ("contact", "ngay_sinh")):
        field = {"entity": entity, "key": key, "label": key, "type": "text", "required": True}
        await create(tenant.admin, "/v1/custom-fields", field)
    category = await create(tenant.admin, "/v1/categories", {"name": "Đơn hàng"})
    channel = await chat_channel(tenant, defaults={"category_id": category["id"]})
    retired = await tenant.admin.patch(f"/v1/categories/{category['id']}", json={"active": False})
    assert retired.status_code == 200, retired.text
    accepted = await receive(tenant, channel)
    await thread_due(app.state.db, settings, app.state.secret_box)
    threaded_message = await threaded(tenant, channel, accepted["id"])
    assert threaded_message["state"] == "processed", threaded_message["error"]
    ticket = (await tenant.viewer.get(f"/v1/tickets/{threaded_message['ticket_id']}")).json()
    assert ticket["custom_fields"] == {}, "an agent fills the fields in later"
    assert ticket["category_id"] is None, "a default category deactivated since is left out"
    by_api = await tenant.admin.post(
        "/v1/tickets", json={"subject": "Hỏi đơn", "requester_id": ticket["requester_id"]}
    )
    assert by_api.status_code == 422 and by_api.json()["code"] == "required", "the API still requires them"


async def test_messages_carry_files_uploaded_first_or_linked(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    channel = await chat_channel(tenant)
    uploads = channel["inbound_urls"]["uploads"]
    menu = b"%PDF-1.4 thuc don"
    uploaded = await tenant.anonymous.post(
        uploads, files=[("files", ("Thực đơn.pdf", menu, "application/pdf"))], headers=AUTH
    )
    assert uploaded.status_code == 201, uploaded.text
    [upload] = uploaded.json()["items"]
    assert upload["filename"] == "Thực đơn.pdf" and upload["content_type"] == "application/pdf"
    assert (await tenant.anonymous.post(uploads, files=[("files", ("a.txt", b"x"))])).status_code == 401
    agents_upload = (await tenant.admin.post("/v1/uploads", files=[("files", ("b.txt", b"y"))])).json()[
        "items"
    ][0]

    refused = await post_message(tenant, channel, attachments=[{"upload_token": agents_upload["token"]}])
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_attachments"
    assert refused.json()["invalid_tokens"] == [agents_upload["token"]], "only the channel's own uploads"
    empty = await post_message(tenant, channel, text=" ")
    assert empty.status_code == 422, "a message needs text or a file"
    both = await post_message(
        tenant, channel, attachments=[{"url": "https://a.example/x", "upload_token": "t"}]
    )
    assert both.status_code == 422

    photo = receiver.on("/anh/ao-so-mi.png", Behaviour(content=PNG))
    accepted = await receive(
        tenant,
        channel,
        text="",
        attachments=[
            {"upload_token": upload["token"]},
            {"url": photo, "filename": "Áo sơ mi.png"},
            {"url": "http://10.1.2.3/noi-bo.png"},
        ],
    )
    await thread_due(app.state.db, settings, app.state.secret_box)
    comment_id = (await threaded(tenant, channel, accepted["id"]))["comment_id"]
    ticket_id = (await threaded(tenant, channel, accepted["id"]))["ticket_id"]
    [posted] = [c for c in await comments_of(tenant, ticket_id) if c["id"] == comment_id]
    assert posted["body"] == (
        "[Tệp không tải được (The address 10.1.2.3 is not a public address): http://10.1.2.3/noi-bo.png]"
    ), "an internal address is never fetched, and the message is kept"
    subject = (await tenant.viewer.get(f"/v1/tickets/{ticket_id}")).json()["subject"]
    assert subject == "Tệp từ Chat", "named by what it carries, not by the note on its download"
    files = {f["filename"]: f for f in posted["attachments"]}
    assert set(files) == {"Thực đơn.pdf", "Áo sơ mi.png"}
    assert (await tenant.viewer.get(files["Thực đơn.pdf"]["url"])).content == menu
    assert (await tenant.viewer.get(files["Áo sơ mi.png"]["url"])).content == PNG
    again = await post_message(
        tenant, channel, message_id="m-2", attachments=[{"upload_token": upload["token"]}]
    )
    assert again.status_code == 422, "an upload goes on one message only"


async def test_a_file_that_cannot_be_downloaded_yet_puts_its_message_off(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    channel = await chat_channel(tenant)
    flaky = receiver.on("/anh/flaky.png", Behaviour(fail_first=1, content=PNG))
    down = receiver.on("/anh/down.png", Behaviour(status=503))
    later = await receive(tenant, channel, message_id="m-1", text="Ảnh đây", attachments=[{"url": flaky}])
    never = await receive(
        tenant, channel, message_id="m-2", conversation_id="c-2", text="Ảnh nữa", attachments=[{"url": down}]
    )

    async def thread_now() -> None:
        async with app.state.db.sessionmaker() as session, session.begin():
            await session.execute(update(InboundMessage).values(next_attempt_at=func.now()))
        await thread_due(app.state.db, settings, app.state.secret_box)

    await thread_due(app.state.db, settings, app.state.secret_box)
    put_off = await threaded(tenant, channel, later["id"])
    assert put_off["state"] == "received" and put_off["attempts"] == 1 and "answered 500" in put_off["error"]
    await thread_now()
    kept = await threaded(tenant, channel, later["id"])
    assert kept["state"] == "processed" and kept["error"] is None, kept
    [comment_out] = [c for c in await comments_of(tenant, kept["ticket_id"]) if c["id"] == kept["comment_id"]]
    assert comment_out["body"] == "Ảnh đây" and [f["filename"] for f in comment_out["attachments"]] == [
        "flaky.png"
    ]

    for _ in range(2):
        await thread_now()
    gave_up = await threaded(tenant, channel, never["id"])
    assert gave_up["state"] == "processed" and gave_up["attempts"] == 3, (
        "tried four times, then on without it"
    )
    [noted] = [c for c in await comments_of(tenant, gave_up["ticket_id"]) if c["id"] == gave_up["comment_id"]]
    assert noted["body"] == f"Ảnh nữa\n\n[Tệp không tải được (the server answered 503): {down}]"
    assert len(receiver.at("/anh/down.png")) == 4


async def test_downloads_are_bounded_and_every_redirect_is_checked(receiver: Receiver) -> None:
    policy = OutboundPolicy(allow_http=True, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    big = receiver.on("/big", Behaviour(content=bytes(1000)))
    loop = receiver.on("/loop", Behaviour(status=302, headers={"Location": "/loop"}))
    inward = receiver.on("/inward", Behaviour(status=301, headers={"Location": "http://169.254.169.254/"}))
    async with httpx.AsyncClient() as client:
        assert (await safe_get(client, big, max_bytes=1000, timeout=5, policy=policy)).content == bytes(1000)
        with pytest.raises(ResponseTooLarge):
            await safe_get(client, big, max_bytes=999, timeout=5, policy=policy)
        with pytest.raises(httpx.TooManyRedirects):
            await safe_get(client, loop, max_bytes=10, timeout=5, policy=policy)
        with pytest.raises(UnsafeDestination):
            await safe_get(client, inward, max_bytes=10, timeout=5, policy=policy)
    assert len(receiver.at("/loop")) == MAX_REDIRECTS + 1


async def test_call_records_go_on_the_callers_ticket(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    agent = await create_agent(tenant.admin, "tong-dai-01", name="Chị Hằng")
    channel = await create(
        tenant.admin, "/v1/channels", {"kind": "api", "name": "Tổng đài", "secrets": {"token": TOKEN}}
    )
    calls = channel["inbound_urls"]["calls"]
    inbound_call = {
        "call_id": "call-1",
        "direction": "inbound",
        "caller": "0912 345 678",
        "contact_name": "Ông Bình",
        "started_at": "2026-12-01T09:00:00+07:00",
        "duration_seconds": 192,
        "recording_url": "https://tongdai.example.vn/ghi-am/call-1.mp3",
    }
    first = await tenant.anonymous.post(calls, json=inbound_call, headers=AUTH)
    assert first.status_code == 202, first.text
    callback = {
        **inbound_call,
        "call_id": "call-2",
        "direction": "outbound",
        "agent_id": agent["id"],
        "note": "Đã hướng dẫn khách đổi mật khẩu",
    }
    second = await tenant.anonymous.post(calls, json=callback, headers=AUTH)
    assert second.status_code == 202
    await thread_due(app.state.db, settings, app.state.secret_box)

    ticket_id = (await threaded(tenant, channel, first.json()["id"]))["ticket_id"]
    assert (await threaded(tenant, channel, second.json()["id"]))["ticket_id"] == ticket_id
    ticket = (await tenant.viewer.get(f"/v1/tickets/{ticket_id}")).json()
    assert ticket["channel"] == "call" and ticket["first_response_at"] is not None, "the agent called back"
    requester = (await tenant.viewer.get(f"/v1/contacts/{ticket['requester_id']}")).json()
    assert requester["phone"] == "+84912345678" and requester["name"] == "Ông Bình"
    heard, called = await comments_of(tenant, ticket_id)
    assert heard["author"]["type"] == "contact" and "3 phút 12 giây" in heard["body"]
    assert "call-1.mp3" in heard["body"]
    assert called["author"] == {"type": "agent", "id": agent["id"]}
    assert called["body"].endswith("Đã hướng dẫn khách đổi mật khẩu") and called["delivery"] is None


# Replies


async def test_agent_replies_go_back_signed_and_echoes_are_ignored(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    await create_agent(tenant.admin, "cskh-01", name="Anh Khoa")
    channel = await chat_channel(
        tenant,
        settings={"callback_url": receiver.on("/replies", Behaviour())},
        secrets={"token": TOKEN, "callback_secret": SIGNING},
    )
    accepted = await receive(tenant, channel, conversation_id="c-9")
    await thread_due(app.state.db, settings, app.state.secret_box)
    ticket_id = (await threaded(tenant, channel, accepted["id"]))["ticket_id"]
    agent = await agent_token_client(app, tenant, "cskh-01")
    reply = await comment(agent, ticket_id, public=True, body="Dạ size M vẫn còn ạ")
    note = await comment(agent, ticket_id, public=False, body="Kiểm tra kho trước khi chốt")
    assert reply["delivery"] == {"state": "queued", "error": None} and note["delivery"] is None

    async with httpx.AsyncClient() as client:
        assert await send_due_replies(
            app.state.db, settings, app.state.secret_box, client, outbound_policy(settings)
        )
    [request] = receiver.at("/replies")
    Verifier(SIGNING).verify(
        request.body,
        {name: header(request, name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")},
    )
    sent = json.loads(request.body)["data"]
    assert sent["conversation_id"] == "c-9" and sent["contact_id"] == "khach-01"
    assert sent["message"]["text"] == "Dạ size M vẫn còn ạ" and sent["message"]["author"]["type"] == "agent"
    shown = (await agent.get(f"/v1/comments/{reply['id']}")).json()
    assert shown["delivery"] == {"state": "sent", "error": None}
    assert shown["provider_message_id"] == header(request, "webhook-id")

    echo = await receive(tenant, channel, message_id=shown["provider_message_id"], conversation_id="c-9")
    await thread_due(app.state.db, settings, app.state.secret_box)
    ignored = await threaded(tenant, channel, echo["id"])
    assert ignored["state"] == "ignored" and "echo" in ignored["error"]
    assert len(await comments_of(tenant, ticket_id)) == 3


async def test_a_refused_reply_fails_at_once_and_a_busy_receiver_is_tried_again(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    await create_agent(tenant.admin, "cskh-02")
    channel = await chat_channel(
        tenant,
        settings={"callback_url": receiver.on("/closed", Behaviour(status=400))},
        secrets={"token": TOKEN, "callback_secret": SIGNING},
    )
    accepted = await receive(tenant, channel)
    await thread_due(app.state.db, settings, app.state.secret_box)
    ticket_id = (await threaded(tenant, channel, accepted["id"]))["ticket_id"]
    agent = await agent_token_client(app, tenant, "cskh-02")
    refused = await comment(agent, ticket_id, public=True, body="Dạ em gửi lại thông tin ạ")
    async with httpx.AsyncClient() as client:
        policy = outbound_policy(settings)
        await send_due_replies(app.state.db, settings, app.state.secret_box, client, policy)
        shown = (await agent.get(f"/v1/comments/{refused['id']}")).json()
        assert shown["delivery"]["state"] == "failed" and "400" in shown["delivery"]["error"]
        events = (
            await tenant.viewer.get("/v1/events", params={"types": "ticket.comment_delivery_failed"})
        ).json()
        [failed] = events["items"]
        assert failed["data"]["comment"]["id"] == refused["id"]

        busy = receiver.on("/busy", Behaviour(status=503))
        await tenant.admin.patch(f"/v1/channels/{channel['id']}", json={"settings": {"callback_url": busy}})
        waiting = await comment(agent, ticket_id, public=True, body="Anh/chị còn cần hỗ trợ gì không ạ?")
        await send_due_replies(app.state.db, settings, app.state.secret_box, client, policy)
        assert len(receiver.at("/busy")) == 1
        shown = (await agent.get(f"/v1/comments/{waiting['id']}")).json()
        assert shown["delivery"] == {"state": "queued", "error": None}, "tried again later"
        await send_due_replies(app.state.db, settings, app.state.secret_box, client, policy)
        assert len(receiver.at("/busy")) == 1, "not due again yet"


async def test_internal_tickets_and_customers_own_words_are_never_sent(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    channel = await chat_channel(
        tenant,
        settings={"callback_url": receiver.on("/never", Behaviour())},
        secrets={"token": TOKEN, "callback_secret": SIGNING},
    )
    accepted = await receive(tenant, channel)
    await thread_due(app.state.db, settings, app.state.secret_box)
    ticket_id = (await threaded(tenant, channel, accepted["id"]))["ticket_id"]
    assert (await comments_of(tenant, ticket_id))[0]["delivery"] is None
    plain = await create_ticket(tenant.agent)
    system_reply = await comment(tenant.agent, plain["id"], public=True, body="Không có kênh")
    assert system_reply["delivery"] is None, "a ticket opened through the API has no channel to reply on"
    await tenant.agent.patch(f"/v1/tickets/{ticket_id}", json={"status_kind": "open"})
    assert receiver.at("/never") == []


# Workers


async def test_a_worker_killed_or_stopped_while_threading_loses_and_duplicates_nothing(
    app: FastAPI, database_url: str, tenant: Tenant
) -> None:
    channel = await chat_channel(tenant)
    url = channel["inbound_urls"]["messages"]
    for n in range(60):
        body = {"message_id": f"k-{n}", "contact": {"id": f"khach-{n % 6}"}, "text": f"Tin nhắn {n}"}
        assert (await tenant.anonymous.post(url, json=body, headers=AUTH)).status_code == 202
    workspace_id = UUID(str(tenant.workspace_id))

    doomed = start_worker(database_url, HELPDESK_WORKER_INBOUND_CONCURRENCY="4")
    try:
        await processed_at_least(app, workspace_id, 5, within_seconds=30)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    processed = InboundMessage.state == "processed"
    assert await count(app, InboundMessage, workspace_id, processed) < 60, "killed mid-way"

    stopped = start_worker(database_url, HELPDESK_WORKER_INBOUND_CONCURRENCY="4")
    try:
        await processed_at_least(app, workspace_id, 10, within_seconds=30)
    finally:
        stopped.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(stopped.wait, 30) == 0, "a stop finishes the messages in hand"
    assert await count(app, InboundMessage, workspace_id, InboundMessage.state == "failed") == 0

    survivor = start_worker(database_url)
    try:
        await processed_at_least(app, workspace_id, 60, within_seconds=60)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait()
    assert await count(app, InboundMessage, workspace_id, processed) == 60
    assert await count(app, Comment, workspace_id) == 60
    assert await count(app, Ticket, workspace_id) == 6
    async with app.state.db.sessionmaker() as session:
        ids = (
            await session.scalars(
                select(Comment.provider_message_id).where(Comment.workspace_id == workspace_id)
            )
        ).all()
    assert sorted(ids) == sorted(f"k-{n}" for n in range(60))
