"""Channels as admins configure them, and what chat and API channels send in."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, EmailStr, Field, StringConstraints

from app.kit.schemas import AwareDatetime, LongText, Name, RequestModel, ResponseModel, UpdateModel
from app.models.enums import ChannelKind, InboundState, Priority
from app.tickets.schemas import Tags

Token = Annotated[str, StringConstraints(min_length=24, max_length=200)]
SigningSecret = Annotated[
    str, StringConstraints(pattern=r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$", max_length=100)
]
ProviderId = Annotated[str, StringConstraints(min_length=1, max_length=500)]
# Secrets the service only checks are kept as hashes; the others encrypted.
HASHED_SECRETS = frozenset({"token"})


class ChannelSettings(RequestModel):
    callback_url: AnyHttpUrl | None = Field(
        None,
        description="Where agents' public replies are sent, as Standard Webhooks requests signed with "
        "`callback_secret`; without it replies stay on the ticket",
    )
    reopen_window_hours: int = Field(
        72,
        ge=0,
        le=24 * 365,
        description="A message on a conversation whose ticket was solved less than this long ago reopens "
        "it; later, it opens a follow-up ticket",
    )


class ChannelSecrets(RequestModel):
    """Write-only: never returned; `secrets_set` tells which are set. In a PATCH, null removes one."""

    token: Token | None = Field(
        None, description="What the channel's callers send as `Authorization: Bearer <token>`"
    )
    callback_secret: SigningSecret | None = Field(
        None, description="Signs replies sent to `callback_url` (Standard Webhooks, `whsec_…`)"
    )


class TicketDefaults(RequestModel):
    group_id: UUID | None = None
    category_id: UUID | None = None
    priority: Priority = Priority.normal
    tags: Tags = []


class ChannelCreate(RequestModel):
    kind: Literal[ChannelKind.chat, ChannelKind.api] = Field(
        description="`chat`: a web chat widget; `api`: contact-center software or a CRM posting messages "
        "and call records"
    )
    name: Name = Field(description="Unique in the workspace, case-insensitively")
    active: bool = True
    settings: ChannelSettings = ChannelSettings()
    secrets: ChannelSecrets = Field(description="`token` is required: without it nothing can be received")
    defaults: TicketDefaults = Field(TicketDefaults(), description="For the tickets the channel opens")


class ChannelUpdate(UpdateModel):
    name: Name = None
    active: bool = None
    settings: ChannelSettings = None
    secrets: ChannelSecrets = None
    defaults: TicketDefaults = None


class InboundUrls(BaseModel):
    messages: str
    calls: str


class ChannelOut(ResponseModel):
    id: UUID
    kind: ChannelKind
    name: str
    active: bool
    settings: ChannelSettings
    secrets_set: list[str] = Field(description="Which secrets are set (their values are never shown)")
    defaults: TicketDefaults
    inbound_urls: InboundUrls = Field(description="Paths the channel's callers post to")
    created_at: datetime
    updated_at: datetime
    version: int


# What chat and API channels send


class ContactIn(RequestModel):
    id: ProviderId = Field(description="The customer's id in the calling system (the dedupe key of contacts)")
    name: Name | None = None
    email: EmailStr | None = Field(None, description="Finds an existing contact with this email")
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32)] | None = None


class MessageIn(RequestModel):
    message_id: ProviderId = Field(description="The sender's id of the message: a re-sent message is ignored")
    contact: ContactIn
    conversation_id: ProviderId | None = Field(
        None, description="The conversation (thread) the message belongs to; default: one per contact"
    )
    text: Annotated[str, StringConstraints(min_length=1, max_length=65_536)]
    html: LongText | None = Field(None, description="Optional HTML, sanitised")
    sent_at: AwareDatetime | None = None


class CallIn(RequestModel):
    call_id: ProviderId = Field(description="The switchboard's id of the call: a re-sent record is ignored")
    direction: Literal["inbound", "outbound"]
    caller: Annotated[str, StringConstraints(min_length=3, max_length=32)] = Field(
        description="The customer's phone number, whichever way the call went"
    )
    contact_name: Name | None = None
    agent_id: UUID | None = Field(None, description="The agent who took or made the call")
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    duration_seconds: int | None = Field(None, ge=0, le=7 * 24 * 3600)
    answered: bool = True
    recording_url: AnyHttpUrl | None = None
    note: LongText | None = Field(None, description="What the agent wrote about the call")


class Accepted(ResponseModel):
    id: UUID = Field(description="The stored message; processing follows within moments")
    duplicate: bool = Field(description="The message was received before; nothing new was stored")


class InboundOut(ResponseModel):
    id: UUID
    channel_id: UUID
    provider_message_id: str
    kind: str
    state: InboundState
    received_at: datetime
    processed_at: datetime | None
    attempts: int
    error: str | None
    ticket_id: UUID | None
    comment_id: UUID | None
