"""Field changes of a ticket, as recorded in its history."""

from typing import Any
from uuid import UUID

from app.auth.principal import Principal
from app.kit.ids import new_id
from app.kit.json_form import to_json
from app.kit.time import utcnow
from app.models import Ticket
from app.models.ticket import METRIC_COLUMNS


def columns_of(ticket: Ticket) -> dict[str, Any]:
    """The ticket's fields; what the database computes from them (folded tags) is none."""
    return {
        column.name: getattr(ticket, column.name) for column in Ticket.__table__.c if column.computed is None
    }


# Columns kept for the service's own use, never shown in a history.
UNRECORDED = frozenset(
    {
        "search_text",
        "status_kind",
        "sla_due_at",
        "sla_breached",
        "last_customer_reply_at",
        "last_agent_reply_at",
        "assigned_at",
        "automation_due_at",
        "automations_done",
        *METRIC_COLUMNS,
    }
)


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
