from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, Unprocessable
from app.kit.ids import new_id
from app.models import TicketStatus
from app.models.enums import StatusKind
from app.statuses.repository import StatusRepository
from app.statuses.schemas import StatusCreate, StatusUpdate

# While the ticket waits on the customer or on a third party, the business is not the one late.
PAUSING_KINDS = (StatusKind.pending, StatusKind.on_hold)

DEFAULT_STATUSES = [
    ("New", StatusKind.new, "#2196f3"),
    ("Open", StatusKind.open, "#f44336"),
    ("Pending", StatusKind.pending, "#ff9800"),
    ("On hold", StatusKind.on_hold, "#9c27b0"),
    ("Solved", StatusKind.solved, "#4caf50"),
    ("Closed", StatusKind.closed, "#607d8b"),
]


async def create_default_statuses(session: AsyncSession, workspace_id: UUID) -> None:
    repo = StatusRepository(session, workspace_id)
    for position, (name, kind, color) in enumerate(DEFAULT_STATUSES):
        await repo.add(
            TicketStatus(
                id=new_id(),
                name=name,
                kind=kind,
                color=color,
                position=position * 10,
                pauses_sla=kind in PAUSING_KINDS,
                is_default=True,
            )
        )


async def get_status(
    session: AsyncSession, workspace_id: UUID, status_id: UUID, *, for_update: bool = False
) -> TicketStatus:
    return await StatusRepository(session, workspace_id).get_or_404(status_id, for_update=for_update)


async def create_status(session: AsyncSession, workspace_id: UUID, data: StatusCreate) -> TicketStatus:
    repo = StatusRepository(session, workspace_id)
    if data.is_default:
        await repo.clear_default(data.kind)
    values = data.model_dump()
    if values["pauses_sla"] is None:
        values["pauses_sla"] = data.kind in PAUSING_KINDS
    return await repo.add(TicketStatus(id=new_id(), **values))


async def update_status(
    session: AsyncSession, workspace_id: UUID, status: TicketStatus, data: StatusUpdate
) -> TicketStatus:
    repo = StatusRepository(session, workspace_id)
    values = data.changes()
    if values.get("is_default") is False and status.is_default:
        raise Unprocessable(
            "Every kind keeps one default status: make another status of this kind the default instead",
            field="is_default",
        )
    if values.get("active") is False and (status.is_default or values.get("is_default")):
        raise Unprocessable("The default status of a kind cannot be deactivated", field="active")
    if values.get("is_default") and not status.is_default:
        await repo.clear_default(status.kind)
        await session.refresh(status)
    return await repo.update(status, values)


async def delete_status(session: AsyncSession, workspace_id: UUID, status: TicketStatus) -> None:
    if status.is_default:
        raise Conflict("The default status of a kind cannot be deleted", code="status_is_default")
    await StatusRepository(session, workspace_id).delete(status)
