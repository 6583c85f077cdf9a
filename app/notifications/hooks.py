"""Notifications in the ticket change pipeline: the agents a change concerns hear of it, once each.

- assigned: the new assignee (not one who assigned the ticket to themselves);
- mentioned: the agents an internal note names (`@external-id`, or the part of their email before
  the `@`), who also become followers of the ticket in the note's change; a caller's note that
  mentions an agent who may not see the ticket is refused (422) and nothing of it is written;
- customer_replied: a customer's public reply, to the assignee and the followers;
- sla_warning / sla_breached: to the assignee, or to the group's members while nobody is assigned;
- category_opened / category_closed: a ticket opened in, or closed in, a watched category (watchers
  of a category watch its sub-categories too).
"""

from typing import Any
from uuid import UUID

from app.errors import Unprocessable
from app.kit.mentions import mentioned_handles
from app.kit.transaction import transaction_info
from app.models import Comment, Ticket
from app.models.enums import ActorType, CommentAuthor, NotificationKind, SlaMetric, StatusKind
from app.notifications.repository import NotificationRepository
from app.notifications.service import NotificationService
from app.outbox import EventType
from app.rules.snapshot import rules_of
from app.tickets.pipeline import Changes, TicketHook
from app.tickets.service import TicketService

_NOTIFYING = frozenset(
    {
        EventType.ticket_created,
        EventType.ticket_updated,
        EventType.ticket_comment_added,
        EventType.ticket_sla_warning,
        EventType.ticket_sla_breached,
    }
)
_SLA_KINDS = {
    EventType.ticket_sla_warning: NotificationKind.sla_warning,
    EventType.ticket_sla_breached: NotificationKind.sla_breached,
}
_MENTIONED = "mentioned_agents"
# Whose notes are refused for a mention of someone who may not see the ticket: the callers of the API.
# A trigger's note is never refused: its mentions of such agents stay plain text.
_REFUSED_FOR = (ActorType.agent, ActorType.api_key)


class NotificationHook(TicketHook):
    async def comment_changes(
        self, service: TicketService, ticket: Ticket, comment: Comment
    ) -> dict[str, Any]:
        if comment.public:
            return {}
        mentioned = await _mentioned(
            service, ticket, comment, refuse=service.principal.actor_type in _REFUSED_FOR
        )
        added = [agent_id for agent_id in mentioned if agent_id not in ticket.followers]
        return {"followers": [*ticket.followers, *added]} if added else {}

    async def listens(self, service: TicketService, event: EventType) -> bool:
        return event in _NOTIFYING

    async def after(
        self,
        service: TicketService,
        event: EventType,
        ticket: Ticket,
        changes: Changes,
        *,
        comment: Comment | None = None,
        sla_metric: SlaMetric | None = None,
    ) -> Ticket:
        if event not in _NOTIFYING:
            return ticket
        repo = NotificationRepository(service.session, service.workspace_id)
        reasons: list[tuple[UUID, NotificationKind]] = []
        if "assignee_id" in changes:
            old, new = changes["assignee_id"]
            if new is not None and new != old:
                reasons.append((new, NotificationKind.assigned))
        opened_or_closed = {EventType.ticket_created: NotificationKind.category_opened}.get(event)
        if opened_or_closed is None and _closed(changes):
            opened_or_closed = NotificationKind.category_closed
        if ticket.category_id is not None and opened_or_closed is not None:
            path = (await rules_of(service.session, service.workspace_id)).category_path(ticket.category_id)
            reasons += [(agent_id, opened_or_closed) for agent_id in await repo.category_watchers(path)]
        if event in _SLA_KINDS:
            kind = _SLA_KINDS[event]
            if ticket.assignee_id is not None:
                reasons.append((ticket.assignee_id, kind))
            elif ticket.group_id is not None:
                reasons += [(agent_id, kind) for agent_id in await repo.group_members(ticket.group_id)]
        authors: list[UUID] = []
        if comment is not None:
            if comment.author_type is CommentAuthor.agent and comment.author_id is not None:
                authors.append(comment.author_id)
            if comment.public and comment.author_type is CommentAuthor.contact:
                concerned = [*filter(None, [ticket.assignee_id]), *ticket.followers]
                reasons += [(agent_id, NotificationKind.customer_replied) for agent_id in concerned]
            elif not comment.public:
                mentioned = await _mentioned(service, ticket, comment, refuse=False)
                reasons += [(agent_id, NotificationKind.mentioned) for agent_id in mentioned]
        if reasons:
            await NotificationService(service.session, service.workspace_id).notify(
                service.principal,
                ticket,
                reasons,
                comment_id=comment.id if comment is not None else None,
                also_not=authors,
            )
        return ticket


async def _mentioned(service: TicketService, ticket: Ticket, comment: Comment, *, refuse: bool) -> list[UUID]:
    """The agents the note mentions who may see the ticket; with `refuse`, one who may not is a 422.
    Worked out once per note: as it is written (its mentions follow the ticket), and kept for `after`."""
    handles = mentioned_handles(comment.body)
    if not handles:
        return []
    known: dict[UUID, list[UUID]] = transaction_info(service.session).setdefault(_MENTIONED, {})
    if comment.id in known:
        return known[comment.id]
    repo = NotificationRepository(service.session, service.workspace_id)
    agents = await repo.agents_by_handles(handles)
    seeing = await repo.who_may_see(ticket.id, list(agents.values()))
    mentioned: list[UUID] = []
    for handle, agent in agents.items():
        if agent.id in seeing:
            mentioned.append(agent.id)
        elif refuse:
            raise Unprocessable(
                f"body: @{handle} may not see this ticket",
                field="body",
                code="mention_not_visible",
                extra={"handle": handle},
            )
    known[comment.id] = list(dict.fromkeys(mentioned))
    return known[comment.id]


def _closed(changes: Changes) -> bool:
    old, new = changes.get("status_kind", (None, None))
    return new is StatusKind.closed and old is not StatusKind.closed
