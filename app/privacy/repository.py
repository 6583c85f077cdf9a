"""Every query on data requests: scoped ones for the API, and the worker's claims across workspaces."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import Select, String, bindparam, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.models import DataRequest
from app.models.enums import DataRequestKind, DataRequestStatus

NEWEST = Keyset(
    "-created_at",
    [SortColumn(DataRequest.created_at, descending=True), SortColumn(DataRequest.id, descending=True)],
)
_UNDONE = (DataRequestStatus.pending, DataRequestStatus.running)


class DataRequestRepository(ScopedRepository[DataRequest]):
    model = DataRequest
    resource = "Data request"

    async def of_contact(self, contact_id: UUID, request_id: UUID) -> DataRequest | None:
        statement = self.select().where(DataRequest.contact_id == contact_id, DataRequest.id == request_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def erasure_of(self, contact_id: UUID) -> DataRequest | None:
        statement = self.select().where(
            DataRequest.contact_id == contact_id, DataRequest.kind == DataRequestKind.erase
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    def listed(self, contact_id: UUID) -> Select[tuple[DataRequest]]:
        return self.select().where(DataRequest.contact_id == contact_id)


async def claim_due(session: AsyncSession, now: datetime, lease_until: datetime) -> DataRequest | None:
    """A request not done yet that no worker holds, now held by this one until `lease_until`."""
    due = (
        select(DataRequest.workspace_id, DataRequest.id)
        .where(
            DataRequest.status.in_(_UNDONE),
            (DataRequest.leased_until.is_(None)) | (DataRequest.leased_until < now),
        )
        .order_by(DataRequest.leased_until.nulls_first())
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(DataRequest)
        .where(tuple_(DataRequest.workspace_id, DataRequest.id).in_(due))
        .values(
            status=DataRequestStatus.running,
            leased_until=lease_until,
            started_at=func.coalesce(DataRequest.started_at, now),
        )
        .returning(DataRequest)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def locked(session: AsyncSession, workspace_id: UUID, request_id: UUID) -> DataRequest | None:
    statement = (
        select(DataRequest)
        .where(DataRequest.workspace_id == workspace_id, DataRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def with_files_to_delete(session: AsyncSession, limit: int) -> list[tuple[UUID, UUID, list[str]]]:
    statement = (
        select(DataRequest.workspace_id, DataRequest.id, DataRequest.files_to_delete)
        .where(DataRequest.files_to_delete != [])
        .limit(limit)
    )
    return [tuple(row) for row in await session.execute(statement)]  # type: ignore[misc]


_FORGET_FILES = text(
    """
    UPDATE data_requests
    SET files_to_delete = ARRAY(SELECT key FROM unnest(files_to_delete) AS key WHERE NOT key = ANY(:keys))
    WHERE workspace_id = :workspace_id AND id = :id
    """
).bindparams(bindparam("keys", type_=ARRAY(String)))


async def forget_files(session: AsyncSession, workspace_id: UUID, request_id: UUID, keys: list[str]) -> None:
    """Take `keys` (deleted from storage) off the request's list; keys added meanwhile stay."""
    await session.execute(_FORGET_FILES, {"workspace_id": workspace_id, "id": request_id, "keys": keys})


async def expired_archives(session: AsyncSession, now: datetime, limit: int) -> list[DataRequest]:
    statement = (
        select(DataRequest)
        .where(DataRequest.storage_key.is_not(None), DataRequest.expires_at < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(statement)).scalars())
