"""Request bodies are bounded per route before they are read, and callers are refused before them."""

import asyncio
import secrets
from collections.abc import AsyncIterator
from email.message import EmailMessage
from urllib.parse import urlsplit

from fastapi import FastAPI

from tests.conftest import Tenant
from tests.factories import create, create_ticket


async def raw_exchange(live_url: str, head: bytes, body: bytes = b"") -> bytes:
    """Send a request's head (and some body), and read what the server answers before the rest."""
    address = urlsplit(live_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), timeout=30)
    finally:
        writer.close()


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    app: FastAPI, live_url: str, tenant: Tenant
) -> None:
    """200 MB announced, none of it sent: the answer comes at once, with or without credentials."""
    for authorization in (b"", f"Authorization: Bearer {tenant.admin_key}\r\n".encode()):
        head = (
            b"POST /v1/tickets HTTP/1.1\r\nHost: testserver\r\nContent-Type: application/json\r\n"
            + authorization
            + b"Content-Length: 209715200\r\n\r\n"
        )
        answer = await raw_exchange(live_url, head, b'{"subject": "')
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b"application/problem+json" in rest and b'"max_body_bytes":1048576' in rest


async def test_a_json_body_over_the_limit_is_a_413_declared_or_streamed(tenant: Tenant) -> None:
    big = b'{"subject": "' + b"a" * (1024 * 1024) + b'"}'

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    for content in (big, streamed()):
        response = await tenant.agent.post(
            "/v1/tickets", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "payload_too_large"
    assert (await tenant.viewer.get("/v1/tickets")).json()["items"] == []


async def test_a_body_without_credentials_is_never_read(tenant: Tenant) -> None:
    read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal read
        while True:
            read += 1
            yield b"x" * 65536
            await asyncio.sleep(0)

    response = await asyncio.wait_for(
        tenant.anonymous.post("/v1/tickets", content=endless(), headers={"Content-Type": "application/json"}),
        timeout=30,
    )
    assert response.status_code == 401
    assert read <= 1


async def test_routes_with_files_and_raw_mail_keep_their_own_limits(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    two_megabytes = b"%PDF-1.4\n" + bytes(2 * 1024 * 1024)
    with_files = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments/with-files",
        data={"comment": '{"body": "Hóa đơn đính kèm", "public": false}'},
        files={"files": ("hoa-don.pdf", two_megabytes, "application/pdf")},
    )
    assert with_files.status_code == 201, with_files.text
    upload = await tenant.agent.post("/v1/uploads", files={"files": ("bang-ke.pdf", two_megabytes)})
    assert upload.status_code == 201, upload.text

    token = secrets.token_hex(16)
    channel = await create(
        tenant.admin,
        "/v1/channels",
        {
            "kind": "email",
            "name": "Hộp thư lớn",
            "settings": {"address": f"hop-thu-{secrets.token_hex(4)}@shop-hoa.vn"},
            "secrets": {"token": token},
        },
    )
    message = EmailMessage()
    message["From"] = "Nguyễn Thị Lan <lan@example.vn>"
    message["To"] = channel["settings"]["address"]
    message["Subject"] = "Ảnh chụp đơn hàng"
    message.set_content("Shop xem giúp em ảnh này ạ")
    message.add_attachment(two_megabytes, maintype="application", subtype="pdf", filename="anh.pdf")
    posted = await tenant.anonymous.post(
        channel["inbound_urls"]["email"],
        content=message.as_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"},
    )
    assert posted.status_code == 202, posted.text
