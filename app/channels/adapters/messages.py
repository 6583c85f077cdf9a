"""What adapters read from their providers: the events worth storing, and each stored event as a message
for the one pipeline that threads it."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from app.comments.schemas import CallRecord
from app.models.enums import Channel, CommentAuthor, IdentityKind


@dataclass(frozen=True)
class AttachedFile:
    filename: str
    data: bytes


@dataclass(frozen=True)
class RemoteFile:
    """A file the message links to (a provider's CDN, a chat widget's storage): downloaded by the worker."""

    url: str
    # Of the kind of file (image, video…), when the provider gives no name.
    kind: str = "file"
    filename: str | None = None


@dataclass(frozen=True)
class Copied:
    """Someone the customer copied on the message (an email's Cc)."""

    email: str
    name: str | None = None


@dataclass(frozen=True)
class ParsedMessage:
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
    # For a new ticket; the message's first line when None.
    subject: str | None = None
    files: tuple[AttachedFile, ...] = ()
    remote_files: tuple[RemoteFile, ...] = ()
    # Tokens of files the channel uploaded before sending the message.
    upload_tokens: tuple[str, ...] = ()
    # Why the message is automatic (e.g. an out-of-office mail), if so: it never opens a ticket for agents,
    # never changes one, and never gets an automatic reply.
    automatic: str | None = None
    # Why it came through a mailing list, if so: automatic unless its sender takes part in the ticket it
    # goes on (a customer answering through a list is a person writing).
    mailing_list: str | None = None
    # When the customer sent it, as the provider says (reply windows count from it, not from arrival).
    sent_at: datetime | None = None
    # What the adapter's `explicit_ticket` looks at (e.g. an email's references).
    hints: dict[str, Any] = field(default_factory=dict)
    # Whom the customer copied: they are copied on the ticket's replies too (the adapter's `copied`
    # says which of them may be).
    copied: tuple[Copied, ...] = ()
    # What a message without text of its own carries (image, sticker, location…, as the provider names
    # it): a ticket it opens is named after it, never after what the body says of it.
    carries: str | None = None
    # For a call record: the call, kept as data with the comment (the pipeline writes its summary).
    call: CallRecord | None = None


@dataclass(frozen=True)
class Ignore:
    """An event that is no customer message (e.g. mail from the service's own address)."""

    reason: str


@dataclass(frozen=True)
class Bounce:
    """A report that a reply sent from here could not be delivered."""

    provider_message_id: str | None
    error: str


@dataclass(frozen=True)
class ProviderEvent:
    """An event of a provider's webhook worth keeping, with the provider's id to dedupe it on."""

    provider_message_id: str
    kind: str
    payload: dict[str, Any]
    # Whose the event is when it is not the channel's (one provider app may serve several Pages or OAs,
    # and post all their events to each callback URL): never threaded.
    foreign: str | None = None
