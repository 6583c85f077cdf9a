"""The worker's side of data requests: exports built, erasures carried out a batch at a time, archives
deleted when their time runs out.

An erasure's batch runs in a transaction of its own that also records its progress on the request, so
that a worker that dies loses at most the batch in hand, and the next (once the lease ends) resumes
where the last commit left off. Stored files go after the commit that took their rows away: the keys
wait on the request (`files_to_delete`) until deleted, so a crash in between leaves none behind.
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.storage import Storage
from app.auth.principal import Principal
from app.config import PrivacySettings
from app.contacts.service import present as present_contacts
from app.db import Database
from app.models import Contact, ContactIdentity, DataRequest
from app.models.enums import DataRequestKind, DataRequestStatus, Role
from app.outbox import EventType, event_row, record
from app.privacy import repository
from app.privacy.erasure import ERASERS, Subject
from app.privacy.export import EXPORTERS, build_archive, collect
from app.privacy.redaction import Redactor
from app.privacy.service import present

# Requests whose leftover files one round deletes.
FILE_SWEEP = 100


async def carry_out_requests(
    db: Database, storage: Storage, settings: PrivacySettings, now: datetime, lease: timedelta
) -> int:
    """One round: leftover files deleted, expired archives deleted, then one batch of one request (an
    erasure's batch, or a whole export); how much was done (the worker goes on at once while some was)."""
    done = await delete_files(db, storage) + await expire_archives(db, storage, now, settings.batch_size)
    async with db.sessionmaker() as session, session.begin():
        claimed = await repository.claim_due(session, now, now + lease)
    if claimed is None:
        return done
    if claimed.kind is DataRequestKind.export:
        await _export(db, storage, claimed, settings, now)
    else:
        await _erase_batch(db, claimed, settings.batch_size, now)
    await delete_files(db, storage)
    return done + 1


async def _erase_batch(db: Database, claimed: DataRequest, batch: int, now: datetime) -> None:
    async with db.sessionmaker() as session, session.begin():
        request = await repository.locked(session, claimed.workspace_id, claimed.id)
        if request is None or request.status is not DataRequestStatus.running:
            return
        contact = await _contact(session, request)
        if contact is None:
            _close_without_contact(request, DataRequestStatus.completed, now)
            return
        eraser = ERASERS[request.steps_done]
        subject = await _subject(session, request, contact, now)
        done = await eraser.run(session, subject, request.step_cursor, batch)
        request.rows_processed += done.rows
        request.files_to_delete = [*request.files_to_delete, *done.files]
        if done.done:
            request.steps_done += 1
            request.step_cursor = None
        else:
            request.step_cursor = done.resume_after
        # Given back after each batch: the next is anyone's.
        request.leased_until = None
        if request.steps_done == len(ERASERS):
            await _complete(session, request, EventType.contact_erased, now)
        await session.flush()


def _close_without_contact(request: DataRequest, status: DataRequestStatus, now: datetime) -> None:
    """The contact was deleted, with what it held, before the request was carried out."""
    request.status = status
    request.completed_at = now
    request.leased_until = None


async def _subject(session: AsyncSession, request: DataRequest, contact: Contact, now: datetime) -> Subject:
    identities = (
        await session.execute(
            select(ContactIdentity).where(
                ContactIdentity.workspace_id == request.workspace_id,
                ContactIdentity.contact_id == request.contact_id,
            )
        )
    ).scalars()
    return Subject(request.workspace_id, request.contact_id, Redactor.of(contact, list(identities)), now)


async def _contact(session: AsyncSession, request: DataRequest) -> Contact | None:
    statement = select(Contact).where(
        Contact.workspace_id == request.workspace_id, Contact.id == request.contact_id
    )
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()


async def _export(
    db: Database, storage: Storage, claimed: DataRequest, settings: PrivacySettings, now: datetime
) -> None:
    """Read everything (a transaction that only reads), write the archive under a key of its own (the
    request's id: a retry overwrites it), then record it done."""
    async with db.sessionmaker() as session, session.begin():
        contact = await _contact(session, claimed)
        if contact is None:
            request = await repository.locked(session, claimed.workspace_id, claimed.id)
            if request is not None:
                _close_without_contact(request, DataRequestStatus.expired, now)
            return
        document, files, rows = await collect(session, contact)
    archive = await build_archive(storage, document, files, now)
    key = claimed.id.hex
    await storage.put(key, archive)
    async with db.sessionmaker() as session, session.begin():
        request = await repository.locked(session, claimed.workspace_id, claimed.id)
        if request is None or request.status is not DataRequestStatus.running:
            # Called off by an erasure meanwhile: the archive goes. Completed by another worker (that
            # took the request over when this one's lease ended): the same archive, kept.
            if request is not None and request.storage_key != key:
                request.files_to_delete = [*request.files_to_delete, key]
            return
        request.storage_key = key
        request.archive_size = len(archive)
        request.expires_at = now + timedelta(hours=settings.export_ttl_hours)
        request.steps_done = len(EXPORTERS)
        request.rows_processed = rows
        request.leased_until = None
        await _complete(session, request, EventType.contact_exported, now)
        await session.flush()


async def _complete(session: AsyncSession, request: DataRequest, event: EventType, now: datetime) -> None:
    request.status = DataRequestStatus.completed
    request.completed_at = now
    await session.flush()
    contact = await _contact(session, request)
    if contact is None:
        return
    [shown] = await present_contacts(session, request.workspace_id, [contact])
    requester = Principal(
        request.workspace_id, Role.admin, request.requested_by_type, request.requested_by_id
    )
    data = {
        "contact": shown.model_dump(mode="json"),
        "data_request": present(request).model_dump(mode="json"),
    }
    await record(session, requester, [event_row(requester, event, request.contact_id, data)])


async def expire_archives(db: Database, storage: Storage, now: datetime, batch: int) -> int:
    """Archives past their time: taken off their requests, then deleted from storage."""
    async with db.sessionmaker() as session, session.begin():
        expired = await repository.expired_archives(session, now, batch)
        for request in expired:
            request.files_to_delete = [*request.files_to_delete, request.storage_key]  # type: ignore[list-item]
            request.storage_key = None
            request.status = DataRequestStatus.expired
        await session.flush()
    if expired:
        await delete_files(db, storage)
    return len(expired)


async def delete_files(db: Database, storage: Storage) -> int:
    """Delete the stored files requests list as to delete, then take them off the lists (deleting an
    absent file is no error, so two workers doing it at once do no harm)."""
    async with db.sessionmaker() as session, session.begin():
        pending = await repository.with_files_to_delete(session, FILE_SWEEP)
    for workspace_id, request_id, keys in pending:
        for key in keys:
            await storage.delete(key)
        async with db.sessionmaker() as session, session.begin():
            await repository.forget_files(session, workspace_id, request_id, keys)
    return len(pending)
