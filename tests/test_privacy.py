"""A customer's rights over their data: the export an admin downloads for a while, the erasure that
leaves them nowhere (search, the change feed, webhook logs, files, stored messages) while their tickets
stay counted, and each workspace's retention."""

import io
import json
import zipfile
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.attachments.storage import storage_for
from app.channels.tasks import thread_due
from app.config import Settings
from app.kit.ids import new_id
from app.kit.time import utcnow
from app.models import (
    Attachment,
    Contact,
    ContactIdentity,
    Event,
    InboundMessage,
    NotificationEmail,
    WebhookDelivery,
)
from app.models.enums import IdentityKind, Permission
from app.privacy import erasure
from app.privacy.erasure import ERASERS
from app.privacy.redaction import Redactor
from app.privacy.retention import apply_retention
from app.privacy.tasks import carry_out_requests
from tests.conftest import Tenant, make_client
from tests.factories import (
    create,
    create_agent,
    create_contact,
    create_ticket,
    create_webhook,
    mint_agent_token,
    rotate_token_secret,
)
from tests.receiver import Behaviour, Receiver
from tests.test_channels import chat_channel, receive
from tests.test_email_channel import Outbox, email_channel
from tests.test_email_channel import outbox as outbox  # a fixture
from tests.test_notify_action import notify, text_macro, use_channel
from tests.test_portal import linked_ticket, set_status
from tests.test_triggers import trigger
from tests.test_webhooks import run_jobs

NAME = "Nguyễn Thị Lan"
EMAIL = "lan.nguyen.khachhang@gmail.com"
PHONE = "0987 654 321"
E164 = "+84987654321"
PDF = b"%PDF-1.4\n" + "Hóa đơn của chị Lan".encode() + bytes(64)
LEASE = timedelta(seconds=60)


async def carry_out(app: FastAPI, settings: Settings, now: Any = None, batch: int | None = None) -> int:
    """Run the data requests' job until it has nothing left to do; the rounds that did something."""
    privacy = settings.privacy if batch is None else settings.privacy.model_copy(update={"batch_size": batch})
    storage = storage_for(settings)
    rounds = 0
    while await carry_out_requests(app.state.db, storage, privacy, now or utcnow(), LEASE):
        rounds += 1
    return rounds


async def a_customer(app: FastAPI, tenant: Tenant, settings: Settings) -> dict[str, Any]:
    """A customer who wrote on the chat (a ticket, a stored message), replied with a file, and whom an
    agent's reply and an internal note name; their contact, ticket and comments."""
    channel = await chat_channel(tenant)
    contact_in = {"id": "khach-lan-2026", "name": NAME, "email": EMAIL, "phone": PHONE}
    inbound = await receive(
        tenant, channel, contact=contact_in, text=f"Em là Lan, số {PHONE}, đơn hàng chưa tới ạ"
    )
    await thread_due(app.state.db, settings, app.state.secret_box)
    stored = (await tenant.admin.get(f"/v1/channels/{channel['id']}/inbound/{inbound['id']}")).json()
    ticket = (await tenant.admin.get(f"/v1/tickets/{stored['ticket_id']}")).json()
    contact = (await tenant.admin.get(f"/v1/contacts/{ticket['requester_id']}")).json()
    upload = await tenant.agent.post("/v1/uploads", files={"files": ("hoa-don.pdf", PDF, "application/pdf")})
    assert upload.status_code == 201, upload.text
    with_file = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={
            "body": "Em gửi hóa đơn ạ",
            "public": True,
            "author": {"type": "contact", "id": contact["id"]},
            "attachments": [upload.json()["items"][0]["token"]],
        },
    )
    assert with_file.status_code == 201, with_file.text
    reply = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={"body": f"Chào chị {NAME}, bên em đã gửi mã vận đơn về {EMAIL} và số {E164}.", "public": True},
    )
    note = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={"body": "Kho Bình Dương xác nhận đã xuất hàng", "public": False},
    )
    assert reply.status_code == note.status_code == 201
    return {
        "channel": channel,
        "inbound_id": inbound["id"],
        "ticket": ticket,
        "contact": contact,
        "file_comment": with_file.json(),
        "note": note.json(),
    }


