"""`Idempotency-Key` on POST: the same credential, key and body replay the stored response.

A key belongs to the credential that sent it (an API key or an agent): another credential reusing it
starts a key space of its own, and never learns whether the key was used. The request holds its key
with an advisory lock of its own transaction, on the one connection it uses: a concurrent duplicate
is refused at once (409), and the lock ends with the request — committed, rolled back, or dropped
with the connection of a process that died. The response is stored by that same transaction, so a
committed change always has its response and a failed one leaves the key free for a retry.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import Header, Request, Response
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app.auth.principal import Principal
from app.errors import Conflict, Unprocessable
from app.kit.schemas import storable
from app.kit.time import utcnow
from app.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("content-type", "location", "etag")
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Claim:
    workspace_id: UUID
    credential_id: UUID
    key: str
    request_hash: bytes


class IdempotentReplay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=MAX_KEY_LENGTH,
            description="Makes the POST safe to retry: the same key with the same body, from the same "
            "credential, returns the first response (kept 24 h); with another body it is refused (422); "
            "while the first request is still running, 409.",
        ),
    ] = None,
) -> None:
    """Declares the header in the OpenAPI document; the route class honours it (`claim`)."""


async def _request_hash(request: Request) -> bytes:
    """The method, path and body; a multipart body (already parsed) by its fields and files."""
    digest = hashlib.sha256(request.method.encode() + b" " + request.url.path.encode() + b"\n")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        digest.update(await request.body())
        return digest.digest()
    for name, value in (await request.form()).multi_items():
        digest.update(name.encode() + b"\0")
        if isinstance(value, UploadFile):
            digest.update((value.filename or "").encode() + b"\0")
            while chunk := await value.read(1 << 20):
                digest.update(chunk)
            await value.seek(0)
        else:
            digest.update(value.encode())
        digest.update(b"\0")
    return digest.digest()


def _lock_name(workspace_id: UUID, credential_id: UUID, key: str) -> str:
    return f"idempotency:{workspace_id}:{credential_id}:{key}"


async def claim(request: Request, session: AsyncSession, principal: Principal, key: str) -> Claim:
    """Hold `key` for this request, or answer as its first request did (IdempotentReplay)."""
    if not key or len(key) > MAX_KEY_LENGTH or not storable(key):
        raise Unprocessable(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters long, without NUL characters",
            field=HEADER,
            code="invalid_header",
        )
    request_hash = await _request_hash(request)
    lock = func.hashtextextended(_lock_name(principal.workspace_id, principal.actor_id, key), 0)
    # Its own statement: the lookup that follows must see a first request that committed meanwhile.
    if not await session.scalar(select(func.pg_try_advisory_xact_lock(lock))):
        raise Conflict(
            f"The request with this {HEADER} is still in progress",
            code="idempotency_in_progress",
            headers={"Retry-After": "1"},
        )
    stored = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.workspace_id == principal.workspace_id,
            IdempotencyKey.credential_id == principal.actor_id,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at > func.now(),
        )
    )
    if stored is None:
        return Claim(principal.workspace_id, principal.actor_id, key, request_hash)
    if stored.request_hash != request_hash:
        raise Unprocessable(
            f"This {HEADER} was used with another request", field=HEADER, code="idempotency_key_reused"
        )
    headers = {**stored.response_headers, REPLAYED_HEADER: "true"}
    raise IdempotentReplay(
        Response(content=stored.response_body, status_code=stored.response_status, headers=headers)
    )


async def store_response(session: AsyncSession, claim: Claim, response: Response, ttl_hours: int) -> None:
    """Keep the response for replays, in the transaction of the change it reports."""
    now = utcnow()
    values = {
        "request_hash": claim.request_hash,
        "response_status": response.status_code,
        "response_headers": {
            name: value for name, value in response.headers.items() if name in STORED_HEADERS
        },
        "response_body": bytes(response.body),
        "created_at": now,
        "expires_at": now + timedelta(hours=ttl_hours),
    }
    # An expired key is taken over; a live one cannot exist, since the claim found none under its lock.
    await session.execute(
        insert(IdempotencyKey)
        .values(workspace_id=claim.workspace_id, credential_id=claim.credential_id, key=claim.key, **values)
        .on_conflict_do_update(index_elements=[*IdempotencyKey.__table__.primary_key], set_=values)
    )
