"""Where the bytes of attachments live, behind an interface narrow enough for an S3-compatible store."""

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio
from fastapi import Request

from app.config import Settings

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


def new_storage_key() -> str:
    """A random key: it says nothing of the file, and no client input ever reaches a path."""
    return secrets.token_hex(16)


class LocalStorage:
    """Files under `root`, spread over two levels of sub-folders so that no folder grows huge."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("not a storage key")
        return self.root / key[:2] / key[2:4] / key

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(_write_atomically, self._path(key), data)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        # Opened here rather than in the generator, so that a missing file fails before a response starts.
        file = await anyio.open_file(self._path(key), "rb")
        return _chunks(file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


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


def storage_for(settings: Settings) -> Storage:
    return LocalStorage(settings.data_dir / "attachments")


def get_storage(request: Request) -> Storage:
    """The app's storage, made on first use from its settings (the lifespan does not know of it)."""
    storage = getattr(request.app.state, "attachment_storage", None)
    if storage is None:
        storage = request.app.state.attachment_storage = storage_for(request.app.state.settings)
    return storage


async def storage_dependency(request: Request) -> Storage:
    """`get_storage` as a coroutine dependency, so that FastAPI does not hop to a thread for it."""
    return get_storage(request)
