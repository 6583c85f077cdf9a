"""Channels as admins configure them, and what chat and API channels send in."""

from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from app.comments.schemas import UploadToken
from app.kit.schemas import (
    AwareDatetime,
    LongText,
    Name,
    RequestModel,
    ResponseModel,
    UpdateModel,
    storable_tag,
)
from app.models.enums import ChannelKind, InboundState, Priority
from app.tickets.schemas import Tags

Token = Annotated[str, StringConstraints(min_length=24, max_length=200)]
SigningSecret = Annotated[
    str, StringConstraints(pattern=r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$", max_length=100)
]
ProviderSecret = Annotated[str, StringConstraints(min_length=8, max_length=1000)]
ProviderId = Annotated[str, StringConstraints(min_length=1, max_length=500)]
# Facebook and Zalo ids are 64-bit numbers sent as strings: kept as strings.
NumericId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,30}$")]
ReopenWindow = Annotated[
    int,
    Field(
        ge=0,
        le=24 * 365,
        description="A message on a conversation whose ticket was solved less than this long ago reopens "
        "it; later, it opens a follow-up ticket",
    ),
]
# Secrets the service only checks are kept as hashes; the others encrypted.
HASHED_SECRETS = frozenset({"token", "verify_token"})


class ChatSettings(RequestModel):
    callback_url: AnyHttpUrl | None = Field(
        None,
        description="Where agents' public replies are sent, as Standard Webhooks requests signed with "
        "`callback_secret`; without it replies stay on the ticket",
    )
    reopen_window_hours: ReopenWindow = 72
    phone_number: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        None,
        description="The number customers call (a hotline): a call record's own side when it names none "
        "(`callee`)",
    )
    download_recordings: bool = Field(
        False,
        description="Call records' recordings are downloaded and attached to their comments, as well as "
        "kept as links (`call.recording_url`)",
    )


class ChatSecrets(RequestModel):
    """Write-only: never returned; `secrets_set` tells which are set. In a PATCH, null removes one."""

    token: Token | None = Field(
        None, description="Required. What the channel's callers send as `Authorization: Bearer <token>`"
    )
    callback_secret: SigningSecret | None = Field(
        None, description="Signs replies sent to `callback_url` (Standard Webhooks, `whsec_…`)"
    )


class MessengerSettings(RequestModel):
    page_id: NumericId = Field(description="The Facebook Page whose conversations the channel carries")
    graph_base_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://graph.facebook.com"), description="Where the Send API is called"
    )
    graph_api_version: Annotated[str, StringConstraints(pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")] = "v21.0"
    human_agent_approved: bool = Field(
        False,
        description="Meta approved the Page for the HUMAN_AGENT tag: replies may go out up to 7 days after "
        "the customer's last message instead of 24 hours",
    )
    reopen_window_hours: ReopenWindow = 72


class MessengerSecrets(RequestModel):
    """Write-only; all three are required."""

    app_secret: ProviderSecret | None = Field(None, description="Checks `X-Hub-Signature-256` of events")
    verify_token: ProviderSecret | None = Field(None, description="Answers Meta's verification handshake")
    page_access_token: ProviderSecret | None = Field(None, description="Sends replies with the Send API")


class ZaloSettings(RequestModel):
    app_id: NumericId = Field(description="The Zalo app the OA's events come through")
    oa_id: NumericId | None = None
    api_base_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://openapi.zalo.me"), description="Where customer-service messages are sent"
    )
    oauth_base_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://oauth.zaloapp.com"), description="Where the access token is refreshed"
    )
    reopen_window_hours: ReopenWindow = 72


class ZaloSecrets(RequestModel):
    """Write-only; all four are required. The tokens are replaced by the service when it refreshes them."""

    oa_secret_key: ProviderSecret | None = Field(None, description="Checks `X-ZEvent-Signature` of events")
    app_secret: ProviderSecret | None = Field(None, description="Refreshes the access token")
    access_token: ProviderSecret | None = Field(None, description="Sends customer-service messages")
    refresh_token: ProviderSecret | None = Field(None, description="Single use: replaced on every refresh")


