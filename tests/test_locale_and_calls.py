"""The workspace's language in what the service writes, subjects of messages without text, and call
records kept as data: on the comment, in its events, and as filters of the ticket list."""

import asyncio
import json
import secrets
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
from alembic import command
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from app.auth.principal import Principal
from app.channels.tasks import thread_due
from app.config import Settings
from app.db import alembic_config
from app.kit.time import utcnow
from app.models.enums import ActorType, Role
from app.tickets.filters import TicketFilters
from app.tickets.repository import TicketRepository
from tests.conftest import Tenant, admin_statement
from tests.factories import create, create_agent, create_ticket, create_webhook
from tests.locks import plain_url
from tests.receiver import Behaviour, Receiver
from tests.test_channels import AUTH, TOKEN, receive, threaded
from tests.test_messaging_providers import JPEG, post_zalo, zalo_channel, zalo_event, zalo_mac
from tests.test_triggers import comments_of
from tests.test_webhooks import run_jobs, verify

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(64)


async def set_locale(tenant: Tenant, locale: str) -> httpx.Response:
    current = await tenant.admin.get("/v1/workspace")
    return await tenant.admin.patch(
        "/v1/workspace", json={"locale": locale}, headers={"If-Match": current.headers["ETag"]}
    )


# The workspace's locale


