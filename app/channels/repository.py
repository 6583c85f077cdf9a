from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Conversation, InboundMessage, MessagingChannel, OutboundMessage
from app.models.enums import DeliveryState, InboundState

BY_NAME = Keyset("name", [SortColumn(MessagingChannel.name), SortColumn(MessagingChannel.id)])
NEWEST_FIRST = Keyset(
    "-received_at",
    [SortColumn(InboundMessage.received_at, descending=True), SortColumn(InboundMessage.id, descending=True)],
)


class ChannelRepository(ScopedRepository[MessagingChannel]):
    model = MessagingChannel
    resource = "Channel"

    def filtered(self, *, kind: str | None, active: bool | None) -> Select[tuple[MessagingChannel]]:
        statement = self.select()
        if kind is not None:
            statement = statement.where(MessagingChannel.kind == kind)
        if active is not None:
            statement = statement.where(MessagingChannel.active == active)
        return statement

    async def in_use(self, channel_id: UUID) -> bool:
        """Whether conversations came in on the channel (their tickets would lose where to reply)."""
        statement = select(Conversation.id).where(
            Conversation.workspace_id == self.workspace_id, Conversation.channel_id == channel_id
        )
        return await self.session.scalar(statement.limit(1)) is not None


async def find_channel(session: AsyncSession, channel_id: UUID) -> MessagingChannel | None:
    """A channel by its id alone: inbound URLs carry no workspace."""
    statement = select(MessagingChannel).where(MessagingChannel.id == channel_id)
    return (await session.execute(statement)).scalar_one_or_none()


class InboundRepository(ScopedRepository[InboundMessage]):
    model = InboundMessage
    resource = "Inbound message"

    async def store(
        self, channel_id: UUID, provider_message_id: str, kind: str, payload: dict[str, Any]
    ) -> tuple[UUID, bool]:
        """The stored message's id, and whether it was stored before (then nothing changes)."""
        inserted = await self.session.scalar(
            insert(InboundMessage)
            .values(
                workspace_id=self.workspace_id,
                channel_id=channel_id,
                provider_message_id=provider_message_id,
                kind=kind,
                payload=payload,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    InboundMessage.workspace_id,
                    InboundMessage.channel_id,
                    InboundMessage.provider_message_id,
                ]
            )
            .returning(InboundMessage.id)
        )
        if inserted is not None:
            return inserted, False
        existing = await self.session.scalar(
            select(InboundMessage.id).where(
                InboundMessage.workspace_id == self.workspace_id,
                InboundMessage.channel_id == channel_id,
                InboundMessage.provider_message_id == provider_message_id,
            )
        )
        assert existing is not None  # a stored message is never deleted while its channel exists
        return existing, True

    def of_channel(self, channel_id: UUID, state: InboundState | None) -> Select[tuple[InboundMessage]]:
        statement = self.select().where(InboundMessage.channel_id == channel_id)
        if state is not None:
            statement = statement.where(InboundMessage.state == state)
        return statement

    async def finish(
        self, message: InboundMessage, state: InboundState, now: datetime, **values: Any
    ) -> None:
        message.state = state
        message.processed_at = now
        for name, value in values.items():
            setattr(message, name, value)
        await self.session.flush()


async def claim_inbound(session: AsyncSession, now: datetime) -> InboundMessage | None:
    """The oldest due message no other worker holds, locked until this transaction ends."""
    statement = (
        select(InboundMessage)
        .where(InboundMessage.state == InboundState.received, InboundMessage.next_attempt_at <= now)
        .order_by(InboundMessage.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_conversation(session: AsyncSession, channel_id: UUID, external_id: str) -> None:
    """Messages of one conversation are threaded one at a time, so that its first ones open one ticket."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"conversation:{channel_id}:{external_id}"},
    )


class ConversationRepository(ScopedRepository[Conversation]):
    model = Conversation
    resource = "Conversation"

    async def find(self, channel_id: UUID, external_id: str) -> Conversation | None:
        statement = self.select().where(
            Conversation.channel_id == channel_id, Conversation.external_id == external_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()


class OutboundRepository(ScopedRepository[OutboundMessage]):
    model = OutboundMessage
    resource = "Outbound message"

    async def sent_by_us(self, channel_id: UUID, provider_message_id: str) -> bool:
        statement = select(OutboundMessage.id).where(
            OutboundMessage.workspace_id == self.workspace_id,
            OutboundMessage.channel_id == channel_id,
            OutboundMessage.provider_message_id == provider_message_id,
        )
        return await self.session.scalar(statement.limit(1)) is not None


async def claim_outbound(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> Sequence[OutboundMessage]:
    """Due replies no other worker holds, leased to this one (the sending happens after commit)."""
    due = (
        select(OutboundMessage.workspace_id, OutboundMessage.id)
        .where(OutboundMessage.state == DeliveryState.queued, OutboundMessage.next_attempt_at <= now)
        .where((OutboundMessage.leased_until.is_(None)) | (OutboundMessage.leased_until < now))
        .order_by(OutboundMessage.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(OutboundMessage)
        .where(OutboundMessage.workspace_id == due.c.workspace_id, OutboundMessage.id == due.c.id)
        .values(leased_until=lease_until, attempts=OutboundMessage.attempts + 1)
        .returning(OutboundMessage)
    )
    return list((await session.execute(statement)).scalars())
