from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.comments.repository import CommentRepository
from app.kit.ids import new_id
from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.kit.time import utcnow
from app.models import (
    ChannelClaim,
    Contact,
    ContactIdentity,
    Conversation,
    InboundMessage,
    MessagingChannel,
    OutboundMessage,
    Ticket,
    Workspace,
)
from app.models.enums import DeliveryState, IdentityKind, InboundState, Locale

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

    async def hold_claims(self, channel: MessagingChannel, claims: dict[str, str | None]) -> str | None:
        """Make `claims` (column -> value, None for none) all the channel holds; the first column whose
        value another channel holds, if any (then the caller must not commit). Of two channels claiming
        one value at once, the second waits for the first's transaction, and gets it only if that one
        rolls back."""
        wanted = {
            (f"{channel.kind.value}:{column}", value): column for column, value in claims.items() if value
        }
        released = delete(ChannelClaim).where(
            ChannelClaim.workspace_id == self.workspace_id, ChannelClaim.channel_id == channel.id
        )
        if wanted:
            released = released.where(tuple_(ChannelClaim.claim, ChannelClaim.value).not_in(list(wanted)))
        await self.session.execute(released)
        for (claim, value), column in wanted.items():
            row = {
                "claim": claim,
                "value": value,
                "workspace_id": self.workspace_id,
                "channel_id": channel.id,
            }
            taken = insert(ChannelClaim).values(row).on_conflict_do_nothing().returning(ChannelClaim.claim)
            if (await self.session.execute(taken)).first() is not None:
                continue
            holder = await self.session.execute(
                select(ChannelClaim.workspace_id, ChannelClaim.channel_id).where(
                    ChannelClaim.claim == claim, ChannelClaim.value == value
                )
            )
            if holder.one_or_none() != (self.workspace_id, channel.id):
                return column
        return None

    async def in_use(self, channel_id: UUID) -> bool:
        """Whether conversations came in on the channel (their tickets would lose where to reply)."""
        statement = select(Conversation.id).where(
            Conversation.workspace_id == self.workspace_id, Conversation.channel_id == channel_id
        )
        return await self.session.scalar(statement.limit(1)) is not None


# What every inbound request runs, built once: building a statement costs more than running it.
_CHANNEL = select(MessagingChannel).where(MessagingChannel.id == bindparam("channel_id"))
_INBOUND = InboundMessage.__table__
_STORE_INBOUND = (
    insert(_INBOUND)
    .on_conflict_do_nothing(index_elements=["workspace_id", "channel_id", "provider_message_id"])
    .returning(_INBOUND.c.id)
)
_STORED_INBOUND = select(_INBOUND.c.id).where(
    _INBOUND.c.workspace_id == bindparam("workspace_id"),
    _INBOUND.c.channel_id == bindparam("channel_id"),
    _INBOUND.c.provider_message_id == bindparam("provider_message_id"),
)


async def find_channel(session: AsyncSession, channel_id: UUID) -> MessagingChannel | None:
    """A channel by its id alone: inbound URLs carry no workspace."""
    return (await session.execute(_CHANNEL, {"channel_id": channel_id})).scalar_one_or_none()


class InboundRepository(ScopedRepository[InboundMessage]):
    model = InboundMessage
    resource = "Inbound message"

    async def store(
        self,
        channel_id: UUID,
        provider_message_id: str,
        kind: str,
        payload: dict[str, Any],
        raw: bytes | None = None,
        *,
        ignored: str | None = None,
    ) -> tuple[UUID, bool]:
        """The stored message's id, and whether it was stored before (then nothing changes). A message
        `ignored` for that reason is stored done, for the inbound log alone."""
        key = {
            "workspace_id": self.workspace_id,
            "channel_id": channel_id,
            "provider_message_id": provider_message_id,
        }
        values = {**key, "id": new_id(), "kind": kind, "payload": payload, "raw": raw}
        if ignored is not None:
            values.update(state=InboundState.ignored, error=ignored, processed_at=utcnow())
        inserted = await self.session.scalar(_STORE_INBOUND, values)
        if inserted is not None:
            return inserted, False
        existing = await self.session.scalar(_STORED_INBOUND, key)
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
        # Why it ended so, if it needs saying; an earlier try's error no longer applies.
        message.error = values.pop("error", None)
        for name, value in values.items():
            setattr(message, name, value)
        await self.session.flush()


async def takes_part(session: AsyncSession, ticket: Ticket, contact_id: UUID) -> bool:
    """Whether the contact is the ticket's requester or one of its CCs, or has written on it."""
    if ticket.requester_id == contact_id or contact_id in ticket.ccs:
        return True
    return await CommentRepository(session, ticket.workspace_id).written_by_contact(ticket.id, contact_id)


