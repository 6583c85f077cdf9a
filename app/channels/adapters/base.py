"""What a kind of channel is: the one interface every provider's adapter implements.

An adapter says how its channels are set up (settings, secrets, what they claim), how its provider's
requests are checked and read, how a stored event becomes a message for the threading pipeline, and how
a reply goes out. The pipeline, the intake and the reply sender know no provider: they ask the adapter.
"""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.adapters.messages import Bounce, Copied, Ignore, ParsedMessage, ProviderEvent
from app.channels.adapters.profiles import NotFetched, Profile, ProfileRequest
from app.channels.adapters.sending import NotSent, Reply, Sent, Suppressed
from app.channels.schemas import InboundUrls
from app.models import Contact, Conversation, InboundMessage, MessagingChannel, Ticket
from app.models.enums import ChannelKind, Locale
from app.tickets.repository import TicketRepository


@dataclass(frozen=True)
class ReplyWindow:
    """Whether a reply can go to the conversation now: until when, or why not."""

    until: datetime | None = None
    closed: str | None = None


@dataclass(frozen=True)
class TicketLookup:
    """What an adapter may look at to find the ticket a message belongs to."""

    session: AsyncSession
    channel: MessagingChannel
    message: ParsedMessage
    conversation: Conversation
    # Read only when asked for: most messages need neither.
    contact: Callable[[], Awaitable[Contact]]
    secrets: Callable[[], dict[str, str]]


# The ticket a message belongs to, and what matched it (None when it belongs to none: a new ticket).
Found = tuple[Ticket | None, str] | None


class ChannelAdapter(ABC):
    kind: ChannelKind
    settings_model: type[BaseModel]
    secrets_model: type[BaseModel]
    # Secrets a channel of the kind cannot work without.
    required_secrets: tuple[str, ...] = ()
    # What a channel receives for, which no other channel in the service may: column -> its setting.
    claims: Mapping[str, str] = {}
    # Whether the provider tells a customer's name (`profile`): a new customer who came without one is
    # then marked for the worker to ask.
    fetches_profiles: bool = False
    # Whether public replies carry the ticket's customer link (a page the customer can answer on).
    carries_customer_link: bool = False

    def claimed(self, settings: Mapping[str, Any]) -> dict[str, str | None]:
        """The claims of a channel with these settings, by column."""
        return {column: settings.get(name) for column, name in self.claims.items()}

    def generated_secrets(self) -> dict[str, str]:
        """Secrets the service makes for a new channel of the kind."""
        return {}

    def servers(self, settings: Mapping[str, Any]) -> dict[str, str]:
        """Servers the channel connects to besides its URL settings, as URLs, by the setting naming them:
        checked as every outbound destination is."""
        return {}

    def inbound_urls(self, channel: MessagingChannel) -> InboundUrls:
        """Where the channel's provider posts to: its signed webhook."""
        return InboundUrls(webhook=f"/v1/channels/{channel.id}/{channel.kind.value}")

    def verify(self, secrets: Mapping[str, str], body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether a webhook request is signed by the provider with the channel's secret."""
        return False

    def events(self, channel: MessagingChannel, payload: dict[str, Any]) -> list[ProviderEvent]:
        """The events of a checked webhook request worth keeping, each saying whose account it is for."""
        return []

    @abstractmethod
    def parse(
        self, channel: MessagingChannel, inbound: InboundMessage, locale: Locale
    ) -> ParsedMessage | Ignore | Bounce:
        """A stored event as a message for the pipeline, or why it is none; what the adapter writes into
        the message itself (what a sticker is) in the workspace's `locale`."""

    async def ticket_of(self, lookup: TicketLookup) -> Found:
        """The ticket the message goes on: by default its conversation's, while there is one."""
        ticket_id = lookup.conversation.ticket_id
        if ticket_id is None:
            return None
        repo = TicketRepository(lookup.session, lookup.channel.workspace_id)
        return await repo.surviving(await repo.get(ticket_id, for_update=True)), "conversation"

    async def copied(self, session: AsyncSession, message: ParsedMessage) -> list[Copied]:
        """Of those the message copies, the ones the ticket's replies may be copied to."""
        return list(message.copied)

    async def context(self, session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
        """What `send` needs to know of the ticket's thread, read in the claim's transaction."""
        return {}

    def sends_replies(self, channel: MessagingChannel) -> bool:
        """Whether replies go out on the channel (it is active, and has somewhere to send them)."""
        return channel.active

    def reply_window(
        self, channel: MessagingChannel, conversation: Conversation, now: datetime
    ) -> ReplyWindow:
        """Whether a reply can reach the customer now."""
        return ReplyWindow()

    @abstractmethod
    async def send(self, reply: Reply) -> Sent | NotSent | Suppressed:
        """Send the reply (or suppress it, by a rule that stops loops); never raises for what the provider
        or the network did."""

    async def profile(self, request: ProfileRequest) -> Profile | NotFetched:
        """The customer's profile, asked of the provider; never raises for what the provider or the
        network did."""
        return NotFetched(f"{self.kind.value} channels have no profiles to fetch")
