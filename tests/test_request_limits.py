"""Request bodies are bounded per route before they are read, and callers are refused before them; a
body must arrive within the request timeout."""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app.config import DatabaseSettings, Settings
from tests.conftest import Tenant, create_tenant, running_app, served_over_http
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


@pytest.fixture(scope="module")
async def impatient_app(database_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    """A request timeout of a second, and a single database connection, so that a request holding it
    shows."""
    impatient = settings.model_copy(
        update={
            "request_timeout_seconds": 1.0,
            "db": DatabaseSettings(pool_size=1, max_overflow=0, pool_timeout_seconds=30),
        }
    )
    async with running_app(impatient, database_url) as application:
        yield application


async def test_a_body_sent_too_slowly_is_cut_off_and_its_connection_given_back(
    impatient_app: FastAPI,
) -> None:
    tenant = await create_tenant(impatient_app)
    # The key's first use is stamped in a transaction of its own; from the next request on, the
    # request holds its database connection from authentication to commit, while its body arrives.
    assert (await tenant.agent.get("/v1/tickets")).status_code == 200
    pool = impatient_app.state.db.engine.pool
    async with served_over_http(impatient_app) as url:
        address = urlsplit(url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        writer.write(
            b"POST /v1/tickets HTTP/1.1\r\nHost: testserver\r\nContent-Type: application/json\r\n"
            + f"Authorization: {tenant.agent.headers['Authorization']}\r\n".encode()
            + b'Content-Length: 1000\r\n\r\n{"subject": "'
        )

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(1000):
                    await asyncio.sleep(0.1)
                    writer.write(b"a")
                    await writer.drain()

        trickling = asyncio.create_task(trickle())
        try:
            async with asyncio.timeout(30):
                while pool.checkedout() == 0:  # noqa: ASYNC110 - the pool offers no event to wait on
                    await asyncio.sleep(0.01)
            # The pool's one connection is the slow request's: another request waits for it, and gets
            # it once the slow body is cut off (well before it would give up waiting, after 30 s).
            async with httpx.AsyncClient(base_url=url, timeout=60) as other:
                answer = await other.get(
                    "/v1/tickets", headers={"Authorization": f"Bearer {tenant.admin_key}"}
                )
            assert answer.status_code == 200, answer.text

            async with asyncio.timeout(30):
                cut_off = b""
                while chunk := await reader.read(65536):
                    cut_off += chunk
            head, _, body = cut_off.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), cut_off[:300]
            assert b"connection: close" in head.lower()
            assert b"application/problem+json" in head and b'"code":"request_timeout"' in body
        finally:
            trickling.cancel()
            writer.close()
    assert (await tenant.agent.get("/v1/tickets")).json()["items"] == []
    assert pool.checkedout() == 0
