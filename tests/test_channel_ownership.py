"""What a channel receives for is its own in the whole service: an inbound email address (any case, any
`+tag`), a Messenger Page, a Zalo OA and a Zalo app belong to one channel, whichever workspace asks, so
that no workspace can receive another's customers' messages. Events another account's app signs for
this channel's URL are dropped and shown in its inbound log, never threaded."""

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from uuid import uuid4

import aiosmtplib
import asyncpg
import httpx
from alembic import command
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.channels.tasks import thread_due
from app.config import Settings
from app.db import alembic_config
from tests import test_email_channel
from tests.conftest import Tenant, admin_statement, create_tenant
from tests.test_email_channel import Outbox, email_channel, mail, smtp_listener, support_address
from tests.test_messaging_providers import (
    APP_SECRET,
    PSID,
    customer,
    hub_signature,
    messenger_channel,
    numeric_id,
    post_page_event,
    post_zalo,
    zalo_channel,
    zalo_event,
    zalo_mac,
)

outbox = test_email_channel.outbox
MAILGUN_KEY = "key-mailgun-cua-cua-hang-binh-minh"
ZALO_USER = {"sender": {"id": "5510185758261927916"}}


def email_body(address: str, name: str = "Hộp thư chăm sóc khách hàng") -> dict[str, Any]:
    return {"kind": "email", "name": name, "settings": {"address": address}}


def messenger_body(page_id: str) -> dict[str, Any]:
    provided = {"app_secret": APP_SECRET, "verify_token": "xac-minh-2", "page_access_token": "EAAG-khac"}
    return {"kind": "messenger", "name": "Trang khác", "settings": {"page_id": page_id}, "secrets": provided}


def zalo_body(app_id: str, oa_id: str | None = None) -> dict[str, Any]:
    return {
        "kind": "zalo",
        "name": "Zalo OA khác",
        "settings": {"app_id": app_id, "oa_id": oa_id},
        "secrets": {
            "oa_secret_key": "khoa-bi-mat-oa-khac",
            "app_secret": "bi-mat-ung-dung-khac",
            "access_token": "zalo-access-khac",
            "refresh_token": "zalo-refresh-khac",
        },
    }


def assert_taken(response: httpx.Response, field: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "address_taken" and response.json()["field"] == field


async def inbound_of(tenant: Tenant, channel: dict[str, Any]) -> list[dict[str, Any]]:
    return (await tenant.admin.get(f"/v1/channels/{channel['id']}/inbound")).json()["items"]


# Email addresses


async def test_another_workspace_cannot_take_an_address_and_the_mail_reaches_its_owner_only(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    owner = await email_channel(tenant, outbox)
    address = owner["settings"]["address"]
    local, _, domain = address.partition("@")
    answers = []
    for taken in (address, address.upper(), f"{local}+b@{domain}", f"{local.upper()}+hoa-don@{domain}"):
        answer = await other_tenant.admin.post("/v1/channels", json=email_body(taken))
        assert_taken(answer, "settings.address")
        answers.append({**answer.json(), "request_id": None})
    # The owner's workspace gets the same answer: it tells nothing of who holds the address.
    own = await tenant.admin.post("/v1/channels", json=email_body(address, "Hộp thư thứ hai"))
    assert_taken(own, "settings.address")
    assert all(answer == {**own.json(), "request_id": None} for answer in answers)
    assert str(tenant.workspace_id) not in own.text and owner["id"] not in own.text
    assert owner["name"] not in own.text

    elsewhere = (await other_tenant.admin.post("/v1/channels", json=email_body(support_address()))).json()
    moved = await other_tenant.admin.patch(
        f"/v1/channels/{elsewhere['id']}", json={"settings": {"address": f"{local}+x@{domain}"}}
    )
    assert_taken(moved, "settings.address")
    kept = (await other_tenant.admin.get(f"/v1/channels/{elsewhere['id']}")).json()
    assert kept["settings"]["address"] == elsewhere["settings"]["address"] and kept["version"] == 1

    async with smtp_listener(app, settings) as port:
        for recipient in (address, f"{local}+don-hang@{domain}"):
            await aiosmtplib.send(mail(to=recipient), hostname="127.0.0.1", port=port)
    await thread_due(app.state.db, settings, app.state.secret_box)
    assert [item["state"] for item in await inbound_of(tenant, owner)] == ["processed", "processed"]
    assert len((await tenant.viewer.get("/v1/tickets")).json()["items"]) == 2
    assert (await other_tenant.viewer.get("/v1/tickets")).json()["items"] == []
    assert await inbound_of(other_tenant, elsewhere) == []


async def test_one_address_saved_at_once_by_several_workspaces_is_one_201_and_409s(app: FastAPI) -> None:
    tenants = [await create_tenant(app, f"Cửa hàng số {number}") for number in range(4)]
    address = support_address()
    answers = await asyncio.gather(
        *(each.admin.post("/v1/channels", json=email_body(address)) for each in tenants)
    )
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409], [
        answer.text for answer in answers
    ]
    for answer in answers:
        if answer.status_code == 409:
            assert_taken(answer, "settings.address")


async def test_a_channel_that_lost_its_address_says_so_and_claims_it_back_only_when_free(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, outbox: Outbox
) -> None:
    owner = await email_channel(tenant, outbox)
    loser = (await other_tenant.admin.post("/v1/channels", json=email_body(support_address()))).json()
    assert loser["settings_taken"] == []
    # As the migration to one channel per address leaves a newer channel that had an older one's address.
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "UPDATE channels SET claimed_address = NULL, active = false,"
                " settings = jsonb_set(settings, '{address}', to_jsonb(CAST(:address AS text)))"
                " WHERE id = :id"
            ),
            {"address": owner["settings"]["address"], "id": loser["id"]},
        )
    path = f"/v1/channels/{loser['id']}"
    shown = (await other_tenant.admin.get(path)).json()
    assert shown["active"] is False and shown["settings_taken"] == ["settings.address"]
    assert_taken(await other_tenant.admin.patch(path, json={"active": True}), "settings.address")
    renamed = await other_tenant.admin.patch(path, json={"name": "Hộp thư cũ"})
    assert renamed.status_code == 200 and renamed.json()["settings_taken"] == ["settings.address"]

    fresh = support_address()
    back = await other_tenant.admin.patch(path, json={"active": True, "settings": {"address": fresh}})
    assert back.status_code == 200, back.text
    assert back.json()["active"] is True and back.json()["settings_taken"] == []
    assert_taken(await tenant.admin.post("/v1/channels", json=email_body(fresh)), "settings.address")


