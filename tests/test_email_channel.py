"""Email channels end to end: mail in (posted raw, by a Mailgun route, or by the SMTP listener), threaded by
references, reply address and subject token, replies out by SMTP to a server the tests run, and the loop
and bounce rules."""

import asyncio
import contextlib
import datetime
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid, parsedate_to_datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosmtplib
import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from sqlalchemy import select, text

from app.channels.adapters.mail.listener import serve_smtp
from app.channels.tasks import send_due_replies, thread_due
from app.config import EmailSettings, Settings
from app.kit.outbound import OutboundPolicy, outbound_policy
from app.models import OutboundMessage
from tests.conftest import Tenant, agent_token_client
from tests.factories import create, create_agent
from tests.processes import free_port
from tests.test_comments import comment
from tests.test_triggers import comments_of

# What the test mails name in their To header. Each channel has an address of its own
# (support_address): an address belongs to one channel in the whole service.
SUPPORT = "cskh@shophoa.vn"
TOKEN = "token-hop-thu-cskh-shop-hoa-2026"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CUSTOMER = "lan.nguyen@gmail.com"
MAILGUN_KEY = "key-mailgun-cua-shop-hoa"


@dataclass
class Outbox:
    """An SMTP server on 127.0.0.1 standing in for the business's mail server: it keeps what it gets."""

    port: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    # Whom each mail was delivered to (RCPT TO), as the envelope said.
    envelopes: list[list[str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # The names TLS clients asked for (SNI).
    server_names: list[str | None] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.raw.append(envelope.original_content or b"")
        self.envelopes.append(list(envelope.rcpt_tos))
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        self.arrived.set()
        return "250 OK"


# What sets the ticket's customer link, at the end of a reply, apart from the reply itself.
SIGNATURE_SEPARATOR = "\n\n-- \n"


def reply_text(sent: EmailMessage) -> str:
    """The reply's text, without the customer link that closes it."""
    return sent.get_body(("plain",)).get_content().split(SIGNATURE_SEPARATOR)[0].strip()  # type: ignore[union-attr]


def assert_accepted_by_mail_servers(raw: bytes) -> None:
    """What RFC 5322 and MIME require of a mail, parsed by the standard library's strict policy (any
    defect raises)."""
    sent = message_from_bytes(raw, policy=policy.strict)
    for header in ("Date", "From", "To", "Message-ID", "Subject"):
        assert len(sent.get_all(header) or []) == 1, header
    now = datetime.datetime.now(datetime.UTC)
    assert abs(parsedate_to_datetime(str(sent["Date"])) - now) < datetime.timedelta(minutes=5)
    assert sent["MIME-Version"] == "1.0"
    assert sent.get_body(("plain",)) is not None and sent.get_body(("html",)) is not None
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")), "RFC 5322 line length"


@contextlib.asynccontextmanager
async def smtp_server(
    host: str = "127.0.0.1", tls: ssl.SSLContext | None = None, *, implicit_tls: bool = False
) -> AsyncIterator[Outbox]:
    """An Outbox listening on `host`; with `tls`, by STARTTLS (required) or, `implicit_tls`, from the
    first byte."""
    box = Outbox()
    if tls is not None:
        tls.sni_callback = lambda ssl_object, server_name, context: box.server_names.append(server_name)
    starttls = tls if not implicit_tls else None
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(box, tls_context=starttls, require_starttls=starttls is not None),
        host=host,
        port=0,
        ssl=tls if implicit_tls else None,
    )
    box.port = server.sockets[0].getsockname()[1]
    async with server:
        yield box


@pytest.fixture
async def outbox() -> AsyncIterator[Outbox]:
    async with smtp_server() as box:
        yield box


def support_address() -> str:
    """An address of its own: an address belongs to one channel in the whole service, and the tests
    share one database."""
    return f"cskh@{uuid.uuid4().hex[:12]}.shophoa.vn"


async def email_channel(
    tenant: Tenant, outbox: Outbox, address: str | None = None, **secrets: str
) -> dict[str, Any]:
    return await create(
        tenant.admin,
        "/v1/channels",
        {
            "kind": "email",
            "name": "Hộp thư CSKH",
            "settings": {
                "address": address or support_address(),
                "display_name": "Shop Hoa - CSKH",
                "smtp_host": "127.0.0.1",
                "smtp_port": outbox.port,
                "smtp_security": "none",
            },
            "secrets": {"token": TOKEN, **secrets},
        },
    )


def mail(
    subject: str = "Đơn hàng #1024 giao chậm",
    body: str = "Chào shop,\nĐơn hàng của tôi đã 5 ngày chưa tới.\nLan",
    *,
    sender: str = f"Nguyễn Thị Lan <{CUSTOMER}>",
    to: str = SUPPORT,
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mail.gmail.com")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


async def post_mail(tenant: Tenant, channel: dict[str, Any], message: EmailMessage | bytes) -> httpx.Response:
    raw = message if isinstance(message, bytes) else message.as_bytes()
    headers = {**AUTH, "Content-Type": "message/rfc822"}
    return await tenant.anonymous.post(channel["inbound_urls"]["email"], content=raw, headers=headers)


async def received(
    app: FastAPI, settings: Settings, tenant: Tenant, channel: dict[str, Any], message: EmailMessage
) -> dict[str, Any]:
    """Post the mail, thread it, and return what the inbound log says of it."""
    accepted = await post_mail(tenant, channel, message)
    assert accepted.status_code == 202, accepted.text
    await thread_due(app.state.db, settings, app.state.secret_box)
    response = await tenant.admin.get(f"/v1/channels/{channel['id']}/inbound/{accepted.json()['id']}")
    return response.json()


async def send_replies(app: FastAPI, settings: Settings, policy: Any = None, **resolver: Any) -> None:
    """What a worker sends now, under the settings' outbound policy or the test's `policy` and `resolve`."""
    async with httpx.AsyncClient() as client:
        await send_due_replies(
            app.state.db,
            settings,
            app.state.secret_box,
            client,
            policy or outbound_policy(settings),
            **resolver,
        )


async def agent_of(app: FastAPI, tenant: Tenant, external_id: str) -> httpx.AsyncClient:
    await create_agent(tenant.admin, external_id, name="Chị Thu")
    return await agent_token_client(app, tenant, external_id)


# Receiving and threading


async def test_a_mail_opens_a_ticket_and_the_reply_goes_back_threaded(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    assert channel["secrets_set"] == ["reply_address_key", "token"]
    first = mail()
    first.add_attachment(
        "Ảnh đơn hàng".encode(),
        maintype="application",
        subtype="octet-stream",
        filename="hóa đơn tháng 11.pdf",
    )
    stored = await received(app, settings, tenant, channel, first)
    assert stored["state"] == "processed", stored
    again = await post_mail(tenant, channel, first)
    assert again.json()["duplicate"] is True, "the same Message-ID again changes nothing"

    ticket = (await tenant.viewer.get(f"/v1/tickets/{stored['ticket_id']}")).json()
    assert ticket["subject"] == "Đơn hàng #1024 giao chậm" and ticket["channel"] == "email"
    requester = (await tenant.viewer.get(f"/v1/contacts/{ticket['requester_id']}")).json()
    assert requester["email"] == CUSTOMER and requester["name"] == "Nguyễn Thị Lan"
    [opening] = await comments_of(tenant, ticket["id"])
    assert opening["body"].startswith("Chào shop,") and opening["provider_message_id"] == first[
        "Message-ID"
    ].strip("<>")
    assert [a["filename"] for a in opening["attachments"]] == ["hóa đơn tháng 11.pdf"]
    assert ticket["reply_channel"]["can_reply"] is True

    agent = await agent_of(app, tenant, "thu-cskh")
    reply = await comment(
        agent, ticket["id"], public=True, body="Dạ shop xin lỗi chị, đơn sẽ giao trong hôm nay ạ."
    )
    await send_replies(app, settings)
    [sent] = outbox.received
    assert sent["To"].addresses[0].addr_spec == CUSTOMER
    address = channel["settings"]["address"]
    assert sent["From"].addresses[0].addr_spec == address and "Shop Hoa" in str(sent["From"])
    assert sent["Subject"] == f"[#{ticket['number']}] Đơn hàng #1024 giao chậm"
    assert sent["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in sent["References"]
    reply_to = sent["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith(f"cskh+t{ticket['number']}-") and reply_to.endswith(address.partition("@")[2])
    assert "Auto-Submitted" not in sent, "a person's reply"
    text = sent.get_body(("plain",)).get_content()
    assert reply_text(sent) == "Dạ shop xin lỗi chị, đơn sẽ giao trong hôm nay ạ."
    assert "/t/" in text.rsplit(SIGNATURE_SEPARATOR, 1)[1], "the ticket's customer link closes the reply"
    assert_accepted_by_mail_servers(outbox.raw[0])
    html = sent.get_body(("html",)).get_content()
    assert "<p>Dạ shop xin lỗi chị, đơn sẽ giao trong hôm nay ạ.</p>" in html, "an HTML part, from the text"
    shown = (await agent.get(f"/v1/comments/{reply['id']}")).json()
    assert shown["delivery"]["state"] == "sent" and shown["provider_message_id"] == sent["Message-ID"].strip(
        "<>"
    )

    # The customer answers from Gmail: quoted text is left out of the comment, the ticket is found by
    # the references even though the subject changed.
    answer = mail(
        subject="Re: cảm ơn",
        body=(
            "Cảm ơn shop!\n\n"
            f"Vào Th 2, 1 thg 12, 2026 lúc 10:00 Shop Hoa <{SUPPORT}> đã viết:\n> Dạ shop xin lỗi chị"
        ),
        In_Reply_To=sent["Message-ID"],
        References=f"{first['Message-ID']} {sent['Message-ID']}",
    )
    followed = await received(app, settings, tenant, channel, answer)
    assert followed["ticket_id"] == ticket["id"]
    latest = (await comments_of(tenant, ticket["id"]))[-1]
    assert latest["body"] == "Cảm ơn shop!"
    whole = await tenant.admin.get(f"/v1/channels/{channel['id']}/inbound/{followed['id']}/raw")
    assert whole.headers["content-type"] == "message/rfc822" and "đã viết:" in whole.content.decode()
    assert latest["threading"]["rule"] == "open_ticket" and latest["threading"]["matched"] == "references"


async def test_reply_addresses_and_subject_tokens_find_the_ticket_only_when_genuine(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    opened = await received(app, settings, tenant, channel, mail())
    ticket = (await tenant.viewer.get(f"/v1/tickets/{opened['ticket_id']}")).json()
    agent = await agent_of(app, tenant, "thu-02")
    await comment(agent, ticket["id"], public=True, body="Dạ shop đã nhận")
    await send_replies(app, settings)
    reply_to = outbox.received[0]["Reply-To"].addresses[0].addr_spec
    number = ticket["number"]

    by_address = await received(app, settings, tenant, channel, mail(subject="Bổ sung", to=reply_to))
    assert by_address["ticket_id"] == ticket["id"]
    local, _, domain = reply_to.partition("@")
    forged = local.replace(f"+t{number}-", f"+t{number}-0")[:-1] + "@" + domain
    guessed = await received(app, settings, tenant, channel, mail(subject="Đoán", to=forged))
    assert guessed["ticket_id"] != ticket["id"], "a reply address whose code does not match is no key"

    token = await received(app, settings, tenant, channel, mail(subject=f"Re: [#{number}] Đơn hàng"))
    assert token["ticket_id"] == ticket["id"], "the requester may name the ticket in the subject"
    stranger = await received(
        app, settings, tenant, channel, mail(subject=f"[#{number}] xem giúp", sender="Kẻ lạ <la@example.com>")
    )
    assert stranger["ticket_id"] != ticket["id"], "someone else cannot write into a ticket by its number"
    rules = [
        (c["threading"]["rule"], c["threading"]["matched"])
        for c in await comments_of(tenant, ticket["id"])
        if c["threading"]
    ]
    assert rules == [
        ("new_conversation", None),
        ("open_ticket", "reply_address"),
        ("open_ticket", "subject_token"),
    ]


async def test_vietnamese_mail_in_windows_1258_reads_as_written(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    text = "Tôi muốn đổi hàng, đơn số 1024 bị lỗi."
    raw = (
        (
            f"From: =?windows-1258?Q?Tr=E2n_V=E3n_B=ECnh?= <binh@example.vn>\r\nTo: {SUPPORT}\r\n"
            "Subject: =?UTF-8?B?xJDhu5VpIGjDoG5n?=\r\nMessage-ID: <cp1258-1@example.vn>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=windows-1258\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode()
        + windows_1258(text)
        + b"\r\n"
    )
    accepted = await post_mail(tenant, channel, raw)
    assert accepted.status_code == 202, accepted.text
    await thread_due(app.state.db, settings, app.state.secret_box)
    [ticket] = (await tenant.viewer.get("/v1/tickets")).json()["items"]
    assert ticket["subject"] == "Đổi hàng"
    [opening] = await comments_of(tenant, ticket["id"])
    assert opening["body"] == text, "decoded, tone marks composed (NFC)"


def windows_1258(text: str) -> bytes:
    """As Vietnamese Windows writes it: a tone mark that has no precomposed letter follows its vowel."""
    encoded = b""
    for letter in text:
        try:
            encoded += letter.encode("cp1258")
        except UnicodeEncodeError:
            base, *marks = unicodedata.normalize("NFD", letter)
            shape = unicodedata.normalize("NFC", base + "".join(marks[:-1]))
            encoded += shape.encode("cp1258") + marks[-1].encode("cp1258")
    return encoded


# Loops and bounces


async def test_loops_are_broken_and_bounces_fail_the_reply(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    own_address = channel["settings"]["address"]
    own = await received(app, settings, tenant, channel, mail(sender=f"Shop Hoa <{own_address}>"))
    assert own["state"] == "ignored" and "own address" in own["error"]

    opened = await received(app, settings, tenant, channel, mail())
    agent = await agent_of(app, tenant, "thu-03")
    reply = await comment(agent, opened["ticket_id"], public=True, body="Dạ shop đã nhận ạ")
    await send_replies(app, settings)
    sent_id = outbox.received[0]["Message-ID"]

    report = (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        f"To: {SUPPORT}\r\nSubject: Delivery Status Notification (Failure)\r\n"
        "Message-ID: <dsn-1@googlemail.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message wasn't delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; googlemail.com\r\n\r\nFinal-Recipient: rfc822; lan.nguyen@gmail.com\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {sent_id}\r\nFrom: {SUPPORT}\r\nTo: {CUSTOMER}\r\n\r\n--b1--\r\n"
    ).encode()
    bounce = await received(app, settings, tenant, channel, report)
    assert bounce["state"] == "ignored" and "delivery report for a reply sent from here" in bounce["error"]
    failed = (await agent.get(f"/v1/comments/{reply['id']}")).json()["delivery"]
    assert failed["state"] == "failed" and "5.1.1" in failed["error"]
    events = (
        await tenant.viewer.get("/v1/events", params={"types": "ticket.comment_delivery_failed"})
    ).json()
    assert [event["data"]["comment"]["id"] for event in events["items"]] == [reply["id"]]


async def test_automatic_replies_go_to_people_but_never_to_automatic_mail(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    macro = await create(
        tenant.admin,
        "/v1/macros",
        {"name": "Xác nhận", "body": "Shop đã nhận thư, phiếu #{{ ticket.number }}."},
    )
    await create(
        tenant.admin,
        "/v1/triggers",
        {
            "name": "Tự động xác nhận thư",
            "events": ["ticket.created"],
            "conditions": {"all": [{"field": "channel", "operator": "equals", "value": "email"}]},
            "actions": [{"type": "add_comment", "macro_id": macro["id"], "public": True}],
        },
    )
    person = await received(app, settings, tenant, channel, mail())
    out_of_office = await received(
        app,
        settings,
        tenant,
        channel,
        mail(subject="Vắng mặt", sender="Anh Nam <nam@example.vn>", Auto_Submitted="auto-replied"),
    )
    await send_replies(app, settings)
    [acknowledgement] = outbox.received
    assert acknowledgement["To"].addresses[0].addr_spec == CUSTOMER
    assert acknowledgement["Auto-Submitted"] == "auto-replied"
    assert_accepted_by_mail_servers(outbox.raw[0])
    assert person["state"] == "processed"
    # Automatic mail opens no ticket, so nothing answers it (tests/test_automatic_mail.py has the rest).
    assert out_of_office["state"] == "ignored" and out_of_office["ticket_id"] is None


# Other ways in


async def test_mailgun_routes_are_checked_by_their_signature(
    app: FastAPI, tenant: Tenant, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox, mailgun_signing_key=MAILGUN_KEY)
    raw = mail().as_string()
    timestamp, nonce = str(int(time.time())), "3b2c7e0f0d9a4f0c8e1a"
    signature = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{nonce}".encode(), hashlib.sha256).hexdigest()
    url = channel["inbound_urls"]["email"]
    form = {"timestamp": timestamp, "token": nonce, "signature": signature, "body-mime": raw}
    accepted = await tenant.anonymous.post(url, data=form)
    assert accepted.status_code == 202 and accepted.json()["duplicate"] is False
    forged = await tenant.anonymous.post(url, data={**form, "signature": "0" * 64})
    assert forged.status_code == 403
    stale = str(int(time.time()) - 3600)
    old_signature = hmac.new(MAILGUN_KEY.encode(), f"{stale}{nonce}".encode(), hashlib.sha256).hexdigest()
    replayed = await tenant.anonymous.post(url, data={**form, "timestamp": stale, "signature": old_signature})
    assert replayed.status_code == 403
    assert (
        await tenant.anonymous.post(url, content=raw.encode(), headers={"Content-Type": "message/rfc822"})
    ).status_code == 401


@contextlib.asynccontextmanager
async def smtp_listener(app: FastAPI, settings: Settings) -> AsyncIterator[int]:
    """The service's SMTP listener on 127.0.0.1, for as long as the block runs; yields its port."""
    port = free_port()
    listening = settings.model_copy(
        update={"email": EmailSettings(listen=True, listen_host="127.0.0.1", listen_port=port)}
    )
    stopping = asyncio.Event()
    server = asyncio.create_task(serve_smtp(app.state.db, listening, stopping))
    try:
        for _ in range(50):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            await asyncio.sleep(0.02)
        yield port
    finally:
        stopping.set()
        await server


async def test_the_smtp_listener_takes_mail_for_its_channels_only(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    local, _, domain = channel["settings"]["address"].partition("@")
    async with smtp_listener(app, settings) as port:
        message = mail(to=f"{local}+khieu-nai@{domain}")
        stranger = f"ai-do@{domain}"
        refused, _ = await aiosmtplib.send(
            mail(to=stranger), hostname="127.0.0.1", port=port, recipients=[stranger, f"{local}@{domain}"]
        )
        assert stranger in refused and refused[stranger].code == 550
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
    await thread_due(app.state.db, settings, app.state.secret_box)
    inbound = (await tenant.admin.get(f"/v1/channels/{channel['id']}/inbound")).json()["items"]
    assert {item["state"] for item in inbound} == {"processed"}
    assert message["Message-ID"].strip("<>") in {item["provider_message_id"] for item in inbound}
    workspace_tickets = (await tenant.viewer.get("/v1/tickets")).json()["items"]
    assert len(workspace_tickets) == 2 and {t["channel"] for t in workspace_tickets} == {"email"}


# Replies go to the address the SMTP server's name was checked at

# The one address the tests' policy allows, standing in for a public one; 127.0.0.1 is refused by it.
CHECKED = "127.0.0.2"
ONLY_CHECKED = OutboundPolicy(allowed_networks=(ipaddress.ip_network(f"{CHECKED}/32"),))
SMTP_NAME = "smtp.shophoa.test"


class Rebinding:
    """A DNS that answers `first` once and `after` ever after: the name moves (DNS rebinding)."""

    def __init__(self, first: str, after: str) -> None:
        self.answers = [first]
        self.after = after
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.answers.pop() if self.answers else self.after]


class Decoy(asyncio.Protocol):
    """A listener on a refused address: it notes who connects and says nothing."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.seen.append(transport.get_extra_info("peername"))
        transport.close()


async def reply_to_send(
    app: FastAPI, settings: Settings, tenant: Tenant, server: Outbox, agent_id: str, **smtp: Any
) -> tuple[httpx.AsyncClient, str]:
    """An agent's reply, queued on a channel whose SMTP server is now `smtp` (host, security) on the
    server's port."""
    channel = await email_channel(tenant, server)
    stored = await received(app, settings, tenant, channel, mail())
    # The name was checked when the channel was saved, resolving to a public address then.
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE channels SET settings = settings || CAST(:smtp AS jsonb) WHERE id = :id"),
            {"smtp": json.dumps(smtp), "id": channel["id"]},
        )
    agent = await agent_of(app, tenant, agent_id)
    reply = await comment(agent, stored["ticket_id"], public=True, body="Dạ shop đã gửi hàng ạ")
    return agent, reply["id"]


async def test_a_reply_goes_to_the_address_checked_when_the_name_moves_after(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    async with smtp_server(CHECKED) as server:
        connected: list[object] = []
        decoy = await asyncio.get_running_loop().create_server(
            lambda: Decoy(connected), host="127.0.0.1", port=server.port
        )
        async with decoy:
            # The system's resolver answers loopback for this name, as the rebound name would: a second
            # look-up by anyone would connect to the decoy.
            agent, reply_id = await reply_to_send(
                app, settings, tenant, server, "thu-dns", smtp_host="localhost", smtp_security="none"
            )
            dns = Rebinding(first=CHECKED, after="127.0.0.1")
            await send_replies(app, settings, ONLY_CHECKED, resolve=dns)
    assert connected == [], "nothing reached the address the name moved to"
    [sent] = server.received
    assert reply_text(sent) == "Dạ shop đã gửi hàng ạ"
    assert dns.asked == ["localhost"], "resolved once: the connection is made to what was checked"
    assert (await agent.get(f"/v1/comments/{reply_id}")).json()["delivery"]["state"] == "sent"


def certificate_for(name: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate naming `name` only (no IP address), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_to_the_checked_address_is_verified_for_the_servers_name(
    app: FastAPI,
    tenant: Tenant,
    other_tenant: Tenant,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    security: str,
) -> None:
    cert_path, key_path = certificate_for(SMTP_NAME, tmp_path)
    # The service trusts the system's certificate authorities: here, the test's own.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)
    async with smtp_server(CHECKED, tls, implicit_tls=security == "tls") as server:
        agent, named = await reply_to_send(
            app, settings, tenant, server, "thu-tls", smtp_host=SMTP_NAME, smtp_security=security
        )
        await send_replies(app, settings, ONLY_CHECKED, resolve=Rebinding(CHECKED, CHECKED))
        texts = [reply_text(sent) for sent in server.received]
        assert texts == ["Dạ shop đã gửi hàng ạ"]
        assert server.server_names == [SMTP_NAME], "the name, not the address, is asked for"
        assert (await agent.get(f"/v1/comments/{named}")).json()["delivery"]["state"] == "sent"

        # The same server under a name its certificate does not give: refused, nothing sent.
        other_name = "khac.shophoa.test"
        other_agent, refused = await reply_to_send(
            app, settings, other_tenant, server, "thu-tls-2", smtp_host=other_name, smtp_security=security
        )
        await send_replies(app, settings, ONLY_CHECKED, resolve=Rebinding(CHECKED, CHECKED))
        assert len(server.received) == 1
        delivery = (await other_agent.get(f"/v1/comments/{refused}")).json()["delivery"]
        assert delivery["state"] == "queued", "tried again later: the server's certificate may be fixed"
        async with app.state.db.sessionmaker() as session:
            error = await session.scalar(
                select(OutboundMessage.error).where(OutboundMessage.comment_id == UUID(refused))
            )
        assert error is not None and "certificate" in error.lower(), error


async def test_an_smtp_host_is_checked_when_the_channel_is_saved(tenant: Tenant, outbox: Outbox) -> None:
    body = {"kind": "email", "name": "Hộp thư nội bộ", "settings": {"address": support_address()}}
    for host in ("10.1.2.3", "169.254.169.254", "127.0.0.2", "0x7f000001", "::1"):
        refused = await tenant.admin.post(
            "/v1/channels", json={**body, "settings": {**body["settings"], "smtp_host": host}}
        )
        assert refused.status_code == 422, (host, refused.text)
        assert refused.json()["field"] == "settings.smtp_host", refused.text
    for host in ("evil.example/x@127.0.0.1", "smtp example.com", "thư.example.com"):
        malformed = await tenant.admin.post(
            "/v1/channels", json={**body, "settings": {**body["settings"], "smtp_host": host}}
        )
        # Refused by the schema, which names the field under the kind it chose.
        assert malformed.status_code == 422, malformed.text
        assert malformed.json()["field"] == "email.settings.smtp_host", malformed.text
    channel = await email_channel(tenant, outbox)
    moved = await tenant.admin.patch(
        f"/v1/channels/{channel['id']}", json={"settings": {"smtp_host": "192.168.1.10"}}
    )
    assert moved.status_code == 422 and moved.json()["field"] == "settings.smtp_host", moved.text
    assert (await tenant.admin.get(f"/v1/channels/{channel['id']}")).json()["settings"][
        "smtp_host"
    ] == "127.0.0.1"
