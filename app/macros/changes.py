"""Macro actions as the ticket change they make."""

from collections.abc import Sequence
from typing import Any

from app.macros.schemas import (
    AddFollowerAction,
    AddTagsAction,
    MacroAction,
    RemoveTagsAction,
    SetAssigneeAction,
    SetGroupAction,
    SetPriorityAction,
    SetStatusAction,
    SetTypeAction,
)
from app.tickets.schemas import TicketUpdate


def ticket_update(actions: Sequence[MacroAction]) -> TicketUpdate:
    """The one ticket change that the actions make together."""
    values: dict[str, Any] = {}
    for action in actions:
        if isinstance(action, SetStatusAction):
            if action.status_id is not None:
                values["status_id"] = action.status_id
            else:
                values["status_kind"] = action.status_kind
        elif isinstance(action, SetPriorityAction):
            values["priority"] = action.priority
        elif isinstance(action, SetTypeAction):
            values["type"] = action.ticket_type
        elif isinstance(action, SetGroupAction):
            values["group_id"] = action.group_id
        elif isinstance(action, SetAssigneeAction):
            values["assignee_id"] = action.assignee_id
        elif isinstance(action, AddTagsAction):
            values.setdefault("add_tags", []).extend(action.tags)
        elif isinstance(action, RemoveTagsAction):
            values.setdefault("remove_tags", []).extend(action.tags)
        elif isinstance(action, AddFollowerAction):
            values.setdefault("add_followers", []).append(action.agent_id)
    return TicketUpdate(**values)