async def test_an_address_changed_or_a_channel_deleted_is_free_for_another_workspace(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    first, second = support_address(), support_address()
    channel = (await tenant.admin.post("/v1/channels", json=email_body(first))).json()
    assert_taken(await other_tenant.admin.post("/v1/channels", json=email_body(first)), "settings.address")
    moved = await tenant.admin.patch(f"/v1/channels/{channel['id']}", json={"settings": {"address": second}})
    assert moved.status_code == 200, moved.text
    taken_over = await other_tenant.admin.post("/v1/channels", json=email_body(first))
    assert taken_over.status_code == 201, taken_over.text
    taken = await other_tenant.admin.post("/v1/channels", json=email_body(second, "Hộp thư hoá đơn"))
    assert_taken(taken, "settings.address")
    assert (await tenant.admin.delete(f"/v1/channels/{channel['id']}")).status_code == 204
    again = await other_tenant.admin.post("/v1/channels", json=email_body(second, "Hộp thư hoá đơn"))
    assert again.status_code == 201, again.text


# Mailgun routes


def mailgun_form(raw: str, recipient: str) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(10)
    signature = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{nonce}".encode(), hashlib.sha256).hexdigest()
    return {
        "timestamp": timestamp,
        "token": nonce,
        "signature": signature,
        "recipient": recipient,
        "body-mime": raw,
    }


async def test_a_mailgun_route_cannot_feed_another_channels_mail_into_its_workspace(
    tenant: Tenant, other_tenant: Tenant, outbox: Outbox
) -> None:
    owner = await email_channel(tenant, outbox)
    local, _, domain = owner["settings"]["address"].partition("@")
    routed = await email_channel(other_tenant, outbox, mailgun_signing_key=MAILGUN_KEY)
    url = routed["inbound_urls"]["email"]

    for recipient in (owner["settings"]["address"], f"{local.upper()}+t1-abc@{domain}"):
        refused = await other_tenant.anonymous.post(url, data=mailgun_form(mail().as_string(), recipient))
        assert refused.status_code == 406, refused.text
        assert refused.json()["code"] == "wrong_channel" and str(tenant.workspace_id) not in refused.text
    assert await inbound_of(other_tenant, routed) == []

    own_domain = routed["settings"]["address"].partition("@")[2]
    for recipient in (routed["settings"]["address"], f"lien-he@{own_domain}"):
        accepted = await other_tenant.anonymous.post(url, data=mailgun_form(mail().as_string(), recipient))
        assert accepted.status_code == 202, accepted.text
    assert len(await inbound_of(other_tenant, routed)) == 2


# Messenger Pages, Zalo OAs and apps


async def test_a_page_an_oa_and_a_zalo_app_belong_to_one_channel(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    page = await messenger_channel(tenant, "http://127.0.0.1:9")
    page_id = page["settings"]["page_id"]
    assert_taken(
        await other_tenant.admin.post("/v1/channels", json=messenger_body(page_id)), "settings.page_id"
    )
    assert_taken(await tenant.admin.post("/v1/channels", json=messenger_body(page_id)), "settings.page_id")

    oa_id = numeric_id()
    zalo = await zalo_channel(tenant, "http://127.0.0.1:9", oa_id=oa_id)
    app_id = zalo["settings"]["app_id"]
    assert_taken(await other_tenant.admin.post("/v1/channels", json=zalo_body(app_id)), "settings.app_id")
    same_oa = zalo_body(numeric_id(), oa_id)
    assert_taken(await other_tenant.admin.post("/v1/channels", json=same_oa), "settings.oa_id")
    # A Zalo OA and a Facebook Page are not the same thing, even with the same number.
    assert (
        await other_tenant.admin.post("/v1/channels", json=zalo_body(numeric_id(), page_id))
    ).status_code == 201

    other = (await other_tenant.admin.post("/v1/channels", json=messenger_body(numeric_id()))).json()
    moved = await other_tenant.admin.patch(
        f"/v1/channels/{other['id']}", json={"settings": {"page_id": page_id}}
    )
    assert_taken(moved, "settings.page_id")


async def test_another_pages_events_signed_for_this_channel_are_dropped_and_shown_never_threaded(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    channel = await messenger_channel(tenant, "http://127.0.0.1:9")
    page_id, other_page = channel["settings"]["page_id"], numeric_id()

    def entry(page: str, recipient: str, mid: str, text: str) -> dict[str, Any]:
        event = {**customer(mid, text), "recipient": {"id": recipient}}
        return {"id": page, "time": 1764556800000, "messaging": [event]}

    # One Meta app serves both Pages and signs all their events with its one secret.
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                entry(page_id, page_id, "m_cua_trang", "Shop ơi, còn hàng không?"),
                entry(other_page, other_page, "m_trang_khac", "Đơn của trang khác, bí mật"),
                entry(page_id, other_page, "m_lech", "Người nhận không phải trang này"),
            ],
        }
    ).encode()
    accepted = await post_page_event(tenant, channel, body, hub_signature(body))
    assert accepted.status_code == 200 and accepted.json() == {"stored": 1}
    again = await post_page_event(tenant, channel, body, hub_signature(body))
    assert again.json() == {"stored": 0}

    await thread_due(app.state.db, settings, app.state.secret_box)
    [ticket] = (await tenant.viewer.get("/v1/tickets")).json()["items"]
    comments = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/comments")).json()["items"]
    assert [c["body"] for c in comments] == ["Shop ơi, còn hàng không?"]

    log = await tenant.admin.get(f"/v1/channels/{channel['id']}/inbound", params={"state": "ignored"})
    dropped = log.json()["items"]
    assert len(dropped) == 2, "counted once each, Meta's retry included"
    assert sorted(item["error"] for item in dropped) == [
        "an event for Page (unclear), not the channel's: dropped",
        f"an event for Page {other_page}, not the channel's: dropped",
    ]
    assert all(item["ticket_id"] is None and item["comment_id"] is None for item in dropped)
    for secret in ("bí mật", "m_trang_khac", "m_lech", PSID):
        assert secret not in log.text, "the log tells whose an event was, not what it said or who sent it"