class EmailSettings(RequestModel):
    address: EmailStr = Field(
        description="The support address customers write to; replies come from it, and reply addresses "
        "(`local+t<number>-<code>@domain`) are made from it"
    )
    display_name: Name | None = Field(None, description="The name replies are sent under")
    smtp_host: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,253}$")] | None = Field(
        None,
        description="The SMTP server replies are sent through (a host name or an IP address, public unless "
        "HELPDESK_WEBHOOK_ALLOWED_NETWORKS allows it); without it replies stay on the ticket",
    )
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="`starttls` (port 587), `tls` (port 465) or `none` (a local relay)"
    )
    smtp_username: Annotated[str, StringConstraints(min_length=1, max_length=320)] | None = None
    reopen_window_hours: ReopenWindow = 72
    automatic_mail: Literal["ignore", "file"] = Field(
        "ignore",
        description="Automatic mail (out of office, bulk, lists the sender takes no part in) that would "
        "open a ticket: `ignore` keeps it in the inbound log only (state `ignored`, with the reason); "
        "`file` opens an unassigned ticket for it in `automatic_mail_status_id`. On a ticket it threads "
        "onto, it is always an internal note that changes nothing",
    )
    automatic_mail_status_id: UUID | None = Field(
        None,
        description="Required with `file`: the status the tickets of automatic mail are opened in, one of "
        'the workspace\'s active statuses of kind `solved` (e.g. a custom "Noise" status): out of the '
        "queue, with no SLA clock and no assignee",
    )


class EmailSecrets(RequestModel):
    """Write-only, all optional: `token` for `POST …/email` with a Bearer token, `mailgun_signing_key` for
    Mailgun's signed routes, `smtp_password` for sending."""

    token: Token | None = Field(
        None, description="What MTAs and scripts posting raw mail send as Bearer token"
    )
    mailgun_signing_key: ProviderSecret | None = Field(None, description="Checks Mailgun's route signatures")
    smtp_password: ProviderSecret | None = None


class TicketDefaults(RequestModel):
    group_id: UUID | None = None
    category_id: UUID | None = None
    priority: Priority = Priority.normal
    tags: Tags = []


class _ChannelCreate(RequestModel):
    name: Name = Field(description="Unique in the workspace, case-insensitively")
    active: bool = True
    defaults: TicketDefaults = Field(TicketDefaults(), description="For the tickets the channel opens")


class ChatChannelCreate(_ChannelCreate):
    kind: Literal[ChannelKind.chat, ChannelKind.api] = Field(
        description="`chat`: a web chat widget; `api`: contact-center software or a CRM posting messages "
        "and call records"
    )
    settings: ChatSettings = ChatSettings()
    secrets: ChatSecrets


class MessengerChannelCreate(_ChannelCreate):
    kind: Literal[ChannelKind.messenger] = Field(description="A Facebook Page's Messenger conversations")
    settings: MessengerSettings
    secrets: MessengerSecrets


class ZaloChannelCreate(_ChannelCreate):
    kind: Literal[ChannelKind.zalo] = Field(description="A Zalo Official Account's conversations")
    settings: ZaloSettings
    secrets: ZaloSecrets


class EmailChannelCreate(_ChannelCreate):
    kind: Literal[ChannelKind.email] = Field(
        description="A mailbox: mail arrives by the SMTP listener or `POST …/email`, replies go by SMTP"
    )
    settings: EmailSettings
    secrets: EmailSecrets = EmailSecrets()


ChannelCreate = Annotated[
    ChatChannelCreate | MessengerChannelCreate | ZaloChannelCreate | EmailChannelCreate,
    Discriminator("kind"),
    BeforeValidator(storable_tag("kind")),
]


class ChannelUpdate(UpdateModel):
    name: Name = None
    active: bool = None
    settings: dict[str, Any] = Field(
        None, description="Settings to change, as for the channel's kind; the others stay"
    )
    secrets: dict[str, str | None] = Field(
        None, description="Secrets to replace, as for the channel's kind; null removes an optional one"
    )
    defaults: TicketDefaults = None


