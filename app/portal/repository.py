from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset, PageParams, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Contact, MessagingChannel, PortalToken, Ticket
from app.models.enums import ChannelKind, PortalTokenKind

NEWEST_FIRST = Keyset(
    "-created_at", [SortColumn(Ticket.created_at, descending=True), SortColumn(Ticket.id, descending=True)]
)


class PortalTokenRepository(ScopedRepository[PortalToken]):
    model = PortalToken
    resource = "Token"

    async def use_access_link(self, token_hash: str, now: datetime) -> UUID | None:
        """The contact of the access link stored as `token_hash`, marking it used: once, and only before
        it expires."""
        statement = (
            update(PortalToken)
            .where(
                PortalToken.workspace_id == self.workspace_id,
                PortalToken.token_hash == token_hash,
                PortalToken.kind == PortalTokenKind.magic_link,
                PortalToken.used_at.is_(None),
                PortalToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(PortalToken.contact_id)
        )
        return await self.session.scalar(statement)

    async def session_contact(self, token_hash: str, now: datetime) -> UUID | None:
        statement = select(PortalToken.contact_id).where(
            PortalToken.workspace_id == self.workspace_id,
            PortalToken.token_hash == token_hash,
            PortalToken.kind == PortalTokenKind.session,
            PortalToken.expires_at > now,
        )
        return await self.session.scalar(statement)

    async def tickets_page(self, contact_id: UUID, page: PageParams) -> tuple[list[Ticket], str | None]:
        """The tickets the contact asked for, newest first: never a deleted or an internal one."""
        statement = select(Ticket).where(
            Ticket.workspace_id == self.workspace_id,
            Ticket.requester_id == contact_id,
            Ticket.deleted_at.is_(None),
            Ticket.internal.is_(False),
        )
        return await self.paginate(statement, NEWEST_FIRST, page)

    async def ticket_of(self, contact_id: UUID, number: int, *, for_update: bool = False) -> Ticket | None:
        statement = select(Ticket).where(
            Ticket.workspace_id == self.workspace_id,
            Ticket.number == number,
            Ticket.requester_id == contact_id,
            Ticket.deleted_at.is_(None),
            Ticket.internal.is_(False),
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()


async def claim_due_links(
    session: AsyncSession, now: datetime, retry_at: datetime, limit: int
) -> list[PortalToken]:
    """Access links due to be sent, across workspaces, put off until `retry_at` (when they are tried
    again unless sent before): each is claimed by one worker."""
    statement = (
        select(PortalToken)
        .where(PortalToken.next_attempt_at <= now)
        .order_by(PortalToken.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    links = list((await session.execute(statement)).scalars())
    for link in links:
        link.next_attempt_at = retry_at
    await session.flush()
    return links


async def email_channel(session: AsyncSession, workspace_id: UUID) -> MessagingChannel | None:
    """The workspace's first active email channel that sends mail."""
    statement = (
        select(MessagingChannel)
        .where(
            MessagingChannel.workspace_id == workspace_id,
            MessagingChannel.kind == ChannelKind.email,
            MessagingChannel.active.is_(True),
            MessagingChannel.settings["smtp_host"].as_string() != "",
        )
        .order_by(MessagingChannel.created_at, MessagingChannel.id)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def contact_email(
    session: AsyncSession, workspace_id: UUID, contact_id: UUID
) -> tuple[str | None, str | None]:
    """The contact's name and email address."""
    statement = select(Contact.name, Contact.email).where(
        Contact.workspace_id == workspace_id, Contact.id == contact_id
    )
    row = (await session.execute(statement)).first()
    return (row[0], row[1]) if row is not None else (None, None)
