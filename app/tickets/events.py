"""The events a ticket change writes: the ticket as the API shows it, and what changed."""

from typing import Any

from app.auth.principal import Principal
from app.outbox import EventType, changes_between, event_row
from app.tickets.schemas import TicketMetricsOut, TicketOut

# Fields whose change also has an event of its own, for consumers that want only those.
_SPECIFIC_EVENTS = {
    "status_id": EventType.ticket_status_changed,
    "assignee_id": EventType.ticket_assigned,
    "group_id": EventType.ticket_assigned,
}


def ticket_json(ticket: Any) -> dict[str, Any]:
    return TicketOut.model_validate(ticket).model_dump(
        mode="json", exclude={"children_summary", "sla", "reply_channel"}
    )


def metrics_json(ticket: Any) -> dict[str, Any]:
    """The ticket's metrics as they stand after the change (the events where they move carry them)."""
    return TicketMetricsOut.of(ticket).model_dump(mode="json")


def created_event(principal: Principal, ticket: dict[str, Any]) -> dict[str, Any]:
    return event_row(principal, EventType.ticket_created, ticket["id"], {"ticket": ticket})


def change_events(
    principal: Principal, before: dict[str, Any], after: dict[str, Any], *, kind: EventType, ticket: Any
) -> list[dict[str, Any]]:
    """`kind` (updated, deleted, restored) with the changes, and the specific events they imply; a
    status change carries the ticket's `metrics` (resolution, waits and reopens move with it)."""
    changes = changes_between(before, after)
    subject_id = after["id"]
    rows = [event_row(principal, kind, subject_id, {"ticket": after, "changes": changes})]
    for event_type in dict.fromkeys(_SPECIFIC_EVENTS[name] for name in changes if name in _SPECIFIC_EVENTS):
        specific = {
            name: change for name, change in changes.items() if _SPECIFIC_EVENTS.get(name) is event_type
        }
        if event_type is EventType.ticket_status_changed:
            # Consumers read the kind's move; a move between statuses of one kind keeps it, old = new.
            specific["status_kind"] = changes.get(
                "status_kind", {"old": after["status_kind"], "new": after["status_kind"]}
            )
        data = {"ticket": after, "changes": specific}
        if event_type is EventType.ticket_status_changed:
            data["metrics"] = metrics_json(ticket)
        rows.append(event_row(principal, event_type, subject_id, data))
    return rows
