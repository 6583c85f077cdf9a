"""Business calendars and SLA policies: what admins set up, checked before it is stored."""

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars.compiled import calendar_of
from app.errors import Unprocessable
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.time import utcnow
from app.models import BusinessCalendar, SlaPolicy, Ticket, TicketSla
from app.models.enums import SlaState
from app.rules.references import check_condition_references
from app.sla import clock
from app.sla.clock import TimeBase
from app.sla.repository import (
    CALENDARS_BY_NAME,
    POLICIES_BY_POSITION,
    CalendarRepository,
    PolicyRepository,
    clocks_of,
)
from app.sla.schemas import (
    CalendarCreate,
    CalendarUpdate,
    SlaPolicyCreate,
    SlaPolicyUpdate,
    SlaTarget,
    check_targets,
)
from app.sla.service import SlaService, summary

# Calendars


async def get_calendar(
    session: AsyncSession, workspace_id: UUID, calendar_id: UUID, *, for_update: bool = False
) -> BusinessCalendar:
    return await CalendarRepository(session, workspace_id).get_or_404(calendar_id, for_update=for_update)


async def list_calendars(
    session: AsyncSession, workspace_id: UUID, page: PageParams, *, q: str | None = None
) -> tuple[list[BusinessCalendar], str | None]:
    repo = CalendarRepository(session, workspace_id)
    return await repo.paginate(repo.filtered(q=q), CALENDARS_BY_NAME, page)


async def create_calendar(
    session: AsyncSession, workspace_id: UUID, data: CalendarCreate
) -> BusinessCalendar:
    calendar = BusinessCalendar(id=new_id(), **data.model_dump(mode="json"))
    return await CalendarRepository(session, workspace_id).add(calendar)


async def update_calendar(
    session: AsyncSession, workspace_id: UUID, calendar: BusinessCalendar, data: CalendarUpdate
) -> BusinessCalendar:
    """New hours or holidays move the due times of the clocks running in this calendar right now."""
    before = calendar_of(calendar)
    sent = data.model_dump(mode="json")
    values = {name: sent[name] for name in data.model_fields_set}
    updated = await CalendarRepository(session, workspace_id).update(calendar, values)
    after = calendar_of(updated)
    if after != before:
        await _reschedule(session, workspace_id, calendar.id, TimeBase(before), TimeBase(after))
    return updated


async def delete_calendar(session: AsyncSession, workspace_id: UUID, calendar: BusinessCalendar) -> None:
    """Refused (409) while a policy or a ticket's clock counts in it."""
    await CalendarRepository(session, workspace_id).delete(calendar)


async def _reschedule(
    session: AsyncSession, workspace_id: UUID, calendar_id: UUID, old: TimeBase, new: TimeBase
) -> None:
    running = (
        select(TicketSla.ticket_id)
        .where(
            TicketSla.workspace_id == workspace_id,
            TicketSla.calendar_id == calendar_id,
            TicketSla.business_hours,
            TicketSla.state == SlaState.running,
        )
        .distinct()
    )
    ticket_ids = list((await session.execute(running)).scalars())
    if not ticket_ids:
        return
    # Tickets before clocks, in one order, as every ticket change takes them.
    locked = (
        select(Ticket)
        .where(Ticket.workspace_id == workspace_id, Ticket.id.in_(ticket_ids))
        .order_by(Ticket.id)
        .with_for_update()
    )
    tickets = {ticket.id: ticket for ticket in (await session.execute(locked)).scalars()}
    keys = [(workspace_id, ticket_id) for ticket_id in tickets]
    clocks: dict[UUID, list[TicketSla]] = {}
    for found in (await session.execute(clocks_of(keys).with_for_update())).scalars():
        clocks.setdefault(found.ticket_id, []).append(found)
    sla = SlaService(session, workspace_id)
    now = utcnow()
    for ticket_id, ticket_clocks in clocks.items():
        for metric_clock in ticket_clocks:
            if metric_clock.calendar_id == calendar_id and metric_clock.business_hours:
                warning = await sla.warning(metric_clock.policy_id)
                clock.retarget(metric_clock, old, new, warning, now)
        ticket = tickets[ticket_id]
        columns = summary(ticket_clocks)
        if any(getattr(ticket, name) != value for name, value in columns.items()):
            for name, value in columns.items():
                setattr(ticket, name, value)
            ticket.version += 1
    await session.flush()


# Policies


async def get_policy(
    session: AsyncSession, workspace_id: UUID, policy_id: UUID, *, for_update: bool = False
) -> SlaPolicy:
    return await PolicyRepository(session, workspace_id).get_or_404(policy_id, for_update=for_update)


async def list_policies(
    session: AsyncSession, workspace_id: UUID, page: PageParams, *, active: bool | None = None
) -> tuple[list[SlaPolicy], str | None]:
    repo = PolicyRepository(session, workspace_id)
    return await repo.paginate(repo.filtered(active=active), POLICIES_BY_POSITION, page)


async def create_policy(session: AsyncSession, workspace_id: UUID, data: SlaPolicyCreate) -> SlaPolicy:
    values = data.model_dump(mode="json")
    await _check_references(session, workspace_id, values)
    policy = SlaPolicy(id=new_id(), **{**values, "calendar_id": data.calendar_id})
    return await PolicyRepository(session, workspace_id).add(policy)


async def update_policy(
    session: AsyncSession, workspace_id: UUID, policy: SlaPolicy, data: SlaPolicyUpdate
) -> SlaPolicy:
    """Tickets keep the targets they were given until a field the policies look at changes."""
    sent = data.model_dump(mode="json")
    values = {name: sent[name] for name in data.model_fields_set}
    if "calendar_id" in values:
        values["calendar_id"] = data.calendar_id
    merged = {name: values.get(name, getattr(policy, name)) for name in ("targets", "calendar_id")}
    try:
        check_targets([SlaTarget.model_validate(t) for t in merged["targets"]], merged["calendar_id"])
    except ValueError as exc:
        raise Unprocessable(str(exc), field="targets") from None
    # One lead replaces the other.
    sent_percent = values.get("warn_at_percent") is not None
    sent_minutes = values.get("warn_minutes_before") is not None
    if sent_percent and sent_minutes:
        raise Unprocessable(
            "give either warn_at_percent or warn_minutes_before, not both", field="warn_at_percent"
        )
    if sent_percent:
        values["warn_minutes_before"] = None
    if sent_minutes:
        values["warn_at_percent"] = None
    await _check_references(session, workspace_id, {**values, "calendar_id": merged["calendar_id"]})
    return await PolicyRepository(session, workspace_id).update(policy, values)


async def delete_policy(session: AsyncSession, workspace_id: UUID, policy: SlaPolicy) -> None:
    """Refused (409) once tickets have had it: deactivate it instead."""
    await PolicyRepository(session, workspace_id).delete(policy)


async def _check_references(session: AsyncSession, workspace_id: UUID, values: dict[str, Any]) -> None:
    calendar_id = values.get("calendar_id")
    if calendar_id is not None and not await CalendarRepository(session, workspace_id).exists(calendar_id):
        raise Unprocessable("calendar_id: no such calendar", field="calendar_id", code="unknown_reference")
    if values.get("conditions"):
        await check_condition_references(session, workspace_id, values["conditions"])
