from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import BigInteger, Select, Text, and_, func, or_, select, tuple_

from app.auth.principal import Principal
from app.kit.repository import ScopedRepository
from app.models import Event, Ticket
from app.models.enums import Role
from app.outbox import EventType
from app.tickets.repository import TicketRepository

# Transactions older than this are over: whatever they wrote is visible now or never will be.
_OLDEST_RUNNING_TRANSACTION = func.pg_snapshot_xmin(func.pg_current_snapshot()).cast(Text).cast(BigInteger)


class EventRepository(ScopedRepository[Event]):
    model = Event
    resource = "Event"

    def readable(self, principal: Principal) -> Select[tuple[Event]]:
        """The events the caller may read: endpoint events are for admins, an agent's notifications
        for that agent alone, internal notes for those who read notes, and a restricted agent reads the
        events of the tickets they may see (as those are now)."""
        statement = self.select().where(
            or_(Event.type.not_like("notification.%"), Event.subject_id == principal.agent_id)
            if principal.agent_id is not None
            else Event.type.not_like("notification.%")
        )
        if not principal.can(Role.admin):
            statement = statement.where(Event.type.not_like("webhook.%"))
        if not principal.sees_internal_notes:
            internal_note = and_(
                Event.type == EventType.ticket_comment_added,
                Event.data["comment"]["public"].as_boolean().is_(False),
            )
            statement = statement.where(~internal_note)
        if principal.restricted:
            visible = (
                TicketRepository(self.session, self.workspace_id)
                .visible(principal)
                .with_only_columns(Ticket.id)
            )
            statement = statement.where(or_(Event.type.not_like("ticket.%"), Event.subject_id.in_(visible)))
        return statement

    async def feed(
        self,
        principal: Principal,
        after: tuple[int, UUID] | None,
        types: Sequence[str],
        limit: int,
        subject_id: UUID | None = None,
    ) -> list[Event]:
        """Events in commit-safe order: by writing transaction, then id, held back while older
        transactions run, so that a page boundary is never passed by an event committed later."""
        statement = self.readable(principal).where(Event.transaction_id < _OLDEST_RUNNING_TRANSACTION)
        if subject_id is not None:
            statement = statement.where(Event.subject_id == subject_id)
        if after is not None:
            statement = statement.where(tuple_(Event.transaction_id, Event.id) > tuple_(*after))
        if types:
            statement = statement.where(Event.type.in_(types))
        statement = statement.order_by(Event.transaction_id, Event.id).limit(limit)
        return list((await self.session.execute(statement)).scalars())

    async def last_position(self) -> tuple[int, UUID] | None:
        """Where the feed ends now: a live stream starts there."""
        statement = (
            select(Event.transaction_id, Event.id)
            .where(
                Event.workspace_id == self.workspace_id, Event.transaction_id < _OLDEST_RUNNING_TRANSACTION
            )
            .order_by(Event.transaction_id.desc(), Event.id.desc())
            .limit(1)
        )
        row = (await self.session.execute(statement)).first()
        return None if row is None else (row[0], row[1])
