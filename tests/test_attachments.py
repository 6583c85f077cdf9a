"""Uploads, attaching them to comments, downloads authorised like the ticket, limits, and the purge."""

import io
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI, UploadFile
from sqlalchemy import func, select

from app.attachments.schemas import AttachmentOut
from app.attachments.service import (
    attach_stored,
    attach_uploads,
    attachments_of_comments,
    clean_filename,
    move_to_ticket,
    sniff_content_type,
    store_files,
)
from app.attachments.storage import Storage, storage_for
from app.attachments.tasks import purge_unattached
from app.auth.principal import Principal
from app.auth.service import authenticate
from app.config import AttachmentSettings, Settings
from app.db import Database
from app.errors import Unprocessable
from app.kit.ids import new_id
from app.kit.time import utcnow
from app.models import Attachment, Comment
from tests.conftest import Tenant, make_client
from tests.factories import create_agent, create_group, create_ticket, mint_agent_token, rotate_token_secret

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
INVOICE_NAME = "Hóa đơn tháng 11.pdf"
HTML = b"<!doctype html><html><body><script>alert('xin ch\xc3\xa0o')</script></body></html>"


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return storage_for(settings)


@pytest.fixture
def stored_files(settings: Settings) -> Iterator[set[Path]]:
    """The files under the storage folder before the test; compare with `files_in` after it."""
    yield files_in(settings)


def files_in(settings: Settings) -> set[Path]:
    root = settings.data_dir / "attachments"
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def limits(app: FastAPI) -> Iterator[Callable[..., None]]:
    """Set the app's attachment limits for one test; the app's settings are restored after it.

    Not with monkeypatch: it restores through the instance `__dict__`, which the app's state does not use.
    """
    original = app.state.settings

    def set_limits(**values: Any) -> None:
        attachment = AttachmentSettings(**values)
        app.state.settings = original.model_copy(update={"attachment": attachment})

    yield set_limits
    app.state.settings = original


async def principal_of(app: FastAPI, client: httpx.AsyncClient) -> Principal:
    token = client.headers["Authorization"].removeprefix("Bearer ")
    async with app.state.db.sessionmaker() as session:
        return (await authenticate(session, token, app.state.settings, app.state.secret_box)).principal


async def upload(client: httpx.AsyncClient, *files: tuple[str, bytes, str]) -> list[dict[str, Any]]:
    response = await client.post("/v1/uploads", files=[("files", file) for file in files])
    assert response.status_code == 201, response.text
    page = response.json()
    assert page["next_cursor"] is None, "every upload of a request on one page"
    return page["items"]


async def add_comment(db: Database, workspace_id: UUID, ticket_id: str) -> UUID:
    comment_id = new_id()
    async with db.sessionmaker() as session, session.begin():
        session.add(
            Comment(
                workspace_id=workspace_id,
                id=comment_id,
                ticket_id=UUID(ticket_id),
                author_type="agent",
                public=True,
                body="Gửi anh hóa đơn tháng 11",
            )
        )
    return comment_id


async def attach(
    app: FastAPI, client: httpx.AsyncClient, tokens: list[str], ticket_id: str, comment_id: UUID
) -> list[Attachment]:
    principal = await principal_of(app, client)
    async with app.state.db.sessionmaker() as session, session.begin():
        return await attach_uploads(session, principal, tokens, UUID(ticket_id), comment_id)


async def storage_keys(db: Database, workspace_id: UUID) -> dict[UUID, str]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(Attachment.id, Attachment.storage_key).where(Attachment.workspace_id == workspace_id)
        )
        return {attachment_id: key for attachment_id, key in rows}


async def attachment_rows(db: Database, workspace_id: UUID) -> int:
    async with db.sessionmaker() as session:
        return await session.scalar(
            select(func.count()).select_from(Attachment).where(Attachment.workspace_id == workspace_id)
        )