async def recorded(app: FastAPI, tenant: Tenant, event_type: str) -> list[dict[str, Any]]:
    """The data of the workspace's events of a type, as written (the change feed may hold back the
    newest while another transaction on the server runs)."""
    async with app.state.db.sessionmaker() as session:
        statement = (
            select(Event.data)
            .where(Event.workspace_id == tenant.workspace_id, Event.type == event_type)
            .order_by(Event.id)
        )
        return list((await session.execute(statement)).scalars())


async def storage_key(app: FastAPI, attachment_id: str) -> str:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(
            select(Attachment.storage_key).where(Attachment.id == UUID(attachment_id))
        )


async def bytes_of(settings: Settings, key: str) -> bytes | None:
    """A stored file's bytes (an archive's first two), or None when storage has no such file."""
    try:
        chunks = await storage_for(settings).open(key)
    except FileNotFoundError:
        return None
    data = b"".join([chunk async for chunk in chunks])
    return data[:2] if data.startswith(b"PK") else data


async def follow(client: httpx.AsyncClient, request: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/v1/contacts/{request['contact_id']}/data-requests/{request['id']}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_export_is_built_by_the_worker_and_downloaded_by_admins_until_it_expires(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    customer = await a_customer(app, tenant, settings)
    contact_id = customer["contact"]["id"]
    url = f"/v1/contacts/{contact_id}/export"
    assert (await tenant.agent.post(url)).status_code == 403
    assert (await tenant.viewer.post(url)).status_code == 403
    assert (await tenant.admin.post(f"/v1/contacts/{customer['ticket']['id']}/export")).status_code == 404
    response = await tenant.admin.post(url)
    assert response.status_code == 202, response.text
    request = response.json()
    assert request["kind"] == "export" and request["status"] == "pending"
    download = f"/v1/contacts/{contact_id}/data-requests/{request['id']}/download"
    assert (await tenant.admin.get(download)).status_code == 409, "not ready yet"

    assert await carry_out(app, settings) >= 1
    done = await follow(tenant.admin, request)
    assert done["status"] == "completed" and done["archive_size"] > 0 and done["expires_at"]
    assert done["progress"]["steps_done"] == done["progress"]["steps_total"]
    assert done["progress"]["current_step"] is None and done["progress"]["rows_processed"] >= 4
    listed = (await tenant.admin.get(f"/v1/contacts/{contact_id}/data-requests")).json()["items"]
    assert [item["id"] for item in listed] == [request["id"]]
    assert (await tenant.agent.get(download)).status_code == 403

    archive = await tenant.admin.get(download)
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        data = json.loads(opened.read("data.json"))
        [attachment] = customer["file_comment"]["attachments"]
        assert opened.read(f"files/{attachment['id']}/hoa-don.pdf") == PDF
    assert data["contact"]["email"] == EMAIL and data["contact"]["name"] == NAME
    assert {"kind": "chat", "value": "khach-lan-2026"} in [
        {"kind": i["kind"], "value": i["value"]} for i in data["contact"]["identities"]
    ]
    assert [ticket["id"] for ticket in data["tickets"]] == [customer["ticket"]["id"]]
    bodies = [comment["body"] for comment in data["comments"]]
    assert "Em gửi hóa đơn ạ" in bodies and any(NAME in body for body in bodies)
    assert customer["note"]["id"] not in [c["id"] for c in data["comments"]], "staff's notes stay staff's"
    assert data["conversations"] and data["missing_files"] == []
    exported = await recorded(app, tenant, "contact.exported")
    assert [data["data_request"]["id"] for data in exported] == [request["id"]]

    assert await bytes_of(settings, UUID(request["id"]).hex) == b"PK"
    await carry_out(app, settings, now=utcnow() + timedelta(hours=settings.privacy.export_ttl_hours + 1))
    assert (await follow(tenant.admin, request))["status"] == "expired"
    assert await bytes_of(settings, UUID(request["id"]).hex) is None
    gone = await tenant.admin.get(download)
    assert gone.status_code == 410 and gone.json()["code"] == "archive_expired"


async def test_an_erased_customer_is_found_nowhere_and_their_tickets_stay_counted(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CRM that echoes who it updated: the delivery log keeps what it answers.
    hook_url = receiver.on("/crm", Behaviour(content=f"updated {EMAIL} {NAME}".encode()))
    webhook = await create_webhook(tenant.admin, hook_url, event_types=["*"])
    customer = await a_customer(app, tenant, settings)
    contact_id, ticket_id = customer["contact"]["id"], customer["ticket"]["id"]
    await run_jobs(app, utcnow(), tenant)
    export = (await tenant.admin.post(f"/v1/contacts/{contact_id}/export")).json()
    await carry_out(app, settings)

    [attachment] = customer["file_comment"]["attachments"]
    stored_files = [await storage_key(app, attachment["id"]), UUID(export["id"]).hex]
    assert [await bytes_of(settings, key) for key in stored_files] == [PDF, b"PK"]
    url = f"/v1/contacts/{contact_id}/erase"
    assert (await tenant.agent.post(url)).status_code == 403
    first = await tenant.admin.post(url)
    assert first.status_code == 202, first.text
    again = await tenant.admin.post(url)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"], "asked once"
    # Batches of one row, read a row at a time: many rounds, each its own transaction, each resuming
    # where the last one's commit left the request.
    monkeypatch.setattr(erasure, "SCAN_FACTOR", 1)
    rounds = await carry_out(app, settings, batch=1)
    assert rounds > len(ERASERS)
    erased = await follow(tenant.admin, first.json())
    assert erased["status"] == "completed" and erased["progress"]["steps_done"] == len(ERASERS)
    assert erased["progress"]["rows_processed"] >= 10
    assert (await tenant.admin.post(url)).json()["status"] == "completed"

    contact = (await tenant.admin.get(f"/v1/contacts/{contact_id}")).json()
    assert contact["erased_at"] is not None and contact["identities"] == []
    assert contact["name"] is contact["email"] is contact["phone"] is contact["display_name"] is None
    ticket = (await tenant.admin.get(f"/v1/tickets/{ticket_id}")).json()
    assert ticket["requester_id"] == contact_id, "the ticket stays, counted in reports"
    comments = (await tenant.admin.get(f"/v1/tickets/{ticket_id}/comments")).json()["items"]
    texts = json.dumps(comments, ensure_ascii=False)
    assert "[erased]" in texts and "Kho Bình Dương" in texts, "staff's own words stay"
    assert (await tenant.admin.get(f"/v1/attachments/{attachment['id']}")).status_code == 404
    assert [await bytes_of(settings, key) for key in stored_files] == [None, None], "the bytes are gone"
    inbound = await tenant.admin.get(
        f"/v1/channels/{customer['channel']['id']}/inbound/{customer['inbound_id']}/raw"
    )
    stored = (
        await tenant.admin.get(f"/v1/channels/{customer['channel']['id']}/inbound/{customer['inbound_id']}")
    ).json()
    assert EMAIL not in json.dumps(stored, ensure_ascii=False) and inbound.status_code in (200, 404, 410)
    assert (await tenant.admin.get(export_download(export))).status_code == 410, "earlier copies go too"

    receiver.on("/crm", Behaviour())  # the CRM forgot the customer too
    await run_jobs(app, utcnow(), tenant)
    identifiers = [NAME, EMAIL, PHONE, E164, "khach-lan-2026"]
    for query in identifiers:
        for kind in ("tickets", "comments", "contacts"):
            found = await tenant.admin.get("/v1/search", params={"q": query, "type": kind})
            assert found.status_code == 200 and found.json()["items"] == [], (query, kind)
        assert (await tenant.admin.get("/v1/contacts", params={"q": query})).json()["items"] == []
    assert (await tenant.admin.get("/v1/contacts", params={"email": EMAIL})).json()["items"] == []
    assert (await tenant.admin.get("/v1/contacts", params={"phone": PHONE})).json()["items"] == []
    feed = (await tenant.admin.get("/v1/events", params={"limit": 200})).json()["items"]
    deliveries = (await tenant.admin.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["items"]
    assert deliveries and any(attempt["response_body"] for d in deliveries for attempt in d["attempts"])
    everything = json.dumps([feed, deliveries, comments, ticket], ensure_ascii=False)
    for identifier in [*identifiers, "987654321", "lan.nguyen"]:
        at = everything.find(identifier)
        assert at < 0, (identifier, everything[max(0, at - 300) : at + 100])
    assert "ticket.created" in [event["type"] for event in feed], "the events stay, emptied"
    [erased_event] = await recorded(app, tenant, "contact.erased")
    assert erased_event["data_request"]["id"] == first.json()["id"]
    assert erased_event["contact"]["erased_at"] and erased_event["contact"]["email"] is None


def export_download(request: dict[str, Any]) -> str:
    return f"/v1/contacts/{request['contact_id']}/data-requests/{request['id']}/download"


def test_identifiers_are_redacted_however_they_are_written() -> None:
    contact = Contact(id=new_id(), name=NAME, email=EMAIL, phone=E164, external_id="CRM-778899")
    chat = ContactIdentity(kind=IdentityKind.chat, value="khach-lan-2026")
    redactor = Redactor.of(contact, [chat])
    for written in (
        "0987 654 321",
        "0987.654.321",
        "+84 987 654 321",
        "84987654321",
        "0987-654-321",
        "0084 987 654 321",
    ):
        assert redactor.redact(f"gọi {written} nhé") == "gọi [erased] nhé", written
    assert (
        redactor.redact(f"Chào chị {NAME.upper()}, mail {EMAIL.upper()}")
        == "Chào chị [erased], mail [erased]"
    )
    assert redactor.redact("khách khach-lan-2026, mã CRM-778899") == "khách [erased], mã [erased]"
    untouched = "đơn 10987654321, mã CRM-7788990, khach-lan-20261"
    assert redactor.redact(untouched) == untouched, "a longer number or id is someone else's"
    assert redactor.redact_json({"from": E164, "n": [EMAIL, 3]}) == {"from": "[erased]", "n": ["[erased]", 3]}


async def test_only_admins_ask_even_with_a_custom_role_that_edits_contacts(
    app: FastAPI, tenant: Tenant
) -> None:
    contact = await create_contact(tenant.agent, email="khach.rieng@example.vn")
    editor = await create(
        tenant.admin, "/v1/roles", {"name": "Chăm sóc khách", "permissions": [p.value for p in Permission]}
    )
    await create_agent(tenant.admin, "cskh-01", role="agent", custom_role_id=editor["id"])
    kid, secret = await rotate_token_secret(tenant.admin)
    agent = make_client(app, mint_agent_token(kid, secret, "cskh-01"))
    for path in ("export", "erase"):
        refused = await agent.post(f"/v1/contacts/{contact['id']}/{path}")
        assert refused.status_code == 403 and refused.json()["code"] == "insufficient_role", path
    assert (await agent.get(f"/v1/contacts/{contact['id']}/data-requests")).status_code == 403
    assert (await agent.patch(f"/v1/contacts/{contact['id']}", json={"vip": True})).status_code == 200


async def test_a_request_whose_contact_was_deleted_first_ends_with_nothing_kept(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    contact = await create_contact(tenant.agent, email="khach.xoa@example.vn")
    export = (await tenant.admin.post(f"/v1/contacts/{contact['id']}/export")).json()
    erase = (await tenant.admin.post(f"/v1/contacts/{contact['id']}/erase")).json()
    assert (await tenant.agent.delete(f"/v1/contacts/{contact['id']}")).status_code == 204
    await carry_out(app, settings)
    assert (await follow(tenant.admin, export))["status"] == "expired"
    assert (await follow(tenant.admin, erase))["status"] == "completed"
    assert await bytes_of(settings, UUID(export["id"]).hex) is None
    assert (await tenant.admin.get(f"/v1/contacts/{contact['id']}/data-requests")).status_code == 404


async def test_an_export_still_waiting_when_the_erasure_comes_keeps_no_archive(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    contact = await create_contact(tenant.agent, email="khach.doi@example.vn", phone="0912 000 111")
    export = (await tenant.admin.post(f"/v1/contacts/{contact['id']}/export")).json()
    erase = (await tenant.admin.post(f"/v1/contacts/{contact['id']}/erase")).json()
    await carry_out(app, settings)
    assert (await follow(tenant.admin, erase))["status"] == "completed"
    assert (await follow(tenant.admin, export))["status"] == "expired"
    assert await bytes_of(settings, UUID(export["id"]).hex) is None
    assert (await tenant.admin.get(export_download(export))).status_code == 410


async def test_an_erasure_a_worker_dropped_is_taken_over_when_its_lease_ends(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    from app.privacy.repository import claim_due

    customer = await a_customer(app, tenant, settings)
    request = (await tenant.admin.post(f"/v1/contacts/{customer['contact']['id']}/erase")).json()
    now = utcnow()
    # A worker claims every request due, then dies holding them.
    async with app.state.db.sessionmaker() as session, session.begin():
        while await claim_due(session, now, now + LEASE) is not None:
            pass
    assert await carry_out(app, settings, now=now) == 0
    assert (await follow(tenant.admin, request))["status"] == "running"
    await carry_out(app, settings, now=now + LEASE + timedelta(seconds=1))
    assert (await follow(tenant.admin, request))["status"] == "completed"


async def test_retention_settings_delete_old_messages_and_anonymise_closed_tickets(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    assert (await tenant.agent.patch("/v1/workspace", json={"inbound_retention_days": 30})).status_code == 403
    refused = await tenant.admin.patch("/v1/workspace", json={"inbound_retention_days": 0})
    assert refused.status_code == 422
    customer = await a_customer(app, tenant, settings)
    ticket_id = customer["ticket"]["id"]
    closed = await tenant.agent.patch(f"/v1/tickets/{ticket_id}", json={"status_kind": "closed"})
    assert closed.status_code == 200, closed.text
    storage, db = storage_for(settings), app.state.db
    assert await apply_retention(db, storage, utcnow() + timedelta(days=400), 100) >= 0

    response = await tenant.admin.patch(
        "/v1/workspace", json={"inbound_retention_days": 30, "closed_ticket_anonymize_months": 6}
    )
    assert response.status_code == 200, response.text
    assert response.json()["inbound_retention_days"] == 30
    assert response.json()["closed_ticket_anonymize_months"] == 6
    await apply_retention(db, storage, utcnow() + timedelta(days=29), 100)
    assert (await tenant.admin.get(f"/v1/tickets/{ticket_id}")).json()["subject"] != "[erased]"

    assert await apply_retention(db, storage, utcnow() + timedelta(days=190), 1) >= 2
    async with db.sessionmaker() as session:
        left = await session.scalar(
            select(InboundMessage.id).where(InboundMessage.workspace_id == tenant.workspace_id)
        )
    assert left is None
    ticket = (await tenant.admin.get(f"/v1/tickets/{ticket_id}")).json()
    assert (
        ticket["subject"] == "[erased]"
        and ticket["description"] is None
        and ticket["status_kind"] == "closed"
    )
    comments = (await tenant.admin.get(f"/v1/tickets/{ticket_id}/comments")).json()["items"]
    assert {comment["body"] for comment in comments} == {"[erased]"}
    [attachment] = customer["file_comment"]["attachments"]
    assert (await tenant.admin.get(f"/v1/attachments/{attachment['id']}")).status_code == 404
    [applied] = await recorded(app, tenant, "workspace.retention_applied")
    assert applied["retention"]["tickets_anonymized"] == 1
    assert applied["retention"]["inbound_messages_deleted"] >= 1


async def test_what_rules_sent_about_an_erased_customer_is_erased_too(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver, outbox: Outbox
) -> None:
    mailbox = await email_channel(tenant, outbox)
    await use_channel(tenant, mailbox["id"])
    webhook = await create_webhook(tenant.admin, receiver.on("/crm/phieu", Behaviour()), event_types=[])
    greeting = await text_macro(
        tenant, body="Chào {{ requester.name }}, phiếu #{{ ticket.number }} đã được tiếp nhận."
    )
    body = {
        "khach": "{{ requester.name }}",
        "email": "{{ requester.email }}",
        "binh_luan": "{{ comment.body }}",
    }
    await trigger(
        tenant.admin,
        "Báo CRM và khách",
        events=["ticket.comment_added"],
        actions=[
            {"type": "call_url", "webhook_id": webhook["id"], "body": body},
            notify(greeting, "requester", via=("email",)),
        ],
    )
    customer = await create_contact(tenant.admin, name=NAME, email=EMAIL, phone=PHONE)
    other = await create_contact(tenant.admin, name="Trần Văn Bình", email="binh.tran@gmail.com")
    theirs = await create_ticket(tenant.admin, subject="Hỏi đơn hàng", requester_id=customer["id"])
    # Another customer's ticket, whose comment (and so the rule's request) names the erased customer.
    naming = await create_ticket(tenant.admin, subject="Giao hộ", requester_id=other["id"])
    for ticket, text in ((theirs, "Đã nhận đơn ạ"), (naming, f"Đã báo qua {EMAIL}")):
        response = await tenant.agent.post(
            f"/v1/tickets/{ticket['id']}/comments", json={"body": text, "public": True}
        )
        assert response.status_code == 201, response.text
    request = (await tenant.admin.post(f"/v1/contacts/{customer['id']}/erase")).json()
    await carry_out(app, settings)
    assert (await follow(tenant.admin, request))["status"] == "completed"

    async with app.state.db.sessionmaker() as session:
        bodies = {
            str(ticket_id): json.loads(body)
            for ticket_id, body in await session.execute(
                select(WebhookDelivery.ticket_id, WebhookDelivery.body).where(
                    WebhookDelivery.workspace_id == tenant.workspace_id, WebhookDelivery.body.is_not(None)
                )
            )
        }
        emails = list(
            (
                await session.execute(
                    select(NotificationEmail).where(NotificationEmail.workspace_id == tenant.workspace_id)
                )
            ).scalars()
        )
    assert bodies[theirs["id"]] == {"erased": True}
    assert bodies[naming["id"]] == {
        "khach": "Trần Văn Bình",
        "email": "binh.tran@gmail.com",
        "binh_luan": "Đã báo qua [erased]",
    }
    everything = json.dumps(
        [bodies, [(e.to_address, e.to_name, e.subject, e.body) for e in emails]], ensure_ascii=False
    )
    for identifier in (NAME, EMAIL):
        assert identifier not in everything, identifier
    assert "binh.tran@gmail.com" in everything, "other customers' emails stay"
    log = (await tenant.admin.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["items"]
    assert NAME not in json.dumps(log, ensure_ascii=False)


async def test_ratings_go_in_the_export_and_their_comments_and_links_go_with_the_erasure(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    ticket, token = await linked_ticket(tenant)
    contact_id = ticket["requester_id"]
    await set_status(tenant, ticket["id"], "solved")
    rated = await tenant.anonymous.put(
        f"/v1/portal/{token}/rating", json={"score": 2, "comment": "Chị Hoa chờ lâu quá."}
    )
    assert rated.status_code == 200, rated.text

    export = (await tenant.admin.post(f"/v1/contacts/{contact_id}/export")).json()
    await carry_out(app, settings)
    archive = await tenant.admin.get(export_download(export))
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        data = json.loads(opened.read("data.json"))
    assert [(r["score"], r["comment"]) for r in data["ratings"]] == [(2, "Chị Hoa chờ lâu quá.")]

    await tenant.admin.post(f"/v1/contacts/{contact_id}/erase")
    await carry_out(app, settings)
    [shown] = (await tenant.admin.get(f"/v1/tickets/{ticket['id']}/ratings")).json()["items"]
    assert (shown["score"], shown["comment"]) == (2, None), "the score stays counted, the words go"
    assert (await tenant.anonymous.get(f"/v1/portal/{token}")).status_code == 404
    [rated_event] = await recorded(app, tenant, "ticket.rated")
    assert rated_event["rating"]["comment"] is None and rated_event["rating"]["score"] == 2


async def test_erasures_asked_many_times_over_keep_answering(app: FastAPI, tenant: Tenant) -> None:
    """More erasures than PostgreSQL plans one statement for before it plans it generically (five)."""
    for number in range(8):
        contact = await create_contact(
            tenant.admin, name=f"Khách số {number}", email=f"khach{number}@gmail.com"
        )
        url = f"/v1/contacts/{contact['id']}/erase"
        first, again = await tenant.admin.post(url), await tenant.admin.post(url)
        assert (first.status_code, again.status_code) == (202, 200), (number, first.text, again.text)
        assert again.json()["id"] == first.json()["id"]