async def test_the_locale_is_vietnamese_by_default_and_changed_by_admins_only(tenant: Tenant) -> None:
    shown = await tenant.viewer.get("/v1/workspace")
    assert shown.status_code == 200 and shown.json()["locale"] == "vi"
    changed = await set_locale(tenant, "en")
    assert changed.status_code == 200, changed.text
    assert changed.json()["locale"] == "en" and changed.headers["ETag"] != shown.headers["ETag"]
    assert (await tenant.viewer.get("/v1/workspace")).json()["locale"] == "en"
    for wrong in ("fr", "VI", "", None, 1):
        refused = await tenant.admin.patch("/v1/workspace", json={"locale": wrong})
        assert refused.status_code == 422, wrong
        assert "locale" in refused.text
    stale = await tenant.admin.patch("/v1/workspace", json={"locale": "vi"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await tenant.agent.patch("/v1/workspace", json={"locale": "vi"})).status_code == 403
    assert (await tenant.viewer.get("/v1/workspace")).json()["locale"] == "en"


async def test_a_sub_tickets_note_is_written_in_the_workspaces_locale(tenant: Tenant) -> None:
    parent = await create_ticket(tenant.agent, subject="Lắp đặt điều hòa tại chi nhánh Đà Nẵng")
    notes = []
    for locale in ("vi", "en"):
        assert (await set_locale(tenant, locale)).status_code == 200
        child = await create(tenant.agent, f"/v1/tickets/{parent['id']}/children", {"subject": "Khảo sát"})
        [note] = await comments_of(tenant, child["id"])
        assert note["public"] is False
        notes.append(note["body"])
    number = parent["number"]
    assert notes == [
        f"Phiếu con của #{number}: Lắp đặt điều hòa tại chi nhánh Đà Nẵng",
        f"Sub-ticket of #{number}: Lắp đặt điều hòa tại chi nhánh Đà Nẵng",
    ]


# Subjects of messages without text


async def _zalo_images(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> dict[str, dict[str, Any]]:
    """Three customers of a Zalo OA write no text: an image that cannot be downloaded, an image that
    can, and a sticker. Their tickets, by customer."""
    channel = await zalo_channel(tenant, "http://127.0.0.1:9")
    gone = receiver.on("/cdn/het-han.jpg", Behaviour(status=404))
    kept = receiver.on("/cdn/anh.jpg", Behaviour(content=JPEG))
    sent = {
        "hoa": [{"type": "image", "payload": {"url": gone}}],
        "lan": [{"type": "image", "payload": {"url": kept}}],
        "minh": [{"type": "sticker", "payload": {"id": "c3a1", "url": "https://zalo.example/sticker/c3a1"}}],
    }
    for number, (who, attachments) in enumerate(sent.items()):
        body = zalo_event(
            channel,
            "user_send_image",
            1717061843000 + number,
            sender={"id": f"55101857582619{number:05d}"},
            recipient={"id": "1646843870823903717"},
            message={"msg_id": f"khong-chu-{who}", "attachments": attachments},
        )
        assert (await post_zalo(tenant, channel, body, zalo_mac(body))).json() == {"stored": 1}
    await thread_due(app.state.db, settings, app.state.secret_box)
    tickets = (await tenant.viewer.get("/v1/tickets", params={"sort": "created_at"})).json()["items"]
    assert len(tickets) == 3
    return dict(zip(sent, tickets, strict=True))


async def test_a_ticket_opened_without_text_is_named_by_what_it_carries(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    tickets = await _zalo_images(app, tenant, settings, receiver)
    assert {who: ticket["subject"] for who, ticket in tickets.items()} == {
        "hoa": "Hình ảnh từ Zalo",
        "lan": "Hình ảnh từ Zalo",
        "minh": "Nhãn dán từ Zalo",
    }, "never the note on the failed download"
    [failed] = await comments_of(tenant, tickets["hoa"]["id"])
    assert failed["body"].startswith("[Hình ảnh không tải được (the server answered 404): http://")
    [sticker] = await comments_of(tenant, tickets["minh"]["id"])
    assert sticker["body"] == "[Nhãn dán] https://zalo.example/sticker/c3a1"


async def test_in_english_the_same_messages_say_it_in_english(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    assert (await set_locale(tenant, "en")).status_code == 200
    tickets = await _zalo_images(app, tenant, settings, receiver)
    assert {who: ticket["subject"] for who, ticket in tickets.items()} == {
        "hoa": "Image from Zalo",
        "lan": "Image from Zalo",
        "minh": "Sticker from Zalo",
    }
    [failed] = await comments_of(tenant, tickets["hoa"]["id"])
    assert failed["body"].startswith("[Image not downloaded (the server answered 404): http://")


async def test_a_chat_message_of_an_upload_alone_is_a_file_from_chat(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    assert (await set_locale(tenant, "en")).status_code == 200
    channel = await create(
        tenant.admin, "/v1/channels", {"kind": "chat", "name": "Chat website", "secrets": {"token": TOKEN}}
    )
    uploaded = await tenant.anonymous.post(
        channel["inbound_urls"]["uploads"],
        files=[("files", ("Bảng giá.pdf", b"%PDF-1.4 bang gia", "application/pdf"))],
        headers=AUTH,
    )
    [upload] = uploaded.json()["items"]
    accepted = await receive(tenant, channel, text="", attachments=[{"upload_token": upload["token"]}])
    await thread_due(app.state.db, settings, app.state.secret_box)
    ticket_id = (await threaded(tenant, channel, accepted["id"]))["ticket_id"]
    assert (await tenant.viewer.get(f"/v1/tickets/{ticket_id}")).json()["subject"] == "File from Chat"
    [posted] = await comments_of(tenant, ticket_id)
    assert posted["body"] == "(no text)"
    assert [f["filename"] for f in posted["attachments"]] == ["Bảng giá.pdf"]


# Call records


async def call_channel(tenant: Tenant, **settings: Any) -> dict[str, Any]:
    return await create(
        tenant.admin,
        "/v1/channels",
        {"kind": "api", "name": "Tổng đài", "settings": settings, "secrets": {"token": TOKEN}},
    )


async def post_call(tenant: Tenant, channel: dict[str, Any], **fields: Any) -> str:
    body = {"direction": "inbound", "started_at": "2026-12-01T09:00:00+07:00", **fields}
    response = await tenant.anonymous.post(channel["inbound_urls"]["calls"], json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def calls_of_a_day(
    app: FastAPI, tenant: Tenant, settings: Settings, **channel_settings: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Ông Bình calls and is answered, an agent calls him back; Chị Mai's call is missed. The channel,
    the agent, and the stored call records by name."""
    agent = await create_agent(tenant.admin, "tong-dai-07", name="Chị Hằng")
    channel = await call_channel(tenant, phone_number="1900 6868", **channel_settings)
    stored = {
        "answered": await post_call(
            tenant,
            channel,
            call_id="goi-1",
            caller="0912 345 678",
            contact_name="Ông Bình",
            agent_id=agent["id"],
            ended_at="2026-12-01T09:03:05+07:00",
            duration_seconds=185,
            recording_url="https://tongdai.example.vn/ghi-am/goi-1.mp3",
        ),
        "outbound": await post_call(
            tenant,
            channel,
            call_id="goi-2",
            direction="outbound",
            caller="0912 345 678",
            callee="101",
            agent_id=agent["id"],
            started_at="2026-12-01T10:15:00+07:00",
            duration_seconds=42,
            note="Đã hướng dẫn khách đổi mật khẩu",
        ),
        "missed": await post_call(
            tenant, channel, call_id="goi-3", caller="0987 654 321", contact_name="Chị Mai", answered=False
        ),
    }
    await thread_due(app.state.db, settings, app.state.secret_box)
    return channel, agent, stored


async def test_a_call_record_is_kept_as_data_with_a_summary_in_the_workspaces_locale(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    webhook = await create_webhook(
        tenant.admin, receiver.on("/crm/calls", Behaviour()), event_types=["ticket.comment_added"]
    )
    channel, agent, stored = await calls_of_a_day(app, tenant, settings)
    answered = await threaded(tenant, channel, stored["answered"])
    assert (await threaded(tenant, channel, stored["outbound"]))["ticket_id"] == answered["ticket_id"]
    ticket = (await tenant.viewer.get(f"/v1/tickets/{answered['ticket_id']}")).json()
    assert ticket["channel"] == "call"
    assert ticket["subject"] == "Cuộc gọi đến từ 0912 345 678, đã trả lời, 3 phút 5 giây"
    heard, called = await comments_of(tenant, ticket["id"])
    assert heard["channel"] == "call" and heard["call"] == {
        "direction": "inbound",
        "from": "+84912345678",
        "to": "1900 6868",
        "started_at": "2026-12-01T09:00:00+07:00",
        "ended_at": "2026-12-01T09:03:05+07:00",
        "answered": True,
        "duration_seconds": 185,
        "recording_url": "https://tongdai.example.vn/ghi-am/goi-1.mp3",
        "agent_id": agent["id"],
        "provider_call_id": "goi-1",
    }
    assert heard["body"] == (
        "Cuộc gọi đến từ 0912 345 678, đã trả lời, 3 phút 5 giây\n"
        "Bắt đầu lúc 09:00 ngày 01/12/2026\n"
        "Ghi âm: https://tongdai.example.vn/ghi-am/goi-1.mp3"
    )
    assert heard["attachments"] == [], "a recording stays a link unless the channel downloads them"
    assert called["author"] == {"type": "agent", "id": agent["id"]}
    assert called["call"]["direction"] == "outbound" and called["call"]["answered"] is True
    assert (called["call"]["from"], called["call"]["to"]) == ("101", "+84912345678")
    assert called["body"] == (
        "Cuộc gọi đi tới 0912 345 678, đã trả lời, 42 giây\n"
        "Bắt đầu lúc 10:15 ngày 01/12/2026\n\n"
        "Đã hướng dẫn khách đổi mật khẩu"
    )
    missed = await threaded(tenant, channel, stored["missed"])
    [unanswered] = await comments_of(tenant, missed["ticket_id"])
    assert unanswered["call"]["answered"] is False and unanswered["call"]["duration_seconds"] is None
    assert unanswered["body"].startswith("Cuộc gọi nhỡ từ 0987 654 321\n")
    missed_ticket = (await tenant.viewer.get(f"/v1/tickets/{missed['ticket_id']}")).json()
    assert missed_ticket["subject"] == "Cuộc gọi nhỡ từ 0987 654 321"
    assert (await tenant.viewer.get(f"/v1/comments/{heard['id']}")).json()["call"] == heard["call"]

    feed = await tenant.viewer.get("/v1/events", params={"types": "ticket.comment_added", "limit": 100})
    carried = {event["data"]["comment"]["id"]: event["data"]["comment"] for event in feed.json()["items"]}
    assert carried[heard["id"]]["call"] == heard["call"]
    assert carried[unanswered["id"]]["call"] == unanswered["call"]
    await run_jobs(app, utcnow(), tenant)
    pushed = [verify(request, webhook["secret"]) for request in await receiver.wait_for("/crm/calls", 3)]
    by_comment = {body["data"]["data"]["comment"]["id"]: body["data"]["data"]["comment"] for body in pushed}
    assert by_comment[called["id"]]["call"] == called["call"]


async def test_in_english_a_call_is_summed_up_in_english(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    assert (await set_locale(tenant, "en")).status_code == 200
    channel, _, stored = await calls_of_a_day(app, tenant, settings)
    answered = await threaded(tenant, channel, stored["answered"])
    heard, called = await comments_of(tenant, answered["ticket_id"])
    assert heard["body"].splitlines() == [
        "Inbound call from 0912 345 678, answered, 3 min 5 s",
        "Started at 09:00 on 2026-12-01",
        "Recording: https://tongdai.example.vn/ghi-am/goi-1.mp3",
    ]
    assert called["body"].startswith("Outbound call to 0912 345 678, answered, 42 s\n")
    missed = await threaded(tenant, channel, stored["missed"])
    ticket = (await tenant.viewer.get(f"/v1/tickets/{missed['ticket_id']}")).json()
    assert ticket["subject"] == "Missed call from 0987 654 321"


async def test_tickets_are_found_by_the_call_channel_and_by_a_missed_call(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, settings: Settings
) -> None:
    channel, _, stored = await calls_of_a_day(app, tenant, settings)
    answered = (await threaded(tenant, channel, stored["answered"]))["ticket_id"]
    missed = (await threaded(tenant, channel, stored["missed"]))["ticket_id"]
    written = (await create_ticket(tenant.agent, subject="Hỏi về hóa đơn", channel="email"))["id"]
    # Another workspace's missed call is never among this one's.
    theirs, _, their_calls = await calls_of_a_day(app, other_tenant, settings)
    their_missed = (await threaded(other_tenant, theirs, their_calls["missed"]))["ticket_id"]

    async def listed(**params: str) -> set[str]:
        response = await tenant.viewer.get("/v1/tickets", params=params)
        assert response.status_code == 200, response.text
        return {ticket["id"] for ticket in response.json()["items"]}

    assert await listed(channel="call") == {answered, missed}
    assert await listed(channel="email") == {written}
    assert await listed(has_missed_call="true") == {missed}
    assert await listed(has_missed_call="false") == {answered, written}
    assert await listed(has_missed_call="true", channel="email") == set()
    counted = await tenant.viewer.get("/v1/tickets/counts", params={"has_missed_call": "true"})
    assert counted.json()["total"] == 1
    theirs_listed = await other_tenant.viewer.get("/v1/tickets", params={"has_missed_call": "true"})
    assert [ticket["id"] for ticket in theirs_listed.json()["items"]] == [their_missed]
    refused = await tenant.viewer.get("/v1/tickets", params={"has_missed_call": "perhaps"})
    assert refused.status_code == 422 and "has_missed_call" in refused.text
    assert (await tenant.viewer.get("/v1/tickets", params={"channel": "phone"})).status_code == 400


async def test_the_missed_call_filter_reads_the_partial_index(app: FastAPI, tenant: Tenant) -> None:
    """Only the comments of missed calls are in the index the filter reads, whatever their number."""
    principal = Principal(tenant.workspace_id, Role.viewer, ActorType.api_key, uuid4())
    async with app.state.db.sessionmaker() as session, session.begin():
        listed = TicketRepository(session, tenant.workspace_id).filtered(
            principal, TicketFilters(has_missed_call=True)
        )
        compiled = listed.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join((await session.execute(text(f"EXPLAIN {compiled}"))).scalars())
    assert "ix_comments_missed_calls" in plan, plan


async def test_a_recording_is_downloaded_and_attached_when_the_channel_says_so(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    recording = receiver.on("/ghi-am/goi-9.mp3", Behaviour(content=MP3))
    channel = await call_channel(tenant, download_recordings=True)
    assert channel["settings"]["download_recordings"] is True
    stored = await post_call(
        tenant, channel, call_id="goi-9", caller="0912 345 678", duration_seconds=65, recording_url=recording
    )
    await thread_due(app.state.db, settings, app.state.secret_box)
    found = await threaded(tenant, channel, stored)
    [heard] = await comments_of(tenant, found["ticket_id"])
    assert heard["call"]["recording_url"] == recording and heard["call"]["to"] is None
    [file] = heard["attachments"]
    assert file["filename"] == "goi-9.mp3"
    assert (await tenant.viewer.get(file["url"])).content == MP3
    assert f"Ghi âm: {recording}" in heard["body"]
    assert len(receiver.at("/ghi-am/goi-9.mp3")) == 1


# The migration: rules that named the `phone` channel name `call`

BEFORE_CALLS = "8b3f1d6e2a47"
CALLS = "2ecbe04e78f4"
PHONE_RULES = {
    "all": [
        {"field": "channel", "operator": "equals", "value": "phone"},
        {"field": "subject", "operator": "contains", "value": "phone"},
    ],
    "any": [{"field": "channel", "operator": "in", "value": ["zalo", "phone"]}],
}


async def _sql(url: str, statement: str, *arguments: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(plain_url(url))
    try:
        return await connection.fetch(statement, *arguments)
    finally:
        await connection.close()


def _rules(url: str) -> list[tuple[str, dict[str, Any], int]]:
    rows = asyncio.run(
        _sql(
            url,
            "SELECT name, conditions::text, version FROM triggers"
            " UNION ALL SELECT name, conditions::text, version FROM sla_policies ORDER BY 1",
        )
    )
    return [(name, json.loads(conditions), version) for name, conditions, version in rows]


def test_rules_naming_the_phone_channel_name_the_call_channel_and_back(database_url: str) -> None:
    name = f"helpdesk_calls_{secrets.token_hex(4)}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin_statement(database_url, f'CREATE DATABASE "{name}"'))
    try:
        config = alembic_config(url)
        command.upgrade(config, BEFORE_CALLS)
        workspace = uuid4()
        asyncio.run(_sql(url, "INSERT INTO workspaces (id, name) VALUES ($1, 'Tổng đài')", workspace))
        email = {"all": [{"field": "channel", "operator": "equals", "value": "email"}]}
        add_trigger = (
            "INSERT INTO triggers (workspace_id, id, name, conditions, events)"
            " VALUES ($1, $2, $3, $4::jsonb, ARRAY['ticket.created'])"
        )
        for rule_name, conditions in (("Cuộc gọi", PHONE_RULES), ("Email", email)):
            asyncio.run(_sql(url, add_trigger, workspace, uuid4(), rule_name, json.dumps(conditions)))
        add_policy = (
            "INSERT INTO sla_policies (workspace_id, id, name, conditions) VALUES ($1, $2, $3, $4::jsonb)"
        )
        asyncio.run(_sql(url, add_policy, workspace, uuid4(), "Gọi điện", json.dumps(PHONE_RULES)))

        command.upgrade(config, CALLS)
        renamed = {
            "all": [
                {"field": "channel", "operator": "equals", "value": "call"},
                {"field": "subject", "operator": "contains", "value": "phone"},
            ],
            "any": [{"field": "channel", "operator": "in", "value": ["zalo", "call"]}],
        }
        assert _rules(url) == [("Cuộc gọi", renamed, 2), ("Email", email, 1), ("Gọi điện", renamed, 2)]
        assert asyncio.run(_sql(url, "SELECT locale::text FROM workspaces")) == [("vi",)]

        command.downgrade(config, BEFORE_CALLS)
        assert _rules(url) == [
            ("Cuộc gọi", PHONE_RULES, 3),
            ("Email", email, 1),
            ("Gọi điện", PHONE_RULES, 3),
        ]
    finally:
        asyncio.run(admin_statement(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