async def test_an_attached_upload_downloads_with_its_bytes_and_safe_headers(
    app: FastAPI, db: Database, tenant: Tenant, settings: Settings
) -> None:
    [uploaded] = await upload(tenant.agent, (INVOICE_NAME, PDF, "text/html"))
    assert uploaded["filename"] == INVOICE_NAME
    assert uploaded["size"] == len(PDF)
    assert uploaded["content_type"] == "application/pdf"
    assert len(uploaded["sha256"]) == 64 and uploaded["token"]
    key = (await storage_keys(db, tenant.workspace_id))[UUID(uploaded["id"])]
    assert (settings.data_dir / "attachments" / key[:2] / key[2:4] / key).read_bytes() == PDF
    assert not any("Hóa" in str(path) or path.suffix == ".pdf" for path in files_in(settings))

    ticket = await create_ticket(tenant.agent)
    comment_id = await add_comment(db, tenant.workspace_id, ticket["id"])
    [attached] = await attach(app, tenant.agent, [uploaded["token"]], ticket["id"], comment_id)
    assert attached.comment_id == comment_id and attached.attached_at is not None

    response = await tenant.viewer.get(f"/v1/attachments/{uploaded['id']}")
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''H%C3%B3a%20%C4%91%C6%A1n%20th%C3%A1ng%2011.pdf"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(PDF))

    async with db.sessionmaker() as session:
        by_comment = await attachments_of_comments(session, tenant.workspace_id, [comment_id, new_id()])
    assert [attachment.id for attachment in by_comment[comment_id]] == [UUID(uploaded["id"])]
    shown = AttachmentOut.model_validate(by_comment[comment_id][0]).model_dump(mode="json")
    assert shown["url"] == f"/v1/attachments/{uploaded['id']}"
    assert shown["sha256"] == uploaded["sha256"]


