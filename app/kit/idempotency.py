"""`Idempotency-Key` on POST: the same key and body replay the stored response.

The key is claimed in its own short transaction (so a concurrent duplicate sees it and gets 409);
the response is stored by the request's own transaction, so a committed change always has its
stored response, and a failed one releases the key for a retry.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app.auth.principal import Principal
from app.errors import Conflict, Unprocessable
from app.kit.deps import current_principal
from app.kit.time import utcnow
from app.models import IdempotencyKey

REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("content-type", "location", "etag")
# How long a request may hold a key before another attempt may take it over.
CLAIM_SECONDS = 60


@dataclass(frozen=True)
class Claim:
    workspace_id: object
    key: str


class IdempotentReplay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


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


async def claim_idempotency_key(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            description="Makes the POST safe to retry: the same key with the same body returns the "
            "first response (kept 24 h); with another body it is refused.",
        ),
    ] = None,
) -> None:
    if idempotency_key is None or request.method != "POST":
        return
    settings = request.app.state.settings
    request_hash = await _request_hash(request)
    now = utcnow()
    async with request.app.state.db.sessionmaker() as session, session.begin():
        claimed = await session.execute(
            insert(IdempotencyKey)
            .values(
                workspace_id=principal.workspace_id,
                key=idempotency_key,
                request_hash=request_hash,
                locked_until=now + timedelta(seconds=CLAIM_SECONDS),
                expires_at=now + timedelta(hours=settings.idempotency_ttl_hours),
            )
            .on_conflict_do_update(
                index_elements=[IdempotencyKey.workspace_id, IdempotencyKey.key],
                set_={
                    "request_hash": request_hash,
                    "locked_until": now + timedelta(seconds=CLAIM_SECONDS),
                    "response_status": None,
                    "response_headers": None,
                    "response_body": None,
                    "created_at": now,
                    "expires_at": now + timedelta(hours=settings.idempotency_ttl_hours),
                },
                # Take over only an expired key, or an abandoned claim for the same request.
                where=or_(
                    IdempotencyKey.expires_at < now,
                    (IdempotencyKey.response_status.is_(None))
                    & (IdempotencyKey.locked_until < now)
                    & (IdempotencyKey.request_hash == request_hash),
                ),
            )
            .returning(IdempotencyKey.key)
        )
        if claimed.scalar_one_or_none() is not None:
            request.state.idempotency_claim = Claim(principal.workspace_id, idempotency_key)
            return
        existing = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.workspace_id == principal.workspace_id, IdempotencyKey.key == idempotency_key
            )
        )
    if existing is None:  # released between the two statements; the client may simply retry
        raise Conflict(
            "The request with this Idempotency-Key is still in progress", code="idempotency_in_progress"
        )
    if existing.request_hash != request_hash:
        raise Unprocessable(
            "This Idempotency-Key was used with another request body",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    if existing.response_status is None:
        raise Conflict(
            "The request with this Idempotency-Key is still in progress", code="idempotency_in_progress"
        )
    headers = dict(existing.response_headers or {})
    headers[REPLAYED_HEADER] = "true"
    raise IdempotentReplay(
        Response(content=existing.response_body, status_code=existing.response_status, headers=headers)
    )


async def store_response(session: AsyncSession, claim: Claim, response: Response) -> None:
    headers = {name: response.headers[name] for name in STORED_HEADERS if name in response.headers}
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.workspace_id == claim.workspace_id, IdempotencyKey.key == claim.key)
        .values(
            response_status=response.status_code,
            response_headers=headers,
            response_body=bytes(response.body),
            locked_until=None,
        )
    )


async def release(request: Request, claim: Claim) -> None:
    """Forget a claim whose request failed: nothing was changed, so a retry may run it again."""
    async with request.app.state.db.sessionmaker() as session, session.begin():
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.workspace_id == claim.workspace_id,
                IdempotencyKey.key == claim.key,
                IdempotencyKey.response_status.is_(None),
            )
        )
