"""Attachments on S3-compatible storage: moto's S3 server, started here on 127.0.0.1, holds the bucket,
and an app configured for it uploads, downloads (streamed or by a signed redirect), purges and sends."""

import asyncio
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

import httpx
import pytest
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from fastapi import FastAPI
from pydantic import ValidationError

from app.attachments.storage import READ_CHUNK_BYTES, S3Storage, storage_for
from app.attachments.tasks import purge_unattached
from app.config import AttachmentSettings, S3Settings, Settings
from app.kit.time import utcnow
from tests import test_email_channel
from tests.conftest import Tenant, create_tenant, running_app
from tests.factories import create_ticket
from tests.processes import HELPDESK, ApiProcess, free_port, service_env
from tests.test_attachments import INVOICE_NAME, PDF, add_comment, attach, storage_keys, upload
from tests.test_email_channel import Outbox
from tests.test_reply_attachments import INVOICE, SCREENSHOT, delivery_of, emailed_ticket, reply_with_files

MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))
# moto takes any credentials; these stand for the ones a deployment would set.
ACCESS_KEY_ID = "AKIAHELPDESKTEST"
SECRET_ACCESS_KEY = "khoa-bi-mat-cua-kho-tep"
PREFIX = "helpdesk/tep-dinh-kem/"
INVOICE_DISPOSITION = "attachment; filename*=UTF-8''H%C3%B3a%20%C4%91%C6%A1n%20th%C3%A1ng%2011.pdf"

