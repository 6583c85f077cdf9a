"""The agents' notifications: one per recipient per ticket change, written in the change's transaction.

Whatever produces them — the ticket pipeline's hook, or an automation's action — says who is concerned
and why; `notify` keeps, for each agent, the most specific reason (the order of `NotificationKind`),
leaves out whoever made the change, inactive agents, viewers and agents who may not see the ticket, and
writes each row with a `notification.created` event meant for that agent alone. An agent already
notified of the ticket in the transaction (by the hook, a trigger's assignment or a rule's `notify`) is
not notified again: the first notification of a change is the one kept.
"""

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.schemas import Page
from app.kit.texts import text
from app.kit.time import utcnow
from app.kit.transaction import remember, remembered
from app.models import Ticket
from app.models.enums import ActorType, NotificationKind
from app.notifications.repository import NotificationRepository
from app.notifications.schemas import NotificationActor, NotificationOut
from app.outbox import Actor, EventType, event_row, record

# Most specific first: the reason kept when a change concerns an agent in several ways.
_PRECEDENCE = {kind: rank for rank, kind in enumerate(NotificationKind)}
SUMMARY_LENGTH = 300
# What the transaction remembers of the feed notifications it wrote: (ticket id, agent id).
NOTIFIED = "notified_in_feed"


class NotificationService:
    def __init__(self, session: AsyncSession, workspace_id: UUID) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.repo = NotificationRepository(session, workspace_id)

    async def notify(
        self,
        actor: Actor,
        ticket: Ticket,
        reasons: Iterable[tuple[UUID, NotificationKind]],
        *,
        comment_id: UUID | None = None,
        also_not: Iterable[UUID] = (),
        summary: str | None = None,
    ) -> list[NotificationOut]:
        """One notification per agent for one change to `ticket` made by `actor`; `also_not`: agents
        who made the change besides the actor (the author of a note written through an API key);
        `summary`: the text to show, when a rule wrote it (else it is made for the kind, in the workspace's
        language)."""
        excluded = set(also_not)
        if actor.actor_type is ActorType.agent:
            excluded.add(actor.actor_id)
        kinds: dict[UUID, NotificationKind] = {}
        for agent_id, kind in reasons:
            if agent_id in excluded or remembered(self.session, NOTIFIED, (ticket.id, agent_id)):
                continue
            if agent_id not in kinds or _PRECEDENCE[kind] < _PRECEDENCE[kinds[agent_id]]:
                kinds[agent_id] = kind
        if not kinds:
            return []
        agents, locale = await self.repo.recipients(list(kinds))
        seeing = await self.repo.who_may_see(ticket.id, agents)
        recipients = [agent_id for agent_id in kinds if agent_id in seeing]
        if not recipients:
            return []
        now = utcnow()
        written = [
            NotificationOut(
                id=new_id(),
                kind=kinds[agent_id],
                ticket_id=ticket.id,
                comment_id=comment_id,
                actor=NotificationActor(type=actor.actor_type, id=actor.actor_id),
                summary=_summary(locale, kinds[agent_id], ticket) if summary is None else _shortened(summary),
                created_at=now,
                read_at=None,
            )
            for agent_id in recipients
        ]
        remember(self.session, NOTIFIED, [(ticket.id, agent_id) for agent_id in recipients])
        await self.repo.insert(
            [
                {
                    "id": item.id,
                    "agent_id": agent_id,
                    "kind": item.kind,
                    "ticket_id": item.ticket_id,
                    "comment_id": item.comment_id,
                    "actor_type": actor.actor_type,
                    "actor_id": actor.actor_id,
                    "summary": item.summary,
                    "created_at": now,
                    "read_at": None,
                }
                for agent_id, item in zip(recipients, written, strict=True)
            ]
        )
        # The event's subject is the recipient: the stream and the feed show it to that agent only.
        events = [
            event_row(
                actor,
                EventType.notification_created,
                agent_id,
                {"notification": item.model_dump(mode="json")},
            )
            for agent_id, item in zip(recipients, written, strict=True)
        ]
        await record(self.session, actor, events)
        return written

    async def page(self, agent_id: UUID, unread: bool | None, page: PageParams) -> Page[NotificationOut]:
        found, next_cursor = await self.repo.page(agent_id, unread, page)
        return Page(items=[NotificationOut.of(item) for item in found], next_cursor=next_cursor)

    async def unread_count(self, agent_id: UUID) -> int:
        return await self.repo.unread_count(agent_id)

    async def mark_read(self, agent_id: UUID, notification_id: UUID) -> NotificationOut:
        """Idempotent: a notification already read keeps the time it was first read."""
        await self.repo.mark_read(agent_id, utcnow(), notification_id)
        notification = await self.repo.get(notification_id)
        if notification is None or notification.agent_id != agent_id:
            raise NotFound("Notification")
        return NotificationOut.of(notification)

    async def mark_all_read(self, agent_id: UUID) -> int:
        return await self.repo.mark_read(agent_id, utcnow())


def _summary(locale: str, kind: NotificationKind, ticket: Ticket) -> str:
    written = text(locale, f"notification.{kind.value}", number=ticket.number, subject=ticket.subject)
    return _shortened(written)


def _shortened(written: str) -> str:
    return written if len(written) <= SUMMARY_LENGTH else written[: SUMMARY_LENGTH - 1] + "…"
