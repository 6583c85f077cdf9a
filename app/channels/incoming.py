"""What every adapter turns a stored inbound event into, for the one pipeline that threads it."""

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.models.enums import Channel, CommentAuthor, IdentityKind


@dataclass(frozen=True)
class Incoming:
    # The provider's thread (messages of one conversation go on one ticket while it is open).
    conversation: str
    # Who the customer is on the channel.
    identity_kind: IdentityKind
    identity: str
    # None for an event about the customer that is not a message (e.g. a follow).
    body: str | None
    origin: Channel
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    html: str | None = None
    # A customer's message, or a record of what an agent did (e.g. a call they made).
    author: CommentAuthor = CommentAuthor.contact
    agent_id: UUID | None = None
    # Where replies go, kept on the conversation.
    address: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderEvent:
    """An event of a provider's webhook worth keeping, with the provider's id to dedupe it on."""

    provider_message_id: str
    kind: str
    payload: dict[str, Any]
