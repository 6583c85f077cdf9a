from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.attachments.schemas import AttachmentOut
from app.kit.schemas import LongText, RequestModel, ResponseModel
from app.models.enums import Channel, CommentAuthor, DeliveryState, StatusKind

Body = Annotated[str, StringConstraints(min_length=1, max_length=65_536)]
UploadToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AuthorIn(RequestModel):
    type: Literal["agent", "contact"]
    id: UUID


class CommentCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body": "Dạ, đơn DH-1042 sẽ được giao trong hôm nay ạ.",
                    "public": True,
                    "status_kind": "pending",
                },
                {"body": "Đã gọi kho Bình Dương, chờ xác nhận.", "public": False},
            ]
        }
    )
    body: Body = Field(description="Plain text")
    html_body: LongText | None = Field(
        None, description="Optional HTML; scripts, event handlers and javascript: links are removed"
    )
    public: bool = Field(description="True: a reply the customer sees. False: an internal note for staff")
    author: AuthorIn | None = Field(
        None,
        description="For API keys relaying a message: the contact or agent who wrote it (default: the "
        "system). An agent token always writes as its agent.",
    )
    channel: Channel | None = Field(None, description="Where the message came from (default: api)")
    provider_message_id: Annotated[str, StringConstraints(max_length=500)] | None = None
    status_id: UUID | None = Field(None, description="Also move the ticket to this status")
    status_kind: StatusKind | None = Field(
        None, description="Also move the ticket to the default status of this kind"
    )
    attachments: Annotated[list[UploadToken], Field(max_length=100)] = Field(
        [],
        description="Tokens of files uploaded with POST /v1/uploads; with the files sent along, at most "
        "HELPDESK_ATTACHMENT_MAX_FILES_PER_COMMENT in all",
    )
    expected_last_comment_id: UUID | None = Field(
        None,
        description="The last public comment the writer has seen: if another was added since, the reply "
        "is refused (409) with the comments it missed",
    )

    @model_validator(mode="after")
    def _one_status(self) -> Self:
        if self.status_id is not None and self.status_kind is not None:
            raise ValueError("give either status_id or status_kind, not both")
        return self


class AuthorOut(BaseModel):
    type: CommentAuthor
    id: UUID | None


class CommentDeliveryOut(BaseModel):
    state: DeliveryState = Field(
        description="`queued`, `sent` (with `provider_message_id`), `failed`, or `suppressed`: not sent on "
        "purpose by a rule that stops mail loops (an automatic reply to automatic mail, a reply to the "
        "channel's own address or to a mail system)"
    )
    error: str | None = Field(
        None,
        description="Why it failed, as the channel or its provider said; for `suppressed`, the rule's reason",
    )


class CallRecord(BaseModel):
    """A call as the switchboard reported it, kept with the comment that records it."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)

    direction: Literal["inbound", "outbound"]
    from_: str | None = Field(
        alias="from", description="The calling number: the customer's for an inbound call"
    )
    to: str | None = Field(description="The called number: the customer's for an outbound call")
    started_at: datetime
    ended_at: datetime | None
    answered: bool
    duration_seconds: int | None
    recording_url: str | None = Field(
        description="Where the switchboard keeps the recording (a link; the file is attached too when "
        "the channel downloads recordings)"
    )
    agent_id: UUID | None = Field(description="The agent who took or made the call")
    provider_call_id: str = Field(description="The switchboard's id of the call")


class CommentOut(ResponseModel):
    id: UUID
    ticket_id: UUID
    author: AuthorOut
    public: bool
    body: str
    html_body: str | None
    channel: Channel | None
    provider_message_id: str | None
    original_ticket_id: UUID | None = Field(description="Where it was written, if a merge moved it here")
    threading: dict[str, Any] | None = Field(
        None,
        description="For a message that arrived on a channel: the `rule` that put it on this ticket, and "
        "the conversation and stored message it came from",
    )
    delivery: CommentDeliveryOut | None = Field(
        None, description="For a public reply sent out on the ticket's channel: how far it got"
    )
    call: CallRecord | None = Field(
        None, description="For a call record: the call; the body is its summary, in the workspace's locale"
    )
    attachments: list[AttachmentOut]
    created_at: datetime
