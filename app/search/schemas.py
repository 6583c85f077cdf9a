from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.models.enums import StatusKind

SearchType = Literal["tickets", "comments", "contacts", "organizations"]
MatchedIn = Literal["number", "subject", "description", "comment", "requester", "name", "email", "phone"]


class SearchHit(BaseModel):
    """One match, best first: exact matches (the query as typed, accents included, case aside), then
    those with the query's words side by side, then those with all of them apart; newest first in each."""

    type: SearchType
    id: UUID = Field(description="The ticket's, comment's, contact's or organization's id")
    ticket_id: UUID | None = Field(None, description="For a ticket or a comment: its ticket")
    number: int | None = Field(None, description="For a ticket or a comment: its ticket's number")
    title: str | None = Field(
        None,
        description="A ticket's subject (for a comment, its ticket's), a contact's or organization's name",
    )
    status_kind: StatusKind | None = None
    public: bool | None = Field(None, description="For a comment: a reply (true) or an internal note (false)")
    matched_in: MatchedIn | None = Field(
        None, description="Where the query was found; for a ticket found in its conversation, `comment`"
    )
    comment_id: UUID | None = Field(None, description="The comment the query was found in")
    highlight: str | None = Field(
        None,
        description="An excerpt of the text around the match, HTML-escaped, with each match wrapped in "
        "`<mark>`…`</mark>` and whitespace collapsed",
    )
    exact: bool = Field(
        description="The query appears as typed, accents included (case aside); for a query typed "
        "without accents, only the ticket or contact it names (number, email, phone, external id)"
    )
    updated_at: datetime


class TagCountOut(BaseModel):
    tag: str
    tickets: int = Field(description="Tickets carrying the tag (deleted ones aside) that the caller may see")
