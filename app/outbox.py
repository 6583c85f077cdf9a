"""The outbox: the event catalogue and the writing of events, always in the transaction of the change.

The bottom of the domains: every domain that changes something writes here, so this module imports
nothing of app but the kit and the models.
"""

import enum
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.ids import new_id
from app.kit.time import utcnow
from app.kit.wakeups import EVENTS_CHANNEL, wake_after_commit
from app.models import Event
from app.models.enums import ActorType

# Built once: every change writes events, and building a statement costs more than running it.
_INSERT = insert(Event.__table__)


class EventType(enum.StrEnum):
    ticket_created = "ticket.created"
    ticket_updated = "ticket.updated"
    ticket_status_changed = "ticket.status_changed"
    ticket_assigned = "ticket.assigned"
    ticket_deleted = "ticket.deleted"
    ticket_restored = "ticket.restored"
    ticket_comment_added = "ticket.comment_added"
    ticket_comment_delivery_failed = "ticket.comment_delivery_failed"
    ticket_merged = "ticket.merged"
    ticket_sla_warning = "ticket.sla_warning"
    ticket_sla_breached = "ticket.sla_breached"
    ticket_rated = "ticket.rated"
    agent_availability_changed = "agent.availability_changed"
    contact_created = "contact.created"
    contact_updated = "contact.updated"
    contact_exported = "contact.exported"
    contact_erased = "contact.erased"
    workspace_retention_applied = "workspace.retention_applied"
    webhook_test = "webhook.test"
    webhook_disabled = "webhook.disabled"
    # Meant for one agent (the event's subject): only that agent's feed and stream show it.
    notification_created = "notification.created"


class Actor(Protocol):
    """Who made a change, in which workspace: a caller's Principal, or the service acting on its own."""

    @property
    def workspace_id(self) -> UUID: ...

    @property
    def actor_type(self) -> ActorType: ...

    @property
    def actor_id(self) -> UUID: ...


def event_row(actor: Actor, type: EventType, subject_id: UUID, data: dict[str, Any]) -> dict[str, Any]:
    """An event ready to insert; `data` must already be JSON (ids and times as strings)."""
    return {
        "id": new_id(),
        "type": type.value,
        "occurred_at": utcnow(),
        "actor_type": actor.actor_type,
        "actor_id": actor.actor_id,
        "subject_id": subject_id,
        "data": data,
    }


# Bookkeeping that moves with every change and says nothing of its own.
_UNREPORTED = frozenset({"updated_at", "version"})


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields of a resource's API form that differ, old and new."""
    return {
        name: {"old": before.get(name), "new": value}
        for name, value in after.items()
        if name not in _UNREPORTED and before.get(name) != value
    }


async def record(session: AsyncSession, actor: Actor, rows: Sequence[dict[str, Any]]) -> None:
    """Write `rows` (from event_row) in the session's transaction, in the actor's workspace."""
    await record_in(session, actor.workspace_id, rows)


async def record_in(session: AsyncSession, workspace_id: UUID, rows: Sequence[dict[str, Any]]) -> None:
    """Write `rows` (from event_row, by any actors) in the session's transaction, in the workspace."""
    if rows:
        await session.execute(_INSERT, [{**row, "workspace_id": workspace_id} for row in rows])
        wake_after_commit(session, EVENTS_CHANNEL)
