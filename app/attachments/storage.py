"""Where the bytes of attachments live: files on a local disk (the default), or objects in an S3 bucket
(on AWS or an S3-compatible server), behind one narrow interface."""

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import anyio
from aiobotocore.config import AioConfig
from aiobotocore.response import AioStreamingBody
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import Request

from app.config import S3Settings, Settings

READ_CHUNK_BYTES = 256 * 1024
_KEY = re.compile(r"^[0-9a-f]{32}$")


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; raises FileNotFoundError (before any chunk) when it is absent."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; an absent one is not an error."""
        ...

    async def download_url(self, key: str, content_type: str, disposition: str) -> str | None:
        """A short-lived URL a client may fetch the object from itself, sent with these headers; None when
        downloads go through the API. Raises FileNotFoundError when the object is absent."""
        ...


def new_storage_key() -> str:
    """A random key: it says nothing of the file, and no client input ever reaches a path."""
    return secrets.token_hex(16)


class LocalStorage:
    """Files under `root`, spread over two levels of sub-folders so that no folder grows huge."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key[2:4] / key

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(_write_atomically, self._path(key), data)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        # Opened here rather than in the generator, so that a missing file fails before a response starts.
        file = await anyio.open_file(self._path(key), "rb")
        return _chunks(file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def download_url(self, key: str, content_type: str, disposition: str) -> None:
        return None


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError("not a storage key")
    return key


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader never sees half a file: the bytes go to a temporary name, then are renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{secrets.token_hex(4)}.partial")
    try:
        with partial.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


async def _chunks(file: anyio.AsyncFile[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await file.read(READ_CHUNK_BYTES):
            yield chunk
    finally:
        await file.aclose()


class S3Storage:
    """Objects named `prefix + key` in a bucket of S3 or of an S3-compatible server (MinIO, Ceph, ...).

    The client is opened on first use, in the process's event loop, and kept: its connections are
    reused by every request and job of the process, until `close_storages` closes it.
    """

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._opened: AsyncExitStack | None = None
        self._opening = asyncio.Lock()

    async def put(self, key: str, data: bytes) -> None:
        s3 = await self._s3()
        with _s3_failures(f"storing {key}"):
            await s3.put_object(Bucket=self.settings.bucket, Key=self._name(key), Body=data)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        s3 = await self._s3()
        with _s3_failures(f"reading {key}"):
            answer = await s3.get_object(Bucket=self.settings.bucket, Key=self._name(key))
        return _object_chunks(answer["Body"], key)

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        with _s3_failures(f"deleting {key}"):
            await s3.delete_object(Bucket=self.settings.bucket, Key=self._name(key))

    async def download_url(self, key: str, content_type: str, disposition: str) -> str | None:
        if not self.settings.presigned_downloads:
            return None
        s3 = await self._s3()
        name = self._name(key)
        # Signing needs no call to the server; asking whether the object is there does, and spares the
        # client a redirect to a 404 of the storage's own.
        with _s3_failures(f"looking up {key}"):
            await s3.head_object(Bucket=self.settings.bucket, Key=name)
        return await s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.settings.bucket,
                "Key": name,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=self.settings.presign_seconds,
        )

    async def aclose(self) -> None:
        """Close the client; a later call opens another."""
        async with self._opening:
            opened, self._opened, self._client = self._opened, None, None
            if opened is not None:
                await opened.aclose()

    def _name(self, key: str) -> str:
        return self.settings.prefix + _checked(key)

    async def _s3(self) -> Any:
        async with self._opening:
            if self._client is None:
                opened = AsyncExitStack()
                self._client = await opened.enter_async_context(self._new_client())
                self._opened = opened
            return self._client

    def _new_client(self) -> Any:
        settings = self.settings
        secret = settings.secret_access_key.get_secret_value()
        config = AioConfig(
            connect_timeout=settings.timeout_seconds,
            read_timeout=settings.timeout_seconds,
            # Throttling, 5xx answers and dropped connections are tried again, with backoff.
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=settings.max_connections,
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.force_path_style else "auto"},
            # Checksums only where S3 requires them: many S3-compatible servers refuse the newer ones.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return get_session().create_client(
            "s3",
            region_name=settings.region,
            endpoint_url=settings.endpoint_url or None,
            aws_access_key_id=settings.access_key_id or None,
            aws_secret_access_key=secret or None,
            config=config,
        )


# What S3 answers for an object that is not there (`404` to a HEAD, which has no body to name it).
_MISSING_OBJECT_CODES = {"NoSuchKey", "NotFound", "404"}


@contextmanager
def _s3_failures(doing: str) -> Iterator[None]:
    """An absent object as FileNotFoundError, every other failure as OSError, as a disk would fail."""
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING_OBJECT_CODES:
            raise FileNotFoundError(f"no object for {doing}") from None
        raise OSError(f"S3 failed {doing}: {error}") from error
    except (BotoCoreError, aiohttp.ClientError) as error:
        raise OSError(f"S3 failed {doing}: {error}") from error


async def _object_chunks(body: AioStreamingBody, key: str) -> AsyncIterator[bytes]:
    try:
        with _s3_failures(f"reading {key}"):
            async for chunk in body.iter_chunks(READ_CHUNK_BYTES):
                yield chunk
    finally:
        # Before the end (a client that went away), this drops the connection rather than reading on.
        body.close()


_s3_storages: dict[S3Settings, S3Storage] = {}


def storage_for(settings: Settings) -> Storage:
    """The storage the settings name; for S3, the same one (and client) every time in a process."""
    if settings.attachment.storage == "local":
        return LocalStorage(settings.data_dir / "attachments")
    storage = _s3_storages.get(settings.s3)
    if storage is None:
        storage = _s3_storages[settings.s3] = S3Storage(settings.s3)
    return storage


async def close_storages() -> None:
    """Close the clients the process opened to storage servers: when it stops."""
    for storage in _s3_storages.values():
        await storage.aclose()


def get_storage(request: Request) -> Storage:
    """The app's storage, made on first use from its settings (the lifespan does not know of it)."""
    storage = getattr(request.app.state, "attachment_storage", None)
    if storage is None:
        storage = request.app.state.attachment_storage = storage_for(request.app.state.settings)
    return storage


async def storage_dependency(request: Request) -> Storage:
    """`get_storage` as a coroutine dependency, so that FastAPI does not hop to a thread for it."""
    return get_storage(request)
