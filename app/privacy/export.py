"""A copy of everything held about a customer, as a zip archive: `data.json` and the files they sent or
received.

`EXPORTERS` lists what goes in, one section of `data.json` each: an `Exporter`'s function gives its
section and the stored files it names.
"""

import io
import json
import zipfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.service import attachments_of_comments
from app.attachments.storage import Storage
from app.contacts.service import present
from app.models import Comment, Contact, Conversation, Ticket, TicketRating
from app.models.enums import CommentAuthor
from app.ratings.schemas import RatingOut
from app.tickets.schemas import TicketOut


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    # Where it goes in the archive.
    path: str


@dataclass(frozen=True)
class Section:
    data: Any
    rows: int
    files: list[StoredFile] = field(default_factory=list)


@dataclass(frozen=True)
class Exporter:
    name: str
    collect: Callable[[AsyncSession, Contact], Awaitable[Section]]


async def _profile(session: AsyncSession, contact: Contact) -> Section:
    [shown] = await present(session, contact.workspace_id, [contact])
    return Section(shown.model_dump(mode="json"), 1)


def _requested(contact: Contact) -> Any:
    return select(Ticket.id).where(
        Ticket.workspace_id == contact.workspace_id, Ticket.requester_id == contact.id
    )


async def _tickets(session: AsyncSession, contact: Contact) -> Section:
    statement = (
        select(Ticket)
        .where(Ticket.workspace_id == contact.workspace_id, Ticket.requester_id == contact.id)
        .order_by(Ticket.id)
    )
    tickets = list((await session.execute(statement)).scalars())
    return Section([TicketOut.model_validate(t).model_dump(mode="json") for t in tickets], len(tickets))


async def _comments(session: AsyncSession, contact: Contact) -> Section:
    """The public conversation of their tickets, and whatever they wrote elsewhere; never staff's notes."""
    statement = (
        select(Comment)
        .where(
            Comment.workspace_id == contact.workspace_id,
            or_(
                Comment.public & Comment.ticket_id.in_(_requested(contact)),
                (Comment.author_type == CommentAuthor.contact) & (Comment.author_id == contact.id),
            ),
        )
        .order_by(Comment.id)
    )
    comments = list((await session.execute(statement)).scalars())
    attachments = await attachments_of_comments(session, contact.workspace_id, [c.id for c in comments])
    files: list[StoredFile] = []
    items = []
    for comment in comments:
        listed = []
        for attachment in attachments[comment.id]:
            path = f"files/{attachment.id}/{attachment.filename}"
            files.append(StoredFile(attachment.storage_key, path))
            listed.append(
                {
                    "id": str(attachment.id),
                    "filename": attachment.filename,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                    "file": path,
                }
            )
        items.append(
            {
                "id": str(comment.id),
                "ticket_id": str(comment.ticket_id),
                "author": {"type": comment.author_type.value, "id": _text(comment.author_id)},
                "public": comment.public,
                "body": comment.body,
                "channel": comment.channel.value if comment.channel else None,
                "created_at": comment.created_at.isoformat(),
                "attachments": listed,
            }
        )
    return Section(items, len(items), files)


async def _conversations(session: AsyncSession, contact: Contact) -> Section:
    statement = (
        select(Conversation)
        .where(Conversation.workspace_id == contact.workspace_id, Conversation.contact_id == contact.id)
        .order_by(Conversation.id)
    )
    conversations = list((await session.execute(statement)).scalars())
    items = [
        {
            "id": str(conversation.id),
            "channel_id": str(conversation.channel_id),
            "external_id": conversation.external_id,
            "ticket_id": _text(conversation.ticket_id),
            "created_at": conversation.created_at.isoformat(),
        }
        for conversation in conversations
    ]
    return Section(items, len(items))


async def _ratings(session: AsyncSession, contact: Contact) -> Section:
    """How they rated their tickets' solves, with their comments."""
    statement = (
        select(TicketRating)
        .where(
            TicketRating.workspace_id == contact.workspace_id, TicketRating.ticket_id.in_(_requested(contact))
        )
        .order_by(TicketRating.id)
    )
    ratings = list((await session.execute(statement)).scalars())
    return Section([RatingOut.model_validate(r).model_dump(mode="json") for r in ratings], len(ratings))


def _text(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


EXPORTERS: list[Exporter] = [
    Exporter("contact", _profile),
    Exporter("tickets", _tickets),
    Exporter("comments", _comments),
    Exporter("conversations", _conversations),
    Exporter("ratings", _ratings),
]


async def collect(session: AsyncSession, contact: Contact) -> tuple[dict[str, Any], list[StoredFile], int]:
    """Every exporter's section, the files they name, and the rows read."""
    document: dict[str, Any] = {}
    files: list[StoredFile] = []
    rows = 0
    for exporter in EXPORTERS:
        section = await exporter.collect(session, contact)
        document[exporter.name] = section.data
        files.extend(section.files)
        rows += section.rows
    return document, files, rows


async def build_archive(
    storage: Storage, document: dict[str, Any], files: Sequence[StoredFile], exported_at: datetime
) -> bytes:
    """The zip: each file read from storage (one missing from storage is listed as such), then
    `data.json`."""
    buffer = io.BytesIO()
    missing = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for stored in files:
            try:
                chunks = await storage.open(stored.storage_key)
                archive.writestr(stored.path, b"".join([chunk async for chunk in chunks]))
            except FileNotFoundError:
                missing.append(stored.path)
        whole = {"exported_at": exported_at.isoformat(), **document, "missing_files": missing}
        archive.writestr("data.json", json.dumps(whole, ensure_ascii=False, indent=2))
    return buffer.getvalue()