async def ticket_of_messages(
    session: AsyncSession, workspace_id: UUID, channel_id: UUID, provider_message_ids: Sequence[str]
) -> UUID | None:
    """The ticket of the latest message among these (received on the channel or sent from here)."""
    if not provider_message_ids:
        return None
    received = select(
        InboundMessage.ticket_id.label("ticket_id"), InboundMessage.received_at.label("at")
    ).where(
        InboundMessage.workspace_id == workspace_id,
        InboundMessage.channel_id == channel_id,
        InboundMessage.provider_message_id.in_(provider_message_ids),
        InboundMessage.ticket_id.is_not(None),
    )
    sent = select(OutboundMessage.ticket_id, OutboundMessage.created_at).where(
        OutboundMessage.workspace_id == workspace_id,
        OutboundMessage.channel_id == channel_id,
        OutboundMessage.provider_message_id.in_(provider_message_ids),
    )
    both = received.union_all(sent).subquery()
    return await session.scalar(select(both.c.ticket_id).order_by(both.c.at.desc()).limit(1))


_ADDRESS_CLAIM = "email:claimed_address"
_CLAIMED_ADDRESS = select(MessagingChannel).join(
    ChannelClaim,
    and_(
        ChannelClaim.workspace_id == MessagingChannel.workspace_id,
        ChannelClaim.channel_id == MessagingChannel.id,
        ChannelClaim.claim == _ADDRESS_CLAIM,
        ChannelClaim.value == bindparam("address"),
    ),
)


async def email_channel_for(session: AsyncSession, address: str) -> MessagingChannel | None:
    """The channel that receives mail for this (base) address, across workspaces (mail names none);
    active or not, since an inactive channel keeps its address from the others."""
    return (await session.execute(_CLAIMED_ADDRESS, {"address": address})).scalar_one_or_none()


async def claimed_addresses(session: AsyncSession, addresses: Sequence[str]) -> set[str]:
    """Which of these (base) addresses a channel receives mail for, in any workspace."""
    if not addresses:
        return set()
    statement = select(ChannelClaim.value).where(
        ChannelClaim.claim == _ADDRESS_CLAIM, ChannelClaim.value.in_(addresses)
    )
    return set(await session.scalars(statement))


# The statements each message's threading runs, built once: building one costs more than running it.
_ECHO = (
    exists()
    .where(
        OutboundMessage.workspace_id == InboundMessage.workspace_id,
        OutboundMessage.channel_id == InboundMessage.channel_id,
        OutboundMessage.provider_message_id == InboundMessage.provider_message_id,
    )
    .label("echo")
)
_DUE_INBOUND = (
    select(InboundMessage, MessagingChannel, _ECHO, Workspace.rules_version, Workspace.locale)
    .join(Workspace, Workspace.id == InboundMessage.workspace_id)
    .outerjoin(
        MessagingChannel,
        (MessagingChannel.workspace_id == InboundMessage.workspace_id)
        & (MessagingChannel.id == InboundMessage.channel_id),
    )
    .where(InboundMessage.state == InboundState.received, InboundMessage.next_attempt_at <= bindparam("now"))
    .order_by(InboundMessage.next_attempt_at, InboundMessage.id)
    .limit(1)
    .with_for_update(of=InboundMessage, skip_locked=True)
)
_LOCK_CONVERSATION = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def _conversation_named(prefix: str = "") -> tuple[ColumnElement[bool], ...]:
    """A conversation by the channel's id for it (bind parameters `{prefix}workspace_id`, …)."""
    return (
        Conversation.workspace_id == bindparam(f"{prefix}workspace_id"),
        Conversation.channel_id == bindparam(f"{prefix}channel_id"),
        Conversation.external_id == bindparam(f"{prefix}external_id"),
    )


_CONVERSATION = select(Conversation).where(*_conversation_named()).with_for_update()
# The conversation of a known customer, locked and brought up to date in one statement.
_JOIN_CONVERSATION = (
    update(Conversation)
    .where(
        *_conversation_named("join_"),
        ContactIdentity.workspace_id == Conversation.workspace_id,
        ContactIdentity.kind == bindparam("join_identity_kind"),
        ContactIdentity.value == bindparam("join_identity"),
    )
    .values(
        contact_id=ContactIdentity.contact_id,
        address=Conversation.address.op("||")(bindparam("join_address", type_=JSONB)),
        # The later of the two (GREATEST passes over a NULL): an old message arriving late moves nothing.
        last_inbound_at=func.greatest(
            Conversation.last_inbound_at, bindparam("join_inbound_at", type_=DateTime(timezone=True))
        ),
    )
    .returning(Conversation)
    .execution_options(synchronize_session=False)
)
_SENT = (
    select(OutboundMessage)
    .where(
        OutboundMessage.workspace_id == bindparam("workspace_id"),
        OutboundMessage.channel_id == bindparam("channel_id"),
        OutboundMessage.provider_message_id == bindparam("provider_message_id"),
    )
    .limit(1)
)


