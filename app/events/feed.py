"""The events as consumers read them: the feed, page by page, and the live stream."""

from collections.abc import AsyncIterator, Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.db import Database
from app.errors import BadRequest
from app.events.notifier import EventNotifier
from app.events.repository import EventRepository
from app.events.schemas import EventOut, EventPage
from app.kit.pagination import decode_cursor, encode_cursor
from app.kit.schemas import BIGINT_MAX
from app.models import Event
from app.outbox import EventType

FEED_CURSOR = "feed"
STREAM_BATCH = 100


def present(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        type=event.type,
        occurred_at=event.occurred_at,
        workspace_id=event.workspace_id,
        actor={"type": event.actor_type, "id": event.actor_id},
        data=event.data,
    )


def check_types(types: Sequence[str]) -> None:
    unknown = [name for name in types if name not in EventType._value2member_map_]
    if unknown:
        raise BadRequest(f"types: unknown event type {unknown[0]!r}", field="types", code="invalid_filter")


def parse_position(cursor: str, field: str) -> tuple[int, UUID]:
    transaction_id, event_id = decode_cursor(cursor, FEED_CURSOR, 2)
    # A transaction id is a bigint: a larger one can only be forged.
    if (
        not isinstance(transaction_id, int)
        or not 0 <= transaction_id <= BIGINT_MAX
        or not isinstance(event_id, UUID)
    ):
        raise BadRequest("The cursor is not valid", field=field, code="invalid_cursor")
    return transaction_id, event_id


def cursor_of(event: Event) -> str:
    return encode_cursor(FEED_CURSOR, [event.transaction_id, event.id])


async def feed_page(
    session: AsyncSession, principal: Principal, after: str | None, types: Sequence[str], limit: int
) -> EventPage:
    check_types(types)
    position = parse_position(after, "after") if after is not None else None
    events = await EventRepository(session, principal.workspace_id).feed(principal, position, types, limit)
    if events:
        after = cursor_of(events[-1])
    return EventPage(items=[present(event) for event in events], next_cursor=after)


async def feed_end(session: AsyncSession, principal: Principal) -> tuple[int, UUID] | None:
    """Where the workspace's feed ends now (None while it has no event): a live stream starts there."""
    return await EventRepository(session, principal.workspace_id).last_position()


async def stream(
    db: Database,
    notifier: EventNotifier,
    principal: Principal,
    position: tuple[int, UUID] | None,
    types: Sequence[str],
    subject_id: UUID | None,
    poll_seconds: float,
) -> AsyncIterator[tuple[str, Event]]:
    """(cursor, event) as events commit, after `position` (from the first when None) until the client
    leaves or the process stops.

    Each read is a short transaction of its own: a stream holds no connection while it waits.
    """
    while not notifier.ending:
        async with db.sessionmaker() as session:
            events = await EventRepository(session, principal.workspace_id).feed(
                principal, position, types, STREAM_BATCH, subject_id
            )
        for event in events:
            position = (event.transaction_id, event.id)
            yield cursor_of(event), event
        if len(events) < STREAM_BATCH:
            await notifier.wait(poll_seconds)
