"""Field changes of a ticket, as recorded in its history."""

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from app.auth.principal import Principal
from app.kit.ids import new_id
from app.kit.time import utcnow
from app.models import Ticket


def to_json(value: Any) -> Any:
    """A history value as JSON: ids and times as strings, enums as their value."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def columns_of(ticket: Ticket) -> dict[str, Any]:
    return {column.name: getattr(ticket, column.name) for column in Ticket.__table__.c}


# Columns kept for the service's own use, never shown in a history.
UNRECORDED = frozenset({"search_text", "status_kind", "sla_due_at", "sla_breached"})


def history_rows(
    ticket_id: UUID, principal: Principal, changes: dict[str, tuple[Any, Any]]
) -> list[dict[str, Any]]:
    """One history row per changed field; the rows of one change share a change id and a time."""
    change_id = new_id()
    occurred_at = utcnow()
    return [
        {
            "id": new_id(),
            "ticket_id": ticket_id,
            "change_id": change_id,
            "occurred_at": occurred_at,
            "actor_type": principal.actor_type,
            "actor_id": principal.actor_id,
            "field": field,
            "old_value": to_json(old),
            "new_value": to_json(new),
        }
        for field, (old, new) in changes.items()
        if field not in UNRECORDED
    ]