async def test_zalo_events_for_another_oa_or_app_are_dropped_and_shown_never_threaded(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    oa_id, other_app = numeric_id(), numeric_id()
    channel = await zalo_channel(tenant, "http://127.0.0.1:9", oa_id=oa_id)
    ours = zalo_event(
        channel,
        "user_send_text",
        1717061840000,
        **ZALO_USER,
        recipient={"id": oa_id},
        message={"text": "Chào shop", "msg_id": "z-1"},
    )
    another_oa = zalo_event(
        channel,
        "user_send_text",
        1717061841000,
        **ZALO_USER,
        recipient={"id": numeric_id()},
        message={"text": "Tin của OA khác", "msg_id": "z-2"},
    )
    another_oas_follow = zalo_event(
        channel, "follow", 1717061842000, follower={"id": "5510185758261927916"}, oa_id=numeric_id()
    )
    another_app = zalo_event(
        channel,
        "user_send_text",
        1717061843000,
        **ZALO_USER,
        recipient={"id": oa_id},
        message={"text": "x", "msg_id": "z-3"},
    ).replace(channel["settings"]["app_id"].encode(), other_app.encode())
    stored = [
        (await post_zalo(tenant, channel, body, zalo_mac(body))).json()
        for body in (ours, another_oa, another_oas_follow, another_app)
    ]
    assert stored == [{"stored": 1}, {"stored": 0}, {"stored": 0}, {"stored": 0}]

    await thread_due(app.state.db, settings, app.state.secret_box)
    [ticket] = (await tenant.viewer.get("/v1/tickets")).json()["items"]
    assert ticket["subject"] == "Chào shop"
    log = await tenant.admin.get(f"/v1/channels/{channel['id']}/inbound", params={"state": "ignored"})
    errors = sorted(item["error"] for item in log.json()["items"])
    assert len(errors) == 3 and f"an event for Zalo app {other_app}, not the channel's: dropped" in errors
    assert sum(error.startswith("an event for OA ") for error in errors) == 2
    assert "Tin của OA khác" not in log.text


# Databases where one workspace took another's address before it was refused


def test_the_migration_keeps_the_oldest_claim_and_deactivates_the_newer_channels(database_url: str) -> None:
    name = f"helpdesk_claims_{secrets.token_hex(4)}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin_statement(database_url, f'CREATE DATABASE "{name}"'))
    try:
        command.upgrade(alembic_config(url), "0586e9d62d68")
        channels = asyncio.run(_collided_then_upgraded(url))
    finally:
        asyncio.run(admin_statement(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    # name: (active, version, claimed_address, claimed_account_id, claimed_app_id)
    assert channels == {
        "A email": (True, 1, "support@a.example", None, None),
        "B email, A's address with a tag": (False, 2, None, None, None),
        "B email of its own": (True, 1, "lienhe@b.example", None, None),
        "A page": (True, 1, None, "111", None),
        "B page, A's": (False, 2, None, None, None),
        "A zalo": (True, 1, None, "700", "500"),
        "B zalo, A's OA": (False, 2, None, None, None),
        "B zalo, A's app": (False, 2, None, None, None),
        "B zalo, a Page's number as OA": (True, 1, None, "111", "501"),
        "B zalo, the app of one that lost": (True, 1, None, None, "502"),
        "B chat": (True, 1, None, None, None),
    }


async def _collided_then_upgraded(url: str) -> dict[str, tuple[Any, ...]]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    a, b = uuid4(), uuid4()
    rows = [
        (a, "email", "A email", {"address": "Support@A.example"}),
        (b, "email", "B email, A's address with a tag", {"address": "support+b@a.example"}),
        (b, "email", "B email of its own", {"address": "lienhe@b.example"}),
        (a, "messenger", "A page", {"page_id": "111"}),
        (b, "messenger", "B page, A's", {"page_id": "111"}),
        (a, "zalo", "A zalo", {"app_id": "500", "oa_id": "700"}),
        (b, "zalo", "B zalo, A's OA", {"app_id": "502", "oa_id": "700"}),
        (b, "zalo", "B zalo, A's app", {"app_id": "500", "oa_id": None}),
        (b, "zalo", "B zalo, a Page's number as OA", {"app_id": "501", "oa_id": "111"}),
        (b, "zalo", "B zalo, the app of one that lost", {"app_id": "502"}),
        (b, "chat", "B chat", {}),
    ]
    connection = await asyncpg.connect(plain)
    try:
        await connection.executemany(
            "INSERT INTO workspaces (id, name) VALUES ($1, $2)", [(a, "A"), (b, "B")]
        )
        for minute, (workspace_id, kind, channel_name, settings) in enumerate(rows):
            await connection.execute(
                "INSERT INTO channels (workspace_id, id, kind, name, settings, created_at) "
                "VALUES ($1, $2, $3, $4, $5::jsonb, now() + make_interval(mins => $6))",
                workspace_id,
                uuid4(),
                kind,
                channel_name,
                json.dumps(settings),
                minute,
            )
    finally:
        await connection.close()
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    connection = await asyncpg.connect(plain)
    try:
        found = await connection.fetch(
            "SELECT name, active, version, claimed_address, claimed_account_id, claimed_app_id FROM channels"
        )
    finally:
        await connection.close()
    return {row["name"]: tuple(row.values())[1:] for row in found}
