from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.kit.pagination import Keyset, PageParams, SortColumn
from app.kit.repository import ScopedRepository
from app.models import (
    Agent,
    CategoryWatcher,
    GroupMember,
    MessagingChannel,
    Notification,
    NotificationEmail,
    Ticket,
    Workspace,
)
from app.models.enums import ActorType, ChannelKind, Locale, NotificationEmailState, Role, TicketAccess
from app.tickets.repository import TicketRepository

# Built once: a change that notifies runs them, and building a statement costs more than running it.
_INSERT = insert(Notification.__table__)
_RECIPIENTS = select(
    Agent.id,
    Agent.role,
    Agent.ticket_access,
    select(Workspace.locale).where(Workspace.id == bindparam("scope_workspace_id")).scalar_subquery(),
).where(
    Agent.workspace_id == bindparam("scope_workspace_id"),
    Agent.id.in_(bindparam("agent_ids", expanding=True)),
    Agent.active,
    Agent.role != Role.viewer,
)


@dataclass(frozen=True)
class Reader:
    """What says whether an agent may see a ticket."""

    id: UUID
    role: Role
    ticket_access: TicketAccess


NEWEST_FIRST = Keyset(
    "newest",
    [SortColumn(Notification.created_at, descending=True), SortColumn(Notification.id, descending=True)],
)


class NotificationRepository(ScopedRepository[Notification]):
    model = Notification
    resource = "Notification"

    def of_agent(self, agent_id: UUID, *, unread: bool | None = None) -> Select[tuple[Notification]]:
        statement = self.select().where(Notification.agent_id == agent_id)
        if unread is not None:
            statement = statement.where(
                Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None)
            )
        return statement

    async def page(
        self, agent_id: UUID, unread: bool | None, page: PageParams
    ) -> tuple[list[Notification], str | None]:
        return await self.paginate(self.of_agent(agent_id, unread=unread), NEWEST_FIRST, page)

    async def unread_count(self, agent_id: UUID) -> int:
        statement = self.of_agent(agent_id, unread=True).with_only_columns(func.count())
        return int(await self.session.scalar(statement) or 0)

    async def mark_read(self, agent_id: UUID, at: datetime, notification_id: UUID | None = None) -> int:
        """Mark the agent's unread notifications (or the one) read; how many were unread."""
        statement = update(Notification).where(
            Notification.workspace_id == self.workspace_id,
            Notification.agent_id == agent_id,
            Notification.read_at.is_(None),
        )
        if notification_id is not None:
            statement = statement.where(Notification.id == notification_id)
        result = await self.session.execute(statement.values(read_at=at))
        return result.rowcount

    async def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Notifications as plain rows: a change writes them in one statement, without the ORM."""
        await self.session.execute(_INSERT, [{**row, "workspace_id": self.workspace_id} for row in rows])

    async def recipients(self, agent_ids: Sequence[UUID]) -> tuple[list[Reader], Locale]:
        """The active agents among `agent_ids` who work tickets (viewers are never notified), and the
        workspace's language, in one query."""
        parameters = {"scope_workspace_id": self.workspace_id, "agent_ids": list(agent_ids)}
        rows = (await self.session.execute(_RECIPIENTS, parameters)).all()
        readers = [Reader(row.id, row.role, row.ticket_access) for row in rows]
        return readers, rows[0][3] if rows else Locale.vi

    async def agents_by_handles(self, handles: Sequence[str]) -> dict[str, Agent]:
        """The active agents (not viewers) the handles name: an agent's `external_id`, or the part of
        their email before the `@` when no external id is that handle and it names one agent only.
        Case does not matter."""
        if not handles:
            return {}
        local_part = func.lower(func.split_part(Agent.email, "@", 1))
        statement = select(Agent).where(
            Agent.workspace_id == self.workspace_id,
            Agent.active,
            Agent.role != Role.viewer,
            or_(func.lower(Agent.external_id).in_(handles), local_part.in_(handles)),
        )
        by_external_id: dict[str, Agent] = {}
        by_email: dict[str, list[Agent]] = {}
        for agent in (await self.session.execute(statement)).scalars():
            by_external_id[agent.external_id.lower()] = agent
            if agent.email:
                by_email.setdefault(agent.email.split("@", 1)[0].lower(), []).append(agent)
        found: dict[str, Agent] = {}
        for handle in handles:
            if handle in by_external_id:
                found[handle] = by_external_id[handle]
            elif len(by_email.get(handle, [])) == 1:
                found[handle] = by_email[handle][0]
        return found

    async def who_may_see(self, ticket_id: UUID, agents: Sequence[Agent | Reader]) -> set[UUID]:
        """The ids of the agents who may see the ticket: all but the restricted agents without access."""
        seeing = {agent.id for agent in agents if agent.ticket_access is not TicketAccess.restricted}
        tickets = TicketRepository(self.session, self.workspace_id)
        for agent in agents:
            if agent.ticket_access is TicketAccess.restricted:
                principal = Principal(
                    self.workspace_id, agent.role, ActorType.agent, agent.id, agent_id=agent.id,
                    ticket_access=agent.ticket_access,
                )  # fmt: skip
                if await tickets.get_visible(principal, ticket_id) is not None:
                    seeing.add(agent.id)
        return seeing

    async def category_watchers(self, category_path: Sequence[UUID]) -> list[UUID]:
        """The watchers of the categories of a path (a category and those above it)."""
        statement = (
            select(CategoryWatcher.agent_id)
            .where(
                CategoryWatcher.workspace_id == self.workspace_id,
                CategoryWatcher.category_id.in_(category_path),
            )
            .distinct()
        )
        return list((await self.session.execute(statement)).scalars())

    async def group_members(self, group_id: UUID) -> list[UUID]:
        statement = select(GroupMember.agent_id).where(
            GroupMember.workspace_id == self.workspace_id, GroupMember.group_id == group_id
        )
        return list((await self.session.execute(statement)).scalars())

    async def addresses(self, agent_ids: Sequence[UUID]) -> dict[UUID, tuple[str, str]]:
        """The email address and name of those of the agents who have an address."""
        if not agent_ids:
            return {}
        statement = select(Agent.id, Agent.email, Agent.name).where(
            Agent.workspace_id == self.workspace_id, Agent.id.in_(agent_ids), Agent.email.is_not(None)
        )
        return {row.id: (row.email, row.name) for row in await self.session.execute(statement)}

    async def notification_channel(self) -> MessagingChannel | None:
        """The workspace's notification channel, while it is an active email channel with an SMTP server."""
        statement = select(MessagingChannel).where(
            MessagingChannel.workspace_id == self.workspace_id,
            MessagingChannel.id
            == select(Workspace.notification_channel_id)
            .where(Workspace.id == self.workspace_id)
            .scalar_subquery(),
            MessagingChannel.kind == ChannelKind.email,
            MessagingChannel.active,
        )
        channel = (await self.session.execute(statement)).scalar_one_or_none()
        return channel if channel is not None and channel.settings.get("smtp_host") else None


