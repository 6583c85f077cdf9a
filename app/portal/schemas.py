from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from app.kit.normalization import EmailAddress
from app.kit.schemas import RequestModel, ResponseModel
from app.models.enums import StatusKind

Body = Annotated[str, StringConstraints(min_length=1, max_length=65_536)]


class CustomerLinkOut(ResponseModel):
    url: str = Field(
        description="`{HELPDESK_PORTAL_PUBLIC_BASE_URL}/t/{token}`: give it to the customer only"
    )
    token: str = Field(description="The link's token, for `/v1/portal/{token}`; shown only now")
    expires_at: datetime | None = Field(
        description="When it stops opening the ticket: a while after the ticket closes; null while it is "
        "not closed"
    )


class PortalAttachmentOut(ResponseModel):
    id: UUID
    filename: str
    size: int = Field(description="In bytes")
    content_type: str


class PortalCommentOut(ResponseModel):
    id: UUID
    author: Literal["customer", "agent", "system"] = Field(
        description="`customer`: the ticket's requester or another contact; `agent`: the support team"
    )
    author_name: str | None = Field(description="The agent's or contact's name, when known")
    body: str
    html_body: str | None = Field(description="The HTML version, sanitised, when there is one")
    attachments: list[PortalAttachmentOut] = Field(
        description="Download each at `/v1/portal/{token}/attachments/{id}`"
    )
    created_at: datetime


class PortalRatingOut(ResponseModel):
    score: int | None = Field(description="1 to 5; null for a rating given as good or bad alone")
    good: bool
    comment: str | None
    created_at: datetime
    updated_at: datetime
    changeable_until: datetime = Field(description="Until when it may be changed")


class PortalTicketOut(ResponseModel):
    number: int
    subject: str
    status_kind: StatusKind = Field(description="new, open, pending, on_hold, solved or closed")
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    closed_at: datetime | None
    can_reply: bool = Field(description="On a closed ticket, a reply opens a follow-up ticket")
    can_solve: bool = Field(description="Whether the customer may mark it as solved now")
    can_rate: bool = Field(description="Solved, and not rated yet or the rating still changeable")
    rating: PortalRatingOut | None = Field(description="The rating of the latest solve, if given")
    link_expires_at: datetime | None = Field(description="When this link stops opening the ticket")


class PortalReplyIn(RequestModel):
    body: Body = Field(description="Plain text")


class PortalReplyOut(ResponseModel):
    comment: PortalCommentOut
    ticket: PortalTicketOut = Field(description="The ticket the reply went on")
    follow_up_url: str | None = Field(
        description="When the ticket was closed: the reply opened a follow-up ticket, and this is its link "
        "(the page to go on at)"
    )
    follow_up_token: str | None = Field(description="The follow-up's token, for `/v1/portal/{token}`")


class AccessRequest(RequestModel):
    workspace_id: UUID = Field(description="The business the customer writes to")
    email: EmailAddress


class AccessAccepted(ResponseModel):
    detail: str


class PortalSessionIn(RequestModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The token of the link sent by email (`/my/{token}`)"
    )


class PortalSessionOut(ResponseModel):
    session_token: str = Field(description="Opens `GET /v1/portal/my/{session_token}` until it expires")
    expires_at: datetime


class MyTicketOut(ResponseModel):
    number: int = Field(description="Open it with POST /v1/portal/my/{session_token}/tickets/{number}/link")
    subject: str
    status_kind: StatusKind
    created_at: datetime
    updated_at: datetime


class MyTicketLinkOut(ResponseModel):
    url: str = Field(description="The ticket's customer link (`…/t/{token}`)")
    token: str = Field(description="The link's token, for `/v1/portal/{token}`")