class InboundUrls(BaseModel):
    messages: str | None = Field(None, description="Chat and API channels: customers' messages")
    calls: str | None = Field(None, description="Chat and API channels: call records")
    uploads: str | None = Field(None, description="Chat and API channels: files for messages to carry")
    webhook: str | None = Field(None, description="Messenger and Zalo: the callback URL to give the provider")
    email: str | None = Field(
        None, description="Email: where raw mail (message/rfc822) or Mailgun routes post"
    )


class ChannelOut(ResponseModel):
    id: UUID
    kind: ChannelKind
    name: str
    active: bool
    settings: dict[str, Any] = Field(description="As for the channel's kind")
    secrets_set: list[str] = Field(description="Which secrets are set (their values are never shown)")
    settings_taken: list[str] = Field(
        description="Settings an older channel held already when the service began to give each address "
        "and account to one channel: this one receives nothing for them and was deactivated; changing "
        "them, or activating it, claims them again (409 `address_taken` while they are held)"
    )
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


class MessageAttachmentIn(RequestModel):
    """One of `url` (downloaded by the service) or `upload_token` (a file posted to the channel's
    `uploads` URL before)."""

    url: AnyHttpUrl | None = Field(
        None, description="Where the service downloads the file from (public addresses only)"
    )
    filename: Name | None = Field(None, description="For a `url`: the file's name (default: from the URL)")
    upload_token: UploadToken | None = Field(None, description="The `token` of an upload of this channel")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.upload_token is None):
            raise ValueError("give either url or upload_token")
        if self.upload_token is not None and self.filename is not None:
            raise ValueError("an upload has its name already: filename goes with url only")
        return self


class MessageIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "msg-20261207-0001",
                    "contact": {"id": "khach-0912345678", "name": "Chị Mai", "phone": "0912345678"},
                    "conversation_id": "web-chat-8841",
                    "text": "Shop ơi, áo size M màu xanh còn hàng không ạ?",
                }
            ]
        }
    )
    message_id: ProviderId = Field(description="The sender's id of the message: a re-sent message is ignored")
    contact: ContactIn
    conversation_id: ProviderId | None = Field(
        None, description="The conversation (thread) the message belongs to; default: one per contact"
    )
    text: Annotated[str, StringConstraints(max_length=65_536)] = Field(
        "", description="Required unless the message carries attachments"
    )
    html: LongText | None = Field(None, description="Optional HTML, sanitised")
    attachments: Annotated[list[MessageAttachmentIn], Field(max_length=100)] = Field(
        [], description="Files, by URL or upload token; at most HELPDESK_ATTACHMENT_MAX_FILES_PER_COMMENT"
    )
    sent_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.text.strip() and not self.attachments:
            raise ValueError("a message needs text or attachments")
        return self


class CallIn(RequestModel):
    call_id: ProviderId = Field(description="The switchboard's id of the call: a re-sent record is ignored")
    direction: Literal["inbound", "outbound"]
    caller: Annotated[str, StringConstraints(min_length=3, max_length=32)] = Field(
        description="The customer's phone number, whichever way the call went"
    )
    callee: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        None,
        description="The service's side of the call: the number or extension the customer called, or "
        "that called them; default: the channel's `phone_number`",
    )
    contact_name: Name | None = None
    agent_id: UUID | None = Field(None, description="The agent who took or made the call")
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    duration_seconds: int | None = Field(None, ge=0, le=7 * 24 * 3600)
    answered: bool = True
    recording_url: AnyHttpUrl | None = Field(
        None,
        description="Kept as a link (the comment's `call.recording_url`); downloaded and attached too when "
        "the channel's `download_recordings` is on",
    )
    note: LongText | None = Field(None, description="What the agent wrote about the call")


class Accepted(ResponseModel):
    id: UUID = Field(description="The stored message; processing follows within moments")
    duplicate: bool = Field(description="The message was received before; nothing new was stored")


class Received(ResponseModel):
    stored: int = Field(description="How many of the events were new customer messages or contact events")


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
