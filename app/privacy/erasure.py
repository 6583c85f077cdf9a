"""Erasing a customer's personal data, everywhere it lives, in steps of bounded batches.

Where a customer's personal data lives (every column of app/models that may hold it), and what each
step does with it:

- contacts: name, email, phone, external_id, custom_fields, search_text — emptied, `erased_at` set
  (`profile`, the last step: the identifiers the other steps look for are read from here until then).
- contact_identities: email addresses, phone numbers, Messenger, Zalo and chat ids — deleted (`profile`).
- comments they wrote: body, html_body, search_text, call, threading, delivery_error — erased
  (`own_comments`); other comments: body, html_body, search_text where they name the customer's
  identifiers — redacted (`mentions`).
- attachments of their comments (`own_comments`), and files they uploaded themselves (`uploads`) —
  rows and stored bytes deleted.
- tickets they requested: description erased; subject, custom_fields and external_refs redacted;
  search_text rebuilt; other tickets naming them redacted likewise (`tickets`). The tickets stay, with
  the erased contact as their requester, so reports still count them.
- ticket_history: old and new values of their tickets' subject and description, and values naming them
  (`history`).
- inbound_messages: the payload and raw message (an email as received) of messages of their comments
  and tickets, and of handled messages (ignored, failed) whose payload names them — erased
  (`inbound_messages`).
- conversations: the provider's thread id (a PSID, a Zalo id, a caller's number) and the reply address
  (`conversations`).
- events: data payloads that embed the contact, their comments or their words (`events`).
- webhook_attempts: response bodies and errors naming them (`webhook_attempts`).
- webhook_deliveries: the JSON bodies triggers' and automations' `call_url` actions rendered — erased
  for their tickets, redacted where they name them (`call_requests`).
- notification_emails: emails a `notify` action wrote to them (address, name, subject, text) — erased;
  other emails' subject and text naming them — redacted (`notification_emails`).
- outbound_messages: errors of replies that failed, naming them (`outbound_messages`); comments'
  delivery_error likewise (`mentions`).
- notifications: summaries naming them (`notifications`).
- idempotency_keys: stored responses naming them — deleted (`idempotency_keys`).
- data_requests: archives of their earlier exports — deleted, and exports under way called off
  (`exports`).
- ticket_ratings: the comments of their ratings — erased, the scores kept for reports (`ratings`).
- customer_links and portal_tokens: the links to their tickets and their sign-in links — deleted, so
  that no link they kept opens what is left (`links`).

Not personal data, so kept: ids (tickets' requester_id and ccs, comments' author_id), tags, the
provider's message ids, times and metrics.

Each call of a step does one bounded batch in the caller's transaction and says where the step resumes:
a step that looks for the contact among all of a table's rows reads a window of `SCAN_FACTOR` batches
of them, by id. Every step may run again over rows it already did (a crash before commit), with the
same result. `ERASERS` lists the steps in order.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, exists, func, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.search import search_key
from app.models import (
    Attachment,
    Comment,
    Contact,
    ContactIdentity,
    Conversation,
    CustomerLink,
    DataRequest,
    Event,
    IdempotencyKey,
    InboundMessage,
    Notification,
    NotificationEmail,
    OutboundMessage,
    PortalToken,
    Ticket,
    TicketHistory,
    TicketRating,
    WebhookAttempt,
    WebhookDelivery,
)
from app.models.enums import ActorType, CommentAuthor, DataRequestKind, DataRequestStatus, InboundState
from app.notifications.mail import REQUESTER
from app.privacy.redaction import ERASED, Redactor

ERASED_PAYLOAD = {"erased": True}


@dataclass(frozen=True)
class Subject:
    """The contact being erased, with what finds their data."""

    workspace_id: UUID
    contact_id: UUID
    redactor: Redactor
    now: datetime


@dataclass(frozen=True)
class Batch:
    """What one batch did: the rows it erased or redacted, whether the step is done, where it resumes
    (for a step that walks rows by id), and stored files to delete once the batch has committed."""

    rows: int
    done: bool
    resume_after: UUID | None = None
    files: list[str] = field(default_factory=list)


Step = Callable[[AsyncSession, Subject, UUID | None, int], Awaitable[Batch]]


@dataclass(frozen=True)
class Eraser:
    name: str
    run: Step


# A step that looks for what names the contact among all the workspace's rows of a table reads them a
# window of this many batches at a time, so that a transaction's work stays bounded however few match.
SCAN_FACTOR = 20


@dataclass(frozen=True)
class Window:
    """The next rows of a table after the cursor, by id."""

    rows: Any
    last: UUID | None
    reaches_end: bool

    def batch(self, done: int) -> Batch:
        return Batch(done, self.reaches_end, self.last)


async def _window(
    session: AsyncSession, model: Any, subject: Subject, cursor: UUID | None, batch: int
) -> Window:
    size = batch * SCAN_FACTOR
    ids = (
        select(model.id)
        .where(model.workspace_id == subject.workspace_id, _after(model.id, cursor))
        .order_by(model.id)
        .limit(size)
        .subquery()
    )
    found = (
        await session.execute(select(ids.c.id, func.count().over()).order_by(ids.c.id.desc()).limit(1))
    ).first()
    if found is None:
        return Window(literal(False), None, True)
    last, seen = found
    return Window(and_(_after(model.id, cursor), model.id <= last), last, seen < size)


def _after(column: Any, cursor: UUID | None) -> Any:
    return column > cursor if cursor is not None else literal(True)


def _written_by(subject: Subject) -> Any:
    return and_(Comment.author_type == CommentAuthor.contact, Comment.author_id == subject.contact_id)


def _their_tickets(subject: Subject) -> Any:
    return select(Ticket.id).where(
        Ticket.workspace_id == subject.workspace_id, Ticket.requester_id == subject.contact_id
    )


async def _own_comments(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    """Their comments erased, and the files of those comments deleted."""
    window = await _window(session, Comment, subject, cursor, batch)
    statement = (
        select(Comment)
        .where(Comment.workspace_id == subject.workspace_id, window.rows, _written_by(subject))
        .order_by(Comment.id)
        .with_for_update()
    )
    comments = list((await session.execute(statement)).scalars())
    for comment in comments:
        comment.body = ERASED
        comment.html_body = None
        comment.search_text = ""
        comment.call = None
        comment.threading = None
        comment.delivery_error = None
    await session.flush()
    deleted = await session.execute(
        delete(Attachment)
        .where(
            Attachment.workspace_id == subject.workspace_id,
            Attachment.comment_id.in_([comment.id for comment in comments]),
        )
        .returning(Attachment.storage_key)
    )
    keys = list(deleted.scalars())
    return replace(window.batch(len(comments) + len(keys)), files=keys)


async def _uploads(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    """Files they uploaded themselves (through a channel), attached or not."""
    window = await _window(session, Attachment, subject, cursor, batch)
    deleted = await session.execute(
        delete(Attachment)
        .where(
            Attachment.workspace_id == subject.workspace_id,
            window.rows,
            Attachment.uploaded_by_type == ActorType.contact,
            Attachment.uploaded_by_id == subject.contact_id,
        )
        .returning(Attachment.storage_key)
    )
    keys = list(deleted.scalars())
    return replace(window.batch(len(keys)), files=keys)


async def _tickets(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    redactor = subject.redactor
    window = await _window(session, Ticket, subject, cursor, batch)
    statement = (
        select(Ticket)
        .where(
            Ticket.workspace_id == subject.workspace_id,
            window.rows,
            or_(
                Ticket.requester_id == subject.contact_id,
                redactor.mentioned_in(Ticket.search_text, folded=True),
                redactor.mentioned_in(Ticket.subject),
                redactor.mentioned_in(Ticket.custom_fields),
                redactor.mentioned_in(Ticket.external_refs),
            ),
        )
        .order_by(Ticket.id)
        .with_for_update()
    )
    tickets = list((await session.execute(statement)).scalars())
    for ticket in tickets:
        if ticket.requester_id == subject.contact_id and ticket.description is not None:
            ticket.description = ERASED
        elif ticket.description is not None:
            ticket.description = redactor.redact(ticket.description)
        ticket.subject = redactor.redact(ticket.subject)
        ticket.custom_fields = redactor.redact_json(ticket.custom_fields)
        ticket.external_refs = redactor.redact_json(ticket.external_refs)
        ticket.search_text = search_key(ticket.subject, ticket.description)
        # A change like any other, so that the incremental export hands the redacted ticket on.
        ticket.version += 1
        ticket.updated_at = subject.now
    await session.flush()
    return window.batch(len(tickets))


async def _mentions(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    redactor = subject.redactor
    window = await _window(session, Comment, subject, cursor, batch)
    statement = (
        select(Comment)
        .where(
            Comment.workspace_id == subject.workspace_id,
            window.rows,
            or_(
                redactor.mentioned_in(Comment.search_text, folded=True),
                redactor.mentioned_in(Comment.body),
                redactor.mentioned_in(Comment.delivery_error),
            ),
        )
        .order_by(Comment.id)
        .with_for_update()
    )
    comments = list((await session.execute(statement)).scalars())
    for comment in comments:
        comment.body = redactor.redact(comment.body)
        comment.html_body = redactor.redact(comment.html_body) if comment.html_body is not None else None
        comment.call = redactor.redact_json(comment.call)
        comment.delivery_error = redactor.redact(comment.delivery_error) if comment.delivery_error else None
        comment.search_text = search_key(comment.body)
    await session.flush()
    return window.batch(len(comments))


async def _history(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    redactor = subject.redactor
    requester = (
        select(Ticket.requester_id)
        .where(Ticket.workspace_id == TicketHistory.workspace_id, Ticket.id == TicketHistory.ticket_id)
        .scalar_subquery()
    )
    window = await _window(session, TicketHistory, subject, cursor, batch)
    statement = (
        select(TicketHistory, requester)
        .where(
            TicketHistory.workspace_id == subject.workspace_id,
            window.rows,
            or_(
                and_(requester == subject.contact_id, TicketHistory.field.in_(("subject", "description"))),
                redactor.mentioned_in(TicketHistory.old_value),
                redactor.mentioned_in(TicketHistory.new_value),
            ),
        )
        .order_by(TicketHistory.id)
        .with_for_update(of=TicketHistory)
    )
    rows = list(await session.execute(statement))
    for entry, requested_by in rows:
        if entry.field == "description" and requested_by == subject.contact_id:
            entry.old_value = ERASED if entry.old_value is not None else None
            entry.new_value = ERASED if entry.new_value is not None else None
        else:
            entry.old_value = redactor.redact_json(entry.old_value)
            entry.new_value = redactor.redact_json(entry.new_value)
    await session.flush()
    return window.batch(len(rows))


async def _inbound_messages(
    session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int
) -> Batch:
    window = await _window(session, InboundMessage, subject, cursor, batch)
    their_comment = exists().where(
        Comment.workspace_id == InboundMessage.workspace_id,
        Comment.id == InboundMessage.comment_id,
        _written_by(subject),
    )
    result = await session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.workspace_id == subject.workspace_id,
            window.rows,
            or_(
                their_comment,
                InboundMessage.ticket_id.in_(_their_tickets(subject)),
                # Those no ticket took (ignored, failed) by what they carry; never one still waiting
                # for a worker, which would lose the message.
                and_(
                    InboundMessage.state != InboundState.received,
                    subject.redactor.mentioned_in(InboundMessage.payload),
                ),
            ),
            or_(InboundMessage.raw.is_not(None), ~InboundMessage.payload.has_key("erased")),
        )
        .values(payload=ERASED_PAYLOAD, raw=None, error=None)
    )
    return window.batch(result.rowcount)


async def _conversations(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    window = await _window(session, Conversation, subject, cursor, batch)
    statement = (
        select(Conversation)
        .where(
            Conversation.workspace_id == subject.workspace_id,
            window.rows,
            Conversation.contact_id == subject.contact_id,
        )
        .order_by(Conversation.id)
        .with_for_update()
    )
    conversations = list((await session.execute(statement)).scalars())
    for conversation in conversations:
        # Unique per channel, as the provider's id was; it names nobody.
        conversation.external_id = f"erased:{conversation.id}"
        conversation.address = {}
    await session.flush()
    return window.batch(len(conversations))


async def _events(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    window = await _window(session, Event, subject, cursor, batch)
    statement = (
        select(Event)
        .where(
            Event.workspace_id == subject.workspace_id,
            window.rows,
            or_(
                Event.subject_id == subject.contact_id,
                subject.redactor.mentioned_in(Event.data, with_id=True),
            ),
        )
        .order_by(Event.id)
        .with_for_update()
    )
    events = list((await session.execute(statement)).scalars())
    for event in events:
        event.data = erased_payload(event.data, subject)
    await session.flush()
    return window.batch(len(events))


def erased_payload(data: Any, subject: Subject) -> Any:
    """An event's data with the contact's words and identifiers erased: the contact itself emptied, their
    comments' bodies erased, their tickets' descriptions (and changes to them) and ratings' comments
    erased, every other string redacted."""
    contact_id = str(subject.contact_id)
    if isinstance(data, list):
        return [erased_payload(item, subject) for item in data]
    if not isinstance(data, dict):
        return subject.redactor.redact_json(data)
    erased = {key: erased_payload(value, subject) for key, value in data.items()}
    if erased.get("id") == contact_id and "identities" in erased:
        erased.update(
            name=None,
            display_name=None,
            email=None,
            phone=None,
            external_id=None,
            custom_fields={},
            identities=[],
        )
    author = erased.get("author")
    if isinstance(author, dict) and author.get("type") == "contact" and author.get("id") == contact_id:
        erased.update(body=ERASED, html_body=None, attachments=[])
    ticket = erased.get("ticket")
    if isinstance(ticket, dict) and ticket.get("requester_id") == contact_id:
        changes = erased.get("changes")
        if isinstance(changes, dict) and "description" in changes:
            changes["description"] = {"old": ERASED, "new": ERASED}
        rating = erased.get("rating")
        if isinstance(rating, dict) and rating.get("comment") is not None:
            rating["comment"] = None
    if erased.get("requester_id") == contact_id and erased.get("description") is not None:
        erased["description"] = ERASED
    return erased


async def _webhook_attempts(
    session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int
) -> Batch:
    redactor = subject.redactor
    window = await _window(session, WebhookAttempt, subject, cursor, batch)
    statement = (
        select(WebhookAttempt)
        .where(
            WebhookAttempt.workspace_id == subject.workspace_id,
            window.rows,
            or_(
                redactor.mentioned_in(WebhookAttempt.response_body, with_id=True),
                redactor.mentioned_in(WebhookAttempt.error),
            ),
        )
        .order_by(WebhookAttempt.id)
        .with_for_update()
    )
    attempts = list((await session.execute(statement)).scalars())
    for attempt in attempts:
        if attempt.response_body is not None:
            attempt.response_body = redactor.redact(attempt.response_body).replace(
                str(subject.contact_id), ERASED
            )
        attempt.error = redactor.redact(attempt.error) if attempt.error is not None else None
    await session.flush()
    return window.batch(len(attempts))


async def _call_requests(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    """The bodies `call_url` actions rendered: for their tickets, erased whole (a template may have put
    their words anywhere in it); for others, the strings naming them redacted."""
    window = await _window(session, WebhookDelivery, subject, cursor, batch)
    theirs = WebhookDelivery.ticket_id.in_(_their_tickets(subject))
    statement = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.workspace_id == subject.workspace_id,
            window.rows,
            WebhookDelivery.body.is_not(None),
            or_(theirs, subject.redactor.mentioned_in(WebhookDelivery.body, with_id=True)),
        )
        .order_by(WebhookDelivery.id)
        .with_for_update()
    )
    deliveries = list((await session.execute(statement)).scalars())
    their_tickets = set((await session.execute(_their_tickets(subject))).scalars()) if deliveries else set()
    for delivery in deliveries:
        if delivery.ticket_id in their_tickets:
            delivery.body = json.dumps(ERASED_PAYLOAD, separators=(",", ":"))
        else:
            body = subject.redactor.redact_json(json.loads(delivery.body or "null"))
            redacted = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            delivery.body = redacted.replace(str(subject.contact_id), ERASED)
    await session.flush()
    return window.batch(len(deliveries))


async def _notification_emails(
    session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int
) -> Batch:
    window = await _window(session, NotificationEmail, subject, cursor, batch)
    to_them = and_(
        NotificationEmail.recipient_type == REQUESTER, NotificationEmail.recipient_id == subject.contact_id
    )
    statement = (
        select(NotificationEmail)
        .where(
            NotificationEmail.workspace_id == subject.workspace_id,
            window.rows,
            or_(
                to_them,
                subject.redactor.mentioned_in(NotificationEmail.subject),
                subject.redactor.mentioned_in(NotificationEmail.body),
                subject.redactor.mentioned_in(NotificationEmail.error),
            ),
        )
        .order_by(NotificationEmail.id)
        .with_for_update()
    )
    emails = list((await session.execute(statement)).scalars())
    redact = subject.redactor.redact
    for email in emails:
        if email.recipient_type == REQUESTER and email.recipient_id == subject.contact_id:
            email.to_address, email.to_name, email.subject, email.body = ERASED, None, ERASED, ERASED
            email.error = None
        else:
            email.subject, email.body = redact(email.subject), redact(email.body)
            email.error = redact(email.error) if email.error is not None else None
    await session.flush()
    return window.batch(len(emails))


async def _outbound_messages(
    session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int
) -> Batch:
    """Replies whose sending failed keep the provider's or mail server's answer, which may name them."""
    window = await _window(session, OutboundMessage, subject, cursor, batch)
    statement = (
        select(OutboundMessage)
        .where(
            OutboundMessage.workspace_id == subject.workspace_id,
            window.rows,
            subject.redactor.mentioned_in(OutboundMessage.error),
        )
        .order_by(OutboundMessage.id)
        .with_for_update()
    )
    messages = list((await session.execute(statement)).scalars())
    for message in messages:
        message.error = subject.redactor.redact(message.error) if message.error is not None else None
    await session.flush()
    return window.batch(len(messages))


async def _notifications(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    window = await _window(session, Notification, subject, cursor, batch)
    statement = (
        select(Notification)
        .where(
            Notification.workspace_id == subject.workspace_id,
            window.rows,
            subject.redactor.mentioned_in(Notification.summary),
        )
        .order_by(Notification.id)
        .with_for_update()
    )
    notifications = list((await session.execute(statement)).scalars())
    for notification in notifications:
        notification.summary = subject.redactor.redact(notification.summary)[:300]
    await session.flush()
    return window.batch(len(notifications))


async def _idempotency_keys(
    session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int
) -> Batch:
    stored = IdempotencyKey.response_body
    chosen = (
        select(IdempotencyKey.workspace_id, IdempotencyKey.credential_id, IdempotencyKey.key)
        .where(
            IdempotencyKey.workspace_id == subject.workspace_id,
            subject.redactor.mentioned_in(_text_of(stored), with_id=True),
        )
        .limit(batch)
        .with_for_update()
    )
    result = await session.execute(
        delete(IdempotencyKey).where(
            tuple_(IdempotencyKey.workspace_id, IdempotencyKey.credential_id, IdempotencyKey.key).in_(chosen)
        )
    )
    return Batch(result.rowcount, result.rowcount < batch)


def _text_of(column: Any) -> Any:
    return func.convert_from(column, "UTF8")


async def _exports(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    """Earlier archives go, and exports under way are called off (an archive they write then goes too)."""
    statement = (
        select(DataRequest)
        .where(
            DataRequest.workspace_id == subject.workspace_id,
            DataRequest.contact_id == subject.contact_id,
            DataRequest.kind == DataRequestKind.export,
            DataRequest.status != DataRequestStatus.expired,
        )
        .with_for_update()
    )
    exports = list((await session.execute(statement)).scalars())
    keys = [export.storage_key for export in exports if export.storage_key is not None]
    for export in exports:
        export.storage_key = None
        export.status = DataRequestStatus.expired
        export.leased_until = None
    await session.flush()
    return Batch(len(exports), True, files=keys)


async def _ratings(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    result = await session.execute(
        update(TicketRating)
        .where(
            TicketRating.workspace_id == subject.workspace_id,
            TicketRating.ticket_id.in_(_their_tickets(subject)),
            TicketRating.comment.is_not(None),
        )
        .values(comment=None)
    )
    return Batch(result.rowcount, True)


async def _links(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    links = await session.execute(
        delete(CustomerLink).where(
            CustomerLink.workspace_id == subject.workspace_id,
            CustomerLink.ticket_id.in_(_their_tickets(subject)),
        )
    )
    tokens = await session.execute(
        delete(PortalToken).where(
            PortalToken.workspace_id == subject.workspace_id, PortalToken.contact_id == subject.contact_id
        )
    )
    return Batch(links.rowcount + tokens.rowcount, True)


async def _profile(session: AsyncSession, subject: Subject, cursor: UUID | None, batch: int) -> Batch:
    identities = await session.execute(
        delete(ContactIdentity).where(
            ContactIdentity.workspace_id == subject.workspace_id,
            ContactIdentity.contact_id == subject.contact_id,
        )
    )
    await session.execute(
        update(Contact)
        .where(Contact.workspace_id == subject.workspace_id, Contact.id == subject.contact_id)
        .values(
            name=None,
            email=None,
            phone=None,
            external_id=None,
            organization_id=None,
            vip=False,
            custom_fields={},
            search_text="",
            erased_at=subject.now,
            updated_at=subject.now,
            version=Contact.version + 1,
        )
    )
    return Batch(identities.rowcount + 1, True)


ERASERS: list[Eraser] = [
    Eraser("own_comments", _own_comments),
    Eraser("uploads", _uploads),
    Eraser("tickets", _tickets),
    Eraser("mentions", _mentions),
    Eraser("history", _history),
    Eraser("inbound_messages", _inbound_messages),
    Eraser("conversations", _conversations),
    Eraser("events", _events),
    Eraser("webhook_attempts", _webhook_attempts),
    Eraser("call_requests", _call_requests),
    Eraser("notification_emails", _notification_emails),
    Eraser("outbound_messages", _outbound_messages),
    Eraser("notifications", _notifications),
    Eraser("idempotency_keys", _idempotency_keys),
    Eraser("exports", _exports),
    Eraser("ratings", _ratings),
    Eraser("links", _links),
    # Last: the steps before find the contact's data by the identifiers this one erases.
    Eraser("profile", _profile),
]