class NotificationEmailRepository(ScopedRepository[NotificationEmail]):
    model = NotificationEmail
    resource = "Notification email"

    async def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(
            insert(NotificationEmail), [{**row, "workspace_id": self.workspace_id} for row in rows]
        )


async def claim_emails(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[NotificationEmail]:
    """Due emails no other worker holds, marked as being sent by this one (the sending happens after
    commit); with their channels loaded."""
    due = (
        select(NotificationEmail.workspace_id, NotificationEmail.id)
        .where(NotificationEmail.state == NotificationEmailState.queued)
        .where(NotificationEmail.next_attempt_at <= now)
        .order_by(NotificationEmail.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(NotificationEmail)
        .where(NotificationEmail.workspace_id == due.c.workspace_id, NotificationEmail.id == due.c.id)
        .values(
            state=NotificationEmailState.sending,
            leased_until=lease_until,
            attempts=NotificationEmail.attempts + 1,
        )
        .returning(NotificationEmail)
    )
    return list((await session.execute(statement)).scalars())


async def channels_of(
    session: AsyncSession, emails: Sequence[NotificationEmail]
) -> dict[UUID, MessagingChannel]:
    if not emails:
        return {}
    statement = select(MessagingChannel).where(
        tuple_(MessagingChannel.workspace_id, MessagingChannel.id).in_(
            {(email.workspace_id, email.channel_id) for email in emails}
        )
    )
    return {channel.id: channel for channel in (await session.execute(statement)).scalars()}


async def tickets_of(session: AsyncSession, keys: Sequence[tuple[UUID, UUID]]) -> list[Ticket]:
    """The tickets by (workspace id, ticket id)."""
    if not keys:
        return []
    statement = select(Ticket).where(tuple_(Ticket.workspace_id, Ticket.id).in_(set(keys)))
    return list((await session.execute(statement)).scalars())


async def get_email(session: AsyncSession, workspace_id: UUID, email_id: UUID) -> NotificationEmail | None:
    """The email, locked for writing its outcome."""
    return await NotificationEmailRepository(session, workspace_id).get(email_id, for_update=True)


async def fail_abandoned_emails(session: AsyncSession, now: datetime) -> list[NotificationEmail]:
    """Emails a worker took and never said how their sending went (it stopped): they may have gone out,
    so they fail rather than go again. Returns them."""
    statement = (
        update(NotificationEmail)
        .where(NotificationEmail.state == NotificationEmailState.sending)
        .where(NotificationEmail.leased_until < now)
        .values(
            state=NotificationEmailState.failed,
            leased_until=None,
            error="the worker sending it stopped before it knew whether the mail went out; "
            "it is not sent again",
        )
        .returning(NotificationEmail)
    )
    return list((await session.execute(statement)).scalars())