# The SMTP server standing in for the business's mail server.
outbox = test_email_channel.outbox


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """moto's S3 server, as its own process on a free port of 127.0.0.1, stopped after the module."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - moto's own command, installed with the dev dependencies
        [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(server, url)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_serving(server: subprocess.Popen[bytes], url: str, within_seconds: float = 30) -> None:
    with httpx.Client(base_url=url) as client:
        for _ in range(int(within_seconds * 10)):
            if server.poll() is not None:
                raise AssertionError(f"moto_server exited with {server.returncode}")
            try:
                client.get("/moto-api/")
                return
            except httpx.TransportError:
                time.sleep(0.1)
    raise AssertionError(f"moto_server at {url} did not start")


def s3_settings_for(url: str, bucket: str, **changes: Any) -> S3Settings:
    return S3Settings(
        bucket=bucket,
        endpoint_url=url,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        prefix=PREFIX,
        force_path_style=True,
        **changes,
    )


@dataclass
class Bucket:
    """The bucket, with a client of its own made as an operator would make one, to see what the app did."""

    name: str
    client: Any

    async def object_bytes(self, key: str) -> bytes:
        answer = await self.client.get_object(Bucket=self.name, Key=PREFIX + key)
        async with answer["Body"] as body:
            return await body.read()

    async def has(self, key: str) -> bool:
        try:
            await self.client.head_object(Bucket=self.name, Key=PREFIX + key)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "404", error
            return False
        return True

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.name, Key=PREFIX + key)


@pytest.fixture(scope="module")
async def bucket(s3_url: str) -> AsyncIterator[Bucket]:
    name = f"helpdesk-{secrets.token_hex(4)}"
    async with get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=s3_url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ) as client:
        await client.create_bucket(Bucket=name)
        yield Bucket(name, client)


@pytest.fixture(scope="module")
def s3_settings(settings: Settings, s3_url: str, bucket: Bucket) -> Settings:
    return settings.model_copy(
        update={
            "attachment": AttachmentSettings(storage="s3"),
            "s3": s3_settings_for(s3_url, bucket.name),
        }
    )


@pytest.fixture(scope="module")
async def s3_app(database_url: str, s3_settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(s3_settings, database_url) as application:
        yield application


@pytest.fixture(scope="module")
async def presigning_app(database_url: str, s3_settings: Settings) -> AsyncIterator[FastAPI]:
    presigning = s3_settings.s3.model_copy(update={"presigned_downloads": True, "presign_seconds": 120})
    async with running_app(s3_settings.model_copy(update={"s3": presigning}), database_url) as application:
        yield application


@pytest.fixture
async def s3_tenant(s3_app: FastAPI) -> Tenant:
    return await create_tenant(s3_app)


def assert_served_like_the_invoice(response: httpx.Response) -> None:
    """The headers a download of the invoice has with local storage (tests/test_attachments.py)."""
    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == INVOICE_DISPOSITION
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(PDF))


async def test_uploads_and_a_comments_files_are_objects_in_the_bucket_and_download_as_from_disk(
    s3_app: FastAPI, s3_tenant: Tenant, s3_settings: Settings, bucket: Bucket
) -> None:
    [uploaded] = await upload(s3_tenant.agent, (INVOICE_NAME, PDF, "text/html"))
    key = (await storage_keys(s3_app.state.db, s3_tenant.workspace_id))[UUID(uploaded["id"])]
    assert await bucket.object_bytes(key) == PDF
    assert not (s3_settings.data_dir / "attachments" / key[:2] / key[2:4] / key).exists()

    ticket = await create_ticket(s3_tenant.agent)
    comment_id = await add_comment(s3_app.state.db, s3_tenant.workspace_id, ticket["id"])
    await attach(s3_app, s3_tenant.agent, [uploaded["token"]], ticket["id"], comment_id)
    assert_served_like_the_invoice(await s3_tenant.viewer.get(f"/v1/attachments/{uploaded['id']}"))

    reply = await reply_with_files(s3_tenant.agent, ticket["id"], INVOICE, SCREENSHOT)
    keys = await storage_keys(s3_app.state.db, s3_tenant.workspace_id)
    for attachment, (_, data, _) in zip(reply["attachments"], (INVOICE, SCREENSHOT), strict=True):
        assert await bucket.object_bytes(keys[UUID(attachment["id"])]) == data
        response = await s3_tenant.viewer.get(f"/v1/attachments/{attachment['id']}")
        assert response.status_code == 200 and response.content == data
        assert response.headers["content-type"] == attachment["content_type"]


async def test_a_large_file_is_read_in_chunks_not_whole(
    s3_app: FastAPI, s3_tenant: Tenant, s3_settings: Settings
) -> None:
    large = secrets.token_bytes(3 * READ_CHUNK_BYTES + 12_345)
    [uploaded] = await upload(s3_tenant.agent, ("bien-ban-hop.bin", large, "application/octet-stream"))
    key = (await storage_keys(s3_app.state.db, s3_tenant.workspace_id))[UUID(uploaded["id"])]

    chunks = [chunk async for chunk in await storage_for(s3_settings).open(key)]
    assert b"".join(chunks) == large
    assert len(chunks) > 1 and max(map(len, chunks)) <= READ_CHUNK_BYTES

    response = await s3_tenant.agent.get(f"/v1/attachments/{uploaded['id']}")
    assert response.status_code == 200 and response.content == large


async def test_presigned_downloads_redirect_to_the_bucket_with_the_apis_headers(
    presigning_app: FastAPI, s3_url: str
) -> None:
    tenant = await create_tenant(presigning_app)
    [uploaded] = await upload(tenant.agent, (INVOICE_NAME, PDF, "application/pdf"))
    ticket = await create_ticket(tenant.agent)
    comment_id = await add_comment(presigning_app.state.db, tenant.workspace_id, ticket["id"])
    await attach(presigning_app, tenant.agent, [uploaded["token"]], ticket["id"], comment_id)

    redirect = await tenant.viewer.get(f"/v1/attachments/{uploaded['id']}")
    assert redirect.status_code == 307
    assert redirect.headers["cache-control"] == "no-store"
    location = redirect.headers["location"]
    assert location.startswith(f"{s3_url}/") and "X-Amz-Signature=" in location
    assert "X-Amz-Expires=120" in location
    assert SECRET_ACCESS_KEY not in location

    # As a browser would: the redirect followed, the API's credential not sent to the storage.
    async with httpx.AsyncClient() as browser:
        fetched = await browser.get(location)
    assert fetched.status_code == 200 and fetched.content == PDF
    assert fetched.headers["content-type"] == "application/pdf"
    assert fetched.headers["content-disposition"] == INVOICE_DISPOSITION

    # Authorised like a streamed download before anything is signed.
    other = await create_tenant(presigning_app, "Cửa hàng Bình Minh")
    assert (await other.admin.get(f"/v1/attachments/{uploaded['id']}")).status_code == 404


async def test_the_purge_deletes_never_attached_uploads_from_the_bucket(
    s3_app: FastAPI, s3_tenant: Tenant, s3_settings: Settings, bucket: Bucket
) -> None:
    kept, abandoned = await upload(
        s3_tenant.agent, (INVOICE_NAME, PDF, "application/pdf"), ("nhap.txt", b"ban nhap", "text/plain")
    )
    ticket = await create_ticket(s3_tenant.agent)
    comment_id = await add_comment(s3_app.state.db, s3_tenant.workspace_id, ticket["id"])
    await attach(s3_app, s3_tenant.agent, [kept["token"]], ticket["id"], comment_id)
    keys = await storage_keys(s3_app.state.db, s3_tenant.workspace_id)
    kept_key, abandoned_key = keys[UUID(kept["id"])], keys[UUID(abandoned["id"])]

    storage = storage_for(s3_settings)
    ttl = timedelta(hours=24)
    await purge_unattached(s3_app.state.db, storage, utcnow(), ttl)
    assert await bucket.has(abandoned_key), "a fresh upload is kept"

    assert await purge_unattached(s3_app.state.db, storage, utcnow() + timedelta(hours=25), ttl) >= 1
    assert not await bucket.has(abandoned_key)
    assert await bucket.has(kept_key)
    assert (await s3_tenant.agent.get(f"/v1/attachments/{abandoned['id']}")).status_code == 404
    # Deleting what is already gone is no error.
    await storage.delete(abandoned_key)


@pytest.mark.parametrize("presigned", [False, True])
async def test_an_object_missing_from_the_bucket_is_410(
    s3_app: FastAPI, presigning_app: FastAPI, bucket: Bucket, presigned: bool
) -> None:
    app = presigning_app if presigned else s3_app
    tenant = await create_tenant(app)
    [uploaded] = await upload(tenant.agent, (INVOICE_NAME, PDF, "application/pdf"))
    key = (await storage_keys(app.state.db, tenant.workspace_id))[UUID(uploaded["id"])]
    await bucket.delete(key)

    response = await tenant.agent.get(f"/v1/attachments/{uploaded['id']}")
    assert response.status_code == 410
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "file_missing"
    with pytest.raises(FileNotFoundError):
        await storage_for(app.state.settings).open(key)


async def test_failures_other_than_a_missing_object_are_os_errors_and_keys_stay_keys(
    s3_url: str, s3_settings: Settings
) -> None:
    nowhere = S3Storage(s3_settings_for(s3_url, "khong-co-thung-nay"))
    key = secrets.token_hex(16)
    try:
        for attempt in (nowhere.put(key, PDF), nowhere.open(key), nowhere.delete(key)):
            with pytest.raises(OSError) as failed:
                await attempt
            assert not isinstance(failed.value, FileNotFoundError)
            assert "NoSuchBucket" in str(failed.value)
            assert SECRET_ACCESS_KEY not in str(failed.value)
    finally:
        await nowhere.aclose()

    storage = storage_for(s3_settings)
    for not_a_key in ("../../etc/passwd", "a/b", "", key.upper()):
        with pytest.raises(ValueError, match="not a storage key"):
            await storage.put(not_a_key, PDF)


async def test_an_emailed_reply_carries_its_files_read_from_the_bucket(
    s3_app: FastAPI, s3_tenant: Tenant, s3_settings: Settings, outbox: Outbox, bucket: Bucket
) -> None:
    agent, ticket_id = await emailed_ticket(s3_app, s3_settings, s3_tenant, outbox, "thu-s3-01")
    reply = await reply_with_files(agent, ticket_id, INVOICE, SCREENSHOT)
    await test_email_channel.send_replies(s3_app, s3_settings)

    [sent] = outbox.received
    parts = list(sent.iter_attachments())
    assert [part.get_filename() for part in parts] == [INVOICE[0], SCREENSHOT[0]]
    assert [part.get_payload(decode=True) for part in parts] == [INVOICE[1], SCREENSHOT[1]]
    assert (await delivery_of(agent, reply["id"]))["state"] == "sent"


def serve_logging_to(log: BinaryIO, database_url: str, **settings: str) -> ApiProcess:
    """`helpdesk serve` as `start_api` starts it, its log written to `log`."""
    port = free_port()
    command = [HELPDESK, "serve", "--host", "127.0.0.1", "--port", str(port)]
    environment = service_env(database_url, HELPDESK_WORKER_IN_API="false", **settings)
    return ApiProcess(
        subprocess.Popen(command, env=environment, stderr=log),  # noqa: S603 - our own command
        f"http://127.0.0.1:{port}",
    )


async def test_helpdesk_serve_configured_by_the_environment_keeps_attachments_in_the_bucket(
    database_url: str, s3_url: str, bucket: Bucket, s3_app: FastAPI, s3_tenant: Tenant, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        api = serve_logging_to(
            output,
            database_url,
            HELPDESK_ATTACHMENT_STORAGE="s3",
            HELPDESK_S3_BUCKET=bucket.name,
            HELPDESK_S3_ENDPOINT_URL=s3_url,
            HELPDESK_S3_ACCESS_KEY_ID=ACCESS_KEY_ID,
            HELPDESK_S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            HELPDESK_S3_PREFIX=PREFIX,
            HELPDESK_S3_FORCE_PATH_STYLE="true",
            HELPDESK_LOG_LEVEL="debug",
        )
        try:
            await api.ready()
            headers = {"Authorization": f"Bearer {s3_tenant.admin_key}"}
            async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
                [uploaded] = await upload(client, (INVOICE_NAME, PDF, "application/pdf"))
                assert_served_like_the_invoice(await client.get(f"/v1/attachments/{uploaded['id']}"))
        finally:
            exit_code = await asyncio.to_thread(api.stop)
    key = (await storage_keys(s3_app.state.db, s3_tenant.workspace_id))[UUID(uploaded["id"])]
    assert await bucket.object_bytes(key) == PDF
    assert exit_code == 128 + signal.SIGTERM, "stopped by its SIGTERM, not crashed"
    logged = log.read_text(errors="replace")
    assert "Application shutdown complete" in logged and "Traceback" not in logged, logged[-3000:]
    assert SECRET_ACCESS_KEY not in logged


def test_s3_storage_needs_a_bucket_and_keys_in_pairs() -> None:
    with pytest.raises(ValidationError, match="HELPDESK_S3_BUCKET"):
        Settings(attachment=AttachmentSettings(storage="s3"))
    with pytest.raises(ValidationError, match="go together"):
        S3Settings(bucket="tep-dinh-kem", access_key_id=ACCESS_KEY_ID)
    with pytest.raises(ValidationError, match="not an http"):
        S3Settings(bucket="tep-dinh-kem", endpoint_url="minio:9000")
    assert Settings().attachment.storage == "local", "local disk stays the default"
