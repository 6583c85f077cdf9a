"""A customer's rights over their data: requests for a copy of it (export) and for its erasure.

A request is recorded at once and carried out by a worker (app/privacy/tasks.py); its progress shows on
the request. An erasure is asked once per contact: asking again answers the first request.
"""

from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.contacts.service import get_contact
from app.errors import Conflict, Gone, NotFound
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.models import DataRequest
from app.models.enums import DataRequestKind, DataRequestStatus
from app.privacy.erasure import ERASERS
from app.privacy.export import EXPORTERS
from app.privacy.repository import NEWEST, DataRequestRepository
from app.privacy.schemas import DataRequestOut, DataRequestProgress, RequestedBy


def steps_of(kind: DataRequestKind) -> list[str]:
    return [step.name for step in (ERASERS if kind is DataRequestKind.erase else EXPORTERS)]


def present(request: DataRequest) -> DataRequestOut:
    steps = steps_of(request.kind)
    under_way = request.status is DataRequestStatus.running and request.steps_done < len(steps)
    return DataRequestOut(
        id=request.id,
        contact_id=request.contact_id,
        kind=request.kind,
        status=request.status,
        progress=DataRequestProgress(
            steps_total=len(steps),
            steps_done=request.steps_done,
            current_step=steps[request.steps_done] if under_way else None,
            rows_processed=request.rows_processed,
        ),
        requested_by=RequestedBy(type=request.requested_by_type, id=request.requested_by_id),
        archive_size=request.archive_size,
        expires_at=request.expires_at,
        created_at=request.created_at,
        started_at=request.started_at,
        completed_at=request.completed_at,
    )


async def request_export(session: AsyncSession, principal: Principal, contact_id: UUID) -> DataRequest:
    await get_contact(session, principal.workspace_id, contact_id)
    return await DataRequestRepository(session, principal.workspace_id).add(
        _new(principal, contact_id, DataRequestKind.export)
    )


async def request_erasure(
    session: AsyncSession, principal: Principal, contact_id: UUID
) -> tuple[DataRequest, bool]:
    """The contact's erasure, and whether this call asked for it (False: it had been asked before)."""
    await get_contact(session, principal.workspace_id, contact_id, for_update=True)
    repo = DataRequestRepository(session, principal.workspace_id)
    request = _new(principal, contact_id, DataRequestKind.erase)
    values = {column.key: getattr(request, column.key) for column in DataRequest.__table__.columns}
    inserted = await session.execute(
        insert(DataRequest)
        .values({key: value for key, value in values.items() if value is not None})
        .on_conflict_do_nothing(
            index_elements=[DataRequest.workspace_id, DataRequest.contact_id],
            # A literal, not a parameter: PostgreSQL cannot infer the partial index from a parameter once
            # it plans the statement generically.
            index_where=text(f"kind = '{DataRequestKind.erase.value}'"),
        )
        .returning(DataRequest.id)
    )
    created = inserted.scalar_one_or_none() is not None
    found = await repo.erasure_of(contact_id)
    if found is None:
        raise NotFound("Data request")
    return found, created


def _new(principal: Principal, contact_id: UUID, kind: DataRequestKind) -> DataRequest:
    return DataRequest(
        id=new_id(),
        workspace_id=principal.workspace_id,
        contact_id=contact_id,
        kind=kind,
        requested_by_type=principal.actor_type,
        requested_by_id=principal.actor_id,
    )


async def get_request(
    session: AsyncSession, workspace_id: UUID, contact_id: UUID, request_id: UUID
) -> DataRequest:
    found = await DataRequestRepository(session, workspace_id).of_contact(contact_id, request_id)
    if found is None:
        raise NotFound("Data request")
    return found


async def list_requests(
    session: AsyncSession, workspace_id: UUID, contact_id: UUID, page: PageParams
) -> tuple[list[DataRequestOut], str | None]:
    await get_contact(session, workspace_id, contact_id)
    repo = DataRequestRepository(session, workspace_id)
    requests, next_cursor = await repo.paginate(repo.listed(contact_id), NEWEST, page)
    return [present(request) for request in requests], next_cursor


def downloadable(request: DataRequest, now: datetime) -> str:
    """The storage key of the export's archive, while it may be downloaded."""
    if request.kind is not DataRequestKind.export:
        raise NotFound("Archive")
    if request.status in (DataRequestStatus.pending, DataRequestStatus.running):
        raise Conflict("The export is not ready yet: its progress shows how far it is", code="not_ready")
    if request.storage_key is None or request.expires_at is None or request.expires_at <= now:
        raise Gone("The export's archive has expired: ask for another export", code="archive_expired")
    return request.storage_key