async def test_html_named_as_an_image_is_served_as_an_opaque_download(tenant: Tenant) -> None:
    [uploaded] = await upload(tenant.agent, ("anh.png", HTML, "image/png"))
    assert uploaded["content_type"] == "application/octet-stream"
    response = await tenant.agent.get(f"/v1/attachments/{uploaded['id']}")
    assert response.status_code == 200 and response.content == HTML
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(32), "image/png"),
        (b"\xff\xd8\xff\xe0" + bytes(32), "image/jpeg"),
        (PDF, "application/pdf"),
        (b"PK\x03\x04" + bytes(40), "application/zip"),
        ("Đơn hàng DH-1042 giao chậm\r\n".encode(), "text/plain; charset=utf-8"),
        # Cut inside a multi-byte character, as a sniffed head may be.
        ("Giao hàng".encode()[:-2], "text/plain; charset=utf-8"),
        (HTML, "application/octet-stream"),
        (b"  <svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "application/octet-stream"),
        (b"MZ\x90\x00" + bytes(64), "application/octet-stream"),
        (b"\x00\x01\x02binary", "application/octet-stream"),
        (b"\xc3\x28 not utf-8", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_content_type_comes_from_the_bytes(head: bytes, expected: str) -> None:
    assert sniff_content_type(head) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\lan\\Hóa đơn.pdf", "Hóa đơn.pdf"),
        # A right-to-left override would show "…gnp.exe" as "…exe.png".
        ("anh\u202egnp.exe", "anhgnp.exe"),
        ("bao\x00cao\n.xlsx", "baocao.xlsx"),
        ("Hoa\u0300 đơn.pdf", "Hoà đơn.pdf"),
        ("..", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
    ],
)
def test_filenames_lose_folders_and_control_characters(raw: str | None, expected: str) -> None:
    assert clean_filename(raw) == expected


def test_a_long_filename_is_cut_to_255_characters_keeping_its_extension() -> None:
    cleaned = clean_filename("Biên bản " * 60 + ".docx")
    assert len(cleaned) <= 255 and cleaned.endswith(".docx")


async def test_a_file_over_the_limit_is_413_and_nothing_is_stored(
    app: FastAPI,
    db: Database,
    tenant: Tenant,
    settings: Settings,
    stored_files: set[Path],
    limits: Callable[..., None],
) -> None:
    limits(max_file_bytes=1024)
    response = await tenant.agent.post(
        "/v1/uploads",
        files=[
            ("files", ("nho.txt", b"a" * 512, "text/plain")),
            ("files", ("lon.pdf", PDF * 40, "application/pdf")),
        ],
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["max_file_bytes"] == 1024
    assert await attachment_rows(db, tenant.workspace_id) == 0
    assert files_in(settings) == stored_files


async def test_a_body_past_every_limit_is_refused_before_it_is_read(
    db: Database, tenant: Tenant, settings: Settings, stored_files: set[Path], limits: Callable[..., None]
) -> None:
    limits(max_file_bytes=1024, max_files_per_comment=1)
    boundary = "ranh-gioi"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="lon.bin"\r\n\r\n'.encode()
        + bytes(512 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    # Once with its length declared, once streamed without one (chunked).
    for content in (body, streamed()):
        response = await tenant.agent.post("/v1/uploads", content=content, headers=headers)
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "payload_too_large"
    assert await attachment_rows(db, tenant.workspace_id) == 0
    assert files_in(settings) == stored_files


async def test_too_many_files_is_413(
    db: Database, tenant: Tenant, settings: Settings, stored_files: set[Path]
) -> None:
    many = [("files", (f"anh-{number}.txt", b"Xin chao", "text/plain")) for number in range(21)]
    response = await tenant.agent.post("/v1/uploads", files=many)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large" and response.json()["max_files"] == 20
    assert await attachment_rows(db, tenant.workspace_id) == 0
    assert files_in(settings) == stored_files


async def test_a_viewer_cannot_upload(tenant: Tenant) -> None:
    response = await tenant.viewer.post("/v1/uploads", files={"files": ("hoa-don.pdf", PDF)})
    assert response.status_code == 403


async def test_another_workspaces_attachment_is_404(
    app: FastAPI, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    [uploaded] = await upload(tenant.agent, (INVOICE_NAME, PDF, "application/pdf"))
    ticket = await create_ticket(tenant.agent)
    comment_id = await add_comment(db, tenant.workspace_id, ticket["id"])
    await attach(app, tenant.agent, [uploaded["token"]], ticket["id"], comment_id)
    response = await other_tenant.admin.get(f"/v1/attachments/{uploaded['id']}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    # Nor can the other workspace attach it by its token.
    other_ticket = await create_ticket(other_tenant.agent)
    other_comment = await add_comment(db, other_tenant.workspace_id, other_ticket["id"])
    with pytest.raises(Unprocessable):
        await attach(app, other_tenant.agent, [uploaded["token"]], other_ticket["id"], other_comment)


async def test_an_unattached_upload_is_only_its_uploaders(app: FastAPI, db: Database, tenant: Tenant) -> None:
    [uploaded] = await upload(tenant.agent, ("ghi-chu.txt", "Ghi chú nội bộ".encode(), "text/plain"))
    assert (await tenant.agent.get(f"/v1/attachments/{uploaded['id']}")).status_code == 200
    assert (await tenant.admin.get(f"/v1/attachments/{uploaded['id']}")).status_code == 404
    assert (await tenant.viewer.get(f"/v1/attachments/{uploaded['id']}")).status_code == 404

    ticket = await create_ticket(tenant.agent)
    comment_id = await add_comment(db, tenant.workspace_id, ticket["id"])
    with pytest.raises(Unprocessable) as refused:
        await attach(app, tenant.admin, [uploaded["token"]], ticket["id"], comment_id)
    assert refused.value.field == "attachments"
    assert refused.value.extra["invalid_tokens"] == [uploaded["token"]]


async def test_an_upload_is_attached_once_and_unknown_tokens_are_refused(
    app: FastAPI, db: Database, tenant: Tenant
) -> None:
    [first, second] = await upload(tenant.agent, ("a.pdf", PDF, "application/pdf"), ("b.pdf", PDF, "x/y"))
    ticket = await create_ticket(tenant.agent)
    comment_id = await add_comment(db, tenant.workspace_id, ticket["id"])
    attached = await attach(app, tenant.agent, [second["token"], first["token"]], ticket["id"], comment_id)
    assert [attachment.filename for attachment in attached] == ["b.pdf", "a.pdf"]

    other_comment = await add_comment(db, tenant.workspace_id, ticket["id"])
    for tokens in ([first["token"]], ["khong-co-that"]):
        with pytest.raises(Unprocessable):
            await attach(app, tenant.agent, tokens, ticket["id"], other_comment)
    async with db.sessionmaker() as session:
        by_comment = await attachments_of_comments(session, tenant.workspace_id, [comment_id, other_comment])
    assert len(by_comment[comment_id]) == 2 and by_comment[other_comment] == []


async def test_files_sent_with_a_comment_are_stored_and_attached(
    app: FastAPI, db: Database, tenant: Tenant, storage: Storage
) -> None:
    principal = await principal_of(app, tenant.agent)
    ticket = await create_ticket(tenant.agent)
    comment_id = await add_comment(db, tenant.workspace_id, ticket["id"])
    files = [UploadFile(io.BytesIO(PDF), filename=INVOICE_NAME)]
    async with db.sessionmaker() as session, session.begin():
        [stored] = await store_files(session, principal, storage, app.state.settings, files)
        await attach_stored(session, tenant.workspace_id, [stored], UUID(ticket["id"]), comment_id)
    response = await tenant.viewer.get(f"/v1/attachments/{stored.id}")
    assert response.status_code == 200 and response.content == PDF


async def test_an_attachment_is_read_like_its_ticket(app: FastAPI, db: Database, tenant: Tenant) -> None:
    restricted = await create_agent(tenant.admin, "crm-tep", ticket_access="restricted")
    group = await create_group(tenant.admin, "Nhóm Kế toán", [restricted["id"]])
    kid, secret = await rotate_token_secret(tenant.admin)
    client = make_client(app, mint_agent_token(kid, secret, "crm-tep"))
    [uploaded] = await upload(tenant.agent, (INVOICE_NAME, PDF, "application/pdf"))
    hidden = await create_ticket(tenant.agent)
    comment_id = await add_comment(db, tenant.workspace_id, hidden["id"])
    await attach(app, tenant.agent, [uploaded["token"]], hidden["id"], comment_id)
    assert (await client.get(f"/v1/attachments/{uploaded['id']}")).status_code == 404

    # A merge moves the attachments to a ticket the restricted agent can see.
    visible = await create_ticket(tenant.agent, group_id=group["id"])
    async with db.sessionmaker() as session, session.begin():
        await move_to_ticket(session, tenant.workspace_id, UUID(hidden["id"]), UUID(visible["id"]))
    response = await client.get(f"/v1/attachments/{uploaded['id']}")
    assert response.status_code == 200 and response.content == PDF


async def test_purge_removes_uploads_never_attached_and_keeps_attached_ones(
    app: FastAPI, db: Database, tenant: Tenant, storage: Storage, settings: Settings
) -> None:
    kept, abandoned = await upload(
        tenant.agent, (INVOICE_NAME, PDF, "application/pdf"), ("nhap.txt", b"ban nhap", "text/plain")
    )
    ticket = await create_ticket(tenant.agent)
    comment_id = await add_comment(db, tenant.workspace_id, ticket["id"])
    await attach(app, tenant.agent, [kept["token"]], ticket["id"], comment_id)
    keys = await storage_keys(db, tenant.workspace_id)
    kept_key, abandoned_key = keys[UUID(kept["id"])], keys[UUID(abandoned["id"])]

    ttl = timedelta(hours=24)
    await purge_unattached(db, storage, utcnow(), ttl)
    assert await attachment_rows(db, tenant.workspace_id) == 2, "a fresh upload is kept"

    assert await purge_unattached(db, storage, utcnow() + timedelta(hours=25), ttl) >= 1
    assert (await tenant.agent.get(f"/v1/attachments/{abandoned['id']}")).status_code == 404
    with pytest.raises(FileNotFoundError):
        await storage.open(abandoned_key)
    response = await tenant.viewer.get(f"/v1/attachments/{kept['id']}")
    assert response.status_code == 200 and response.content == PDF
    assert any(path.name == kept_key for path in files_in(settings))


async def test_a_file_missing_from_storage_is_410(db: Database, tenant: Tenant, storage: Storage) -> None:
    [uploaded] = await upload(tenant.agent, (INVOICE_NAME, PDF, "application/pdf"))
    await storage.delete((await storage_keys(db, tenant.workspace_id))[UUID(uploaded["id"])])
    response = await tenant.agent.get(f"/v1/attachments/{uploaded['id']}")
    assert response.status_code == 410
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "file_missing"