class Claimed(NamedTuple):
    message: InboundMessage
    channel: MessagingChannel | None  # None: deleted since
    echo: bool  # the provider sending back a message sent from here
    rules_version: int  # the workspace's, as the claim saw it
    locale: Locale  # the workspace's: the language of the texts threading writes


async def claim_inbound(session: AsyncSession, now: datetime) -> Claimed | None:
    """The oldest due message no other worker holds, locked until this transaction ends, with its
    channel, whether it is an echo, and its workspace's rules version and locale."""
    row = (await session.execute(_DUE_INBOUND, {"now": now})).one_or_none()
    return None if row is None else Claimed(*row)


async def inbound_backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """Messages of every workspace waiting to be threaded (due or put off), and when the oldest of them
    arrived: read through the partial index of those waiting, so it costs as much as the backlog is long."""
    statement = select(func.count(), func.min(InboundMessage.received_at)).where(
        InboundMessage.state == InboundState.received
    )
    waiting, oldest = (await session.execute(statement)).one()
    return waiting, oldest


async def lock_conversation(session: AsyncSession, channel_id: UUID, external_id: str) -> None:
    """Held while a conversation that may not exist yet is found or started, so that the first
    messages of a new customer open one ticket however fast they arrive."""
    await session.execute(_LOCK_CONVERSATION, {"key": f"conversation:{channel_id}:{external_id}"})


class ConversationRepository(ScopedRepository[Conversation]):
    model = Conversation
    resource = "Conversation"

    async def find(self, channel_id: UUID, external_id: str) -> Conversation | None:
        """The conversation, locked."""
        parameters = {"workspace_id": self.workspace_id, "channel_id": channel_id, "external_id": external_id}
        return (await self.session.execute(_CONVERSATION, parameters)).scalar_one_or_none()

    async def join(
        self,
        channel_id: UUID,
        external_id: str,
        identity: tuple[IdentityKind, str],
        address: dict[str, Any],
        inbound_at: datetime | None,
    ) -> Conversation | None:
        """The conversation, locked, now with the contact who holds `identity`, the address merged in,
        and `inbound_at` (when given) as the customer's last message; None when the conversation or the
        identity is new, and nothing changed."""
        parameters = {
            "join_workspace_id": self.workspace_id,
            "join_channel_id": channel_id,
            "join_external_id": external_id,
            "join_identity_kind": identity[0],
            "join_identity": identity[1],
            "join_address": address,
            "join_inbound_at": inbound_at,
        }
        return (await self.session.execute(_JOIN_CONVERSATION, parameters)).scalar_one_or_none()


class OutboundRepository(ScopedRepository[OutboundMessage]):
    model = OutboundMessage
    resource = "Outbound message"

    async def by_provider_id(
        self, channel_id: UUID, provider_message_id: str, *, lock: bool = True
    ) -> OutboundMessage | None:
        parameters = {
            "workspace_id": self.workspace_id,
            "channel_id": channel_id,
            "provider_message_id": provider_message_id,
        }
        statement = _SENT.with_for_update() if lock else _SENT
        return (await self.session.execute(statement, parameters)).scalar_one_or_none()


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


class DueProfile(NamedTuple):
    identity: ContactIdentity
    channel: MessagingChannel


async def claim_due_profiles(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[DueProfile]:
    """Identities due for a profile fetch that no other worker holds, with the channel to ask, leased to
    this one: the try counted, and due again at `lease_until` should this worker never say how it went.
    Those whose contact got a name meanwhile, or whose channel is gone, have nothing left to fetch."""
    statement = (
        select(ContactIdentity, Contact.name, MessagingChannel)
        .join(
            Contact,
            (Contact.workspace_id == ContactIdentity.workspace_id)
            & (Contact.id == ContactIdentity.contact_id),
        )
        .outerjoin(
            MessagingChannel,
            (MessagingChannel.workspace_id == ContactIdentity.workspace_id)
            & (MessagingChannel.id == ContactIdentity.profile_channel_id),
        )
        .where(ContactIdentity.profile_due_at <= now)
        .order_by(ContactIdentity.profile_due_at)
        .limit(limit)
        .with_for_update(of=ContactIdentity, skip_locked=True)
    )
    due = []
    for identity, name, channel in (await session.execute(statement)).all():
        if name is not None or channel is None:
            identity.profile_due_at = None
            continue
        identity.profile_due_at = lease_until
        identity.profile_attempts += 1
        due.append(DueProfile(identity, channel))
    await session.flush()
    return due
