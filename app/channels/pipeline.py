"""Threading: one stored inbound event becomes a comment on the right ticket, in one transaction.

Messages of one conversation are threaded one at a time (the conversation's row locked, and while
it may not exist yet an advisory lock on it), so that the first messages of a new customer open one
ticket however fast they arrive. The rule that
placed a message is kept on its comment (`threading.rule`):

- `new_conversation`: the first message of a conversation opens a ticket with the channel's defaults;
- `open_ticket`: the conversation's ticket is unresolved: the message goes on it;
- `reopened`: it was solved less than the channel's `reopen_window_hours` ago: the message reopens it;
- `follow_up`: it was solved longer ago, or closed: a new ticket, linked as a follow-up of it;
- `ticket_deleted`: it was deleted: a new ticket.

A merged ticket's messages go to the ticket it was merged into, by the same rules.

Automatic messages (an out-of-office reply; list mail, unless its sender takes part in the ticket it
goes on) never bring a ticket to an agent. On a ticket that takes comments (any but a closed or deleted
one) one is an internal note that changes nothing else: no status, no SLA clock, no trigger
(`automatic_note`). One that would open a ticket is ignored, with the reason, and leaves nothing behind
(no contact, no conversation); or, on a channel set to file it (`automatic_mail: file`), opens an
unassigned ticket in the channel's status for it, of kind solved: out of the queue, with no SLA clock
(`automatic_filed`).
"""

import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.repository import AttachmentRepository
from app.attachments.storage import storage_for
from app.auth.principal import Principal
from app.categories.repository import CategoryRepository
from app.channels import remote_files
from app.channels.adapters import adapter_for
from app.channels.adapters.base import ChannelAdapter, Found, TicketLookup
from app.channels.adapters.messages import Bounce, Ignore, ParsedMessage
from app.channels.calls import call_summary
from app.channels.remote_files import Downloader
from app.channels.replies import bounced
from app.channels.repository import (
    Claimed,
    ConversationRepository,
    InboundRepository,
    lock_conversation,
    takes_part,
)
from app.channels.service import channel_principal, channel_secrets
from app.comments.schemas import CommentCreate
from app.comments.service import CommentService
from app.config import Settings
from app.contacts.repository import ContactRepository, IdentityRepository
from app.contacts.schemas import ContactCreate
from app.contacts.service import create_contact, find_or_create_contact
from app.errors import Conflict
from app.kit.crypto import SecretBox
from app.kit.ids import new_id
from app.kit.texts import content_name, text
from app.models import Contact, Conversation, MessagingChannel, Ticket
from app.models.enums import CommentAuthor, InboundState, LinkKind, Locale, StatusKind
from app.rules.snapshot import rules_as_of, rules_of
from app.tickets.schemas import MAX_CCS, TicketCreate
from app.tickets.service import TicketService

SUBJECT_LENGTH = 120


async def thread(
    session: AsyncSession,
    settings: Settings,
    secret_box: SecretBox,
    downloader: Downloader,
    claimed: Claimed,
    now: datetime,
) -> None:
    """Process the (locked) inbound event: a comment on its ticket, or ignored with the reason.

    The files it links to are downloaded first, before the conversation is locked: a slow download holds
    this event only."""
    inbound, channel = claimed.message, claimed.channel
    workspace_id = inbound.workspace_id
    inbound_repo = InboundRepository(session, workspace_id)
    if channel is None:
        await inbound_repo.finish(inbound, InboundState.ignored, now, error="the channel was deleted")
        return
    if claimed.echo:
        await inbound_repo.finish(
            inbound, InboundState.ignored, now, error="an echo of a reply sent from here"
        )
        return
    await rules_as_of(session, workspace_id, claimed.rules_version)
    adapter = adapter_for(channel.kind)
    locale = claimed.locale
    message = adapter.parse(channel, inbound, locale)
    if isinstance(message, Ignore):
        await inbound_repo.finish(inbound, InboundState.ignored, now, error=message.reason)
        return
    if isinstance(message, Bounce):
        ours = await bounced(session, settings, channel, message.provider_message_id, message.error)
        reason = "a delivery report for a reply sent from here" if ours else "a delivery report"
        await inbound_repo.finish(inbound, InboundState.ignored, now, error=f"{reason}: {message.error}")
        return
    if message.call is not None:
        summary = call_summary(locale, message.call, message.body or "", settings.default_phone_region)
        message = replace(message, body=summary)
    message = await downloader.fetch(
        _known_by_content(message), last_try=inbound.attempts + 1 >= remote_files.TRIES, locale=locale
    )
    principal = channel_principal(channel)
    # Mail that may turn out automatic is threaded in a savepoint: ignored, it leaves no contact behind.
    may_be_automatic = message.body is not None and (message.automatic or message.mailing_list) is not None
    savepoint = await session.begin_nested() if may_be_automatic else None
    requester = await _requester(session, principal, channel, message, settings, now)
    conversation = requester.conversation
    if message.body is None:
        # About the customer (e.g. a follow), not a message: the conversation knows, no ticket changes.
        await inbound_repo.finish(inbound, InboundState.processed, now)
        return
    tickets = TicketService(session, principal, settings)
    found = await adapter.ticket_of(
        TicketLookup(
            session,
            channel,
            message,
            conversation,
            contact=requester.contact,
            secrets=lambda: channel_secrets(channel, secret_box),
        )
    )
    automatic = await _automatic(session, message, found, requester.contact_id)
    if automatic is None:
        # Whom the customer copied, if anyone (an email's Cc): copied on the ticket's replies from now on.
        copied = await _copied(session, principal, adapter, message, settings) if message.copied else []
        ticket, rule, previous = await _ticket_for(
            tickets, channel, requester, message, now, found, copied, locale
        )
        if copied:
            ticket = await tickets.copy_in(ticket, copied)
    else:
        placed = await _automatic_ticket(tickets, channel, requester, message, found, locale)
        if placed is None:
            if savepoint is not None:
                await savepoint.rollback()
            reason = f"automatic mail ({automatic}): no ticket opened"
            await inbound_repo.finish(inbound, InboundState.ignored, now, error=reason)
            return
        ticket, rule, previous = placed
    if savepoint is not None:
        await savepoint.commit()
    # The contact was just found; an agent's call was checked when it was received.
    author = (
        (CommentAuthor.agent, message.agent_id)
        if message.author is CommentAuthor.agent and message.agent_id is not None
        else (CommentAuthor.contact, requester.contact_id)
    )
    uploads, missing = await _uploads(session, principal, message.upload_tokens)
    body, files = _within_limits(message, settings, missing, reserved=len(uploads), locale=locale)
    comments = CommentService(session, principal, settings, storage_for(settings), tickets)
    comment = await comments.add_to(
        ticket,
        CommentCreate(
            body=body,
            html_body=message.html,
            public=automatic is None,
            channel=message.origin,
            provider_message_id=inbound.provider_message_id,
            attachments=uploads,
        ),
        author,
        files=files,
        threading={
            "rule": rule,
            "matched": found[1] if found and found[0] is not None else None,
            "conversation_id": str(conversation.id),
            "inbound_message_id": str(inbound.id),
            "previous_ticket_id": str(previous) if previous else None,
            **({"automatic": automatic} if automatic else {}),
            # A person writing through a list: no automatic reply goes back to it all the same.
            **({"mailing_list": message.mailing_list} if message.mailing_list and not automatic else {}),
        },
        automatic=automatic is not None,
        call=message.call,
    )
    conversation.ticket_id = comment.ticket_id
    await inbound_repo.finish(
        inbound, InboundState.processed, now, ticket_id=comment.ticket_id, comment_id=comment.id
    )


class _Requester:
    """Who sent the message, and their conversation, locked and up to date; the contact's row is read
    only when needed (opening a ticket, or finding one by what the message refers to)."""

    def __init__(self, session: AsyncSession, conversation: Conversation, contact: Contact | None) -> None:
        self.session = session
        self.conversation = conversation
        self.contact_id = conversation.contact_id
        self._contact = contact

    async def contact(self) -> Contact:
        if self._contact is None:
            repo = ContactRepository(self.session, self.conversation.workspace_id)
            self._contact = await repo.get_or_404(self.contact_id)
        return self._contact


async def _requester(
    session: AsyncSession,
    principal: Principal,
    channel: MessagingChannel,
    message: ParsedMessage,
    settings: Settings,
    now: datetime,
) -> _Requester:
    """The sender and their conversation. Messages of one conversation are threaded one at a time: a
    known customer's conversation is locked by its row, brought up to date in the same statement; a new
    conversation or customer is found or created under an advisory lock on the conversation, and its
    row locked too."""
    # The customer's last message, when the provider says they sent it (never later than now): a message
    # delivered late, or sent by a machine, opens no reply window of its own.
    customer_wrote = (
        message.body is not None and message.author is CommentAuthor.contact and message.automatic is None
    )
    inbound_at = min(message.sent_at or now, now) if customer_wrote else None
    conversations = ConversationRepository(session, channel.workspace_id)
    identity = (message.identity_kind, message.identity)
    conversation = await conversations.join(
        channel.id, message.conversation, identity, message.address, inbound_at
    )
    if conversation is not None:
        return _Requester(session, conversation, None)
    await lock_conversation(session, channel.id, message.conversation)
    contact = await _contact(session, principal, channel, message, settings, now)
    conversation = await _conversation(session, channel, message, contact, now, inbound_at)
    return _Requester(session, conversation, contact)


async def _contact(
    session: AsyncSession,
    principal: Principal,
    channel: MessagingChannel,
    message: ParsedMessage,
    settings: Settings,
    now: datetime,
) -> Contact:
    """The contact with the channel identity; else with the email or phone given; else a new one. When
    it has no name and the channel's provider tells names, its identity is marked for the worker to ask
    (app/channels/profiles.py), after this message is threaded."""
    repo = ContactRepository(session, principal.workspace_id)
    found = await repo.find_by_identity(message.identity_kind, message.identity)
    if found is not None:
        return found
    region = settings.default_phone_region
    savepoint = await session.begin_nested()
    try:
        if message.email is not None or message.phone is not None:
            contact = await find_or_create_contact(
                session,
                principal,
                email=message.email,
                phone=message.phone,
                name=message.name,
                default_phone_region=region,
            )
        else:
            contact = await create_contact(
                session, principal, ContactCreate(name=message.name), default_phone_region=region
            )
        identities = IdentityRepository(session, principal.workspace_id)
        ask = contact.name is None and adapter_for(channel.kind).fetches_profiles
        claimed = await identities.claim(
            contact.id,
            message.identity_kind,
            message.identity,
            profile_due=(channel.id, now) if ask else None,
        )
        if claimed is None and await identities.owner(message.identity_kind, message.identity) != contact.id:
            raise Conflict("the identity was claimed meanwhile")
    except Conflict:
        # Another conversation of the same new customer created them first: that contact it is.
        await savepoint.rollback()
        found = await repo.find_by_identity(message.identity_kind, message.identity)
        if found is None:
            raise
        return found
    await savepoint.commit()
    return contact


async def _conversation(
    session: AsyncSession,
    channel: MessagingChannel,
    message: ParsedMessage,
    contact: Contact,
    now: datetime,
    inbound_at: datetime | None,
) -> Conversation:
    repo = ConversationRepository(session, channel.workspace_id)
    conversation = await repo.find(channel.id, message.conversation)
    if conversation is None:
        return await repo.add(
            Conversation(
                id=new_id(),
                channel_id=channel.id,
                external_id=message.conversation,
                contact_id=contact.id,
                address=message.address,
                last_inbound_at=inbound_at,
                created_at=now,
            )
        )
    conversation.contact_id = contact.id
    conversation.address = {**conversation.address, **message.address}
    if inbound_at is not None:
        conversation.last_inbound_at = max(inbound_at, conversation.last_inbound_at or inbound_at)
    return conversation


async def _copied(
    session: AsyncSession,
    principal: Principal,
    adapter: ChannelAdapter,
    message: ParsedMessage,
    settings: Settings,
) -> list[UUID]:
    """The contacts the message copies, found or created by their address."""
    contact_ids = []
    for person in (await adapter.copied(session, message))[:MAX_CCS]:
        contact = await find_or_create_contact(
            session,
            principal,
            email=person.email,
            phone=None,
            name=person.name,
            default_phone_region=settings.default_phone_region,
        )
        # Found by an address that is not its own (a secondary identity): no address to copy replies to.
        if contact.email is not None:
            contact_ids.append(contact.id)
    return contact_ids


async def _ticket_for(
    tickets: TicketService,
    channel: MessagingChannel,
    requester: _Requester,
    message: ParsedMessage,
    now: datetime,
    found: tuple[Ticket | None, str] | None,
    copied: list[UUID],
    locale: Locale,
) -> tuple[Ticket, str, UUID | None]:
    """The ticket the message goes on, the rule that chose it, and the ticket it follows up, if any.
    `found`: the ticket the message belongs to (by its conversation, or by what the adapter read in it);
    `copied`: the contacts the message copies, a new ticket's CCs."""
    current = found[0] if found else None
    if current is None:
        return await _open(tickets, channel, requester, message, copied, locale), "new_conversation", None
    if current.deleted_at is not None:
        return await _open(tickets, channel, requester, message, copied, locale), "ticket_deleted", current.id
    if current.status_kind not in (StatusKind.solved, StatusKind.closed):
        return current, "open_ticket", None
    window = timedelta(hours=channel.settings.get("reopen_window_hours", 72))
    if current.status_kind is StatusKind.solved and current.solved_at and now - current.solved_at < window:
        return current, "reopened", None
    follow_up = await _open(tickets, channel, requester, message, copied, locale)
    await tickets.repo.add_link(follow_up.id, current.id, LinkKind.follow_up_of)
    return follow_up, "follow_up", current.id


async def _automatic(
    session: AsyncSession, message: ParsedMessage, found: Found, contact_id: UUID
) -> str | None:
    """Why the message counts as automatic: it is, or it came through a list and its sender takes no part
    in the ticket it goes on; None for a person's message."""
    if message.automatic is not None or message.mailing_list is None:
        return message.automatic
    current = found[0] if found else None
    if current is not None and await takes_part(session, current, contact_id):
        return None
    return message.mailing_list


async def _automatic_ticket(
    tickets: TicketService,
    channel: MessagingChannel,
    requester: _Requester,
    message: ParsedMessage,
    found: Found,
    locale: Locale,
) -> tuple[Ticket, str, UUID | None] | None:
    """Where an automatic message goes: as a note on the ticket it belongs to, if that takes comments;
    else on a new ticket filed out of the queue, where the channel says so; None: nowhere."""
    current = found[0] if found else None
    if current is not None and current.deleted_at is None and current.status_kind is not StatusKind.closed:
        return current, "automatic_note", None
    status = await _filing_status(tickets, channel)
    if status is None:
        return None
    filed = await _open(tickets, channel, requester, message, [], locale, status_id=status)
    return filed, "automatic_filed", current.id if current else None


async def _filing_status(tickets: TicketService, channel: MessagingChannel) -> UUID | None:
    """The status the channel files automatic mail in, while it is one that keeps tickets out of the
    queue (checked when the channel was set up, and again: statuses change)."""
    if channel.settings.get("automatic_mail") != "file":
        return None
    status_id = channel.settings.get("automatic_mail_status_id")
    rules = await rules_of(tickets.session, channel.workspace_id)
    status = rules.status(UUID(status_id), None) if status_id else None
    if status is None or not status.active or status.kind is not StatusKind.solved:
        return None
    return status.id


async def _open(
    tickets: TicketService,
    channel: MessagingChannel,
    requester: _Requester,
    message: ParsedMessage,
    copied: list[UUID],
    locale: Locale,
    *,
    status_id: UUID | None = None,
) -> Ticket:
    category_id = channel.default_category_id
    if category_id is not None:
        category = await CategoryRepository(tickets.session, channel.workspace_id).get(category_id)
        # Deactivated since the channel was set up: no reason to refuse the customer's message.
        category_id = category_id if category is not None and category.active else None
    created = await tickets.create(
        TicketCreate(
            subject=_subject(message, await requester.contact(), channel, locale),
            requester_id=requester.contact_id,
            channel=message.origin,
            group_id=channel.default_group_id,
            category_id=category_id,
            priority=channel.default_priority,
            tags=channel.default_tags,
            status_id=status_id,
            ccs=[contact_id for contact_id in copied if contact_id != requester.contact_id],
        ),
        conversation_id=requester.conversation.id,
    )
    return await tickets.repo.get(created["id"], for_update=True)  # type: ignore[return-value]


def _known_by_content(message: ParsedMessage) -> ParsedMessage:
    """A message with no text of its own, known by its first file when its adapter did not say what it
    carries: its ticket is named after it, never after the note that says its download failed."""
    if message.carries is not None or (message.body or "").strip():
        return message
    if message.remote_files:
        return replace(message, carries=message.remote_files[0].kind)
    if message.files or message.upload_tokens:
        return replace(message, carries="file")
    return message


def _subject(message: ParsedMessage, contact: Contact, channel: MessagingChannel, locale: Locale) -> str:
    """The message's subject or first line, shortened; a message with no text is named by what it
    carries and where it came from ("Hình ảnh từ Zalo"), else by who sent it."""
    if message.subject is None and message.carries is not None:
        what = content_name(locale, message.carries) or text(locale, "content.message")
        return text(
            locale, "content_from_channel", what=what, channel=text(locale, f"channel.{channel.kind}")
        )
    first_line = message.subject or next(
        (line.strip() for line in (message.body or "").splitlines() if line.strip()), ""
    )
    if not first_line:
        return f"{channel.name}: {contact.name or message.identity}"[:SUBJECT_LENGTH]
    if len(first_line) <= SUBJECT_LENGTH:
        return first_line
    return first_line[: SUBJECT_LENGTH - 1].rstrip() + "…"


async def _uploads(
    session: AsyncSession, principal: Principal, tokens: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The channel's uploads the message names that are still there to attach (locked), and the others
    (attached by another message meanwhile, or expired)."""
    if not tokens:
        return [], []
    found = await AttachmentRepository(session, principal.workspace_id).unattached_tokens(
        principal, tokens, lock=True
    )
    return [token for token in tokens if token in found], [token for token in tokens if token not in found]


def _within_limits(
    message: ParsedMessage,
    settings: Settings,
    missing_uploads: Sequence[str],
    *,
    reserved: int,
    locale: Locale,
) -> tuple[str, list[UploadFile]]:
    """The body and the files to keep: a file over the size or count limit (`reserved` places taken by
    uploads) is named in the body instead, so that a customer's message is never refused for its
    attachments."""
    limits = settings.attachment
    kept: list[UploadFile] = []
    notes = [text(locale, "upload_not_kept", token=token) for token in missing_uploads]
    for file in message.files:
        if len(file.data) > limits.max_file_bytes or reserved + len(kept) >= limits.max_files_per_comment:
            notes.append(text(locale, "attachment_over_limits", filename=file.filename))
        else:
            kept.append(UploadFile(io.BytesIO(file.data), size=len(file.data), filename=file.filename))
    body = "\n\n".join(part for part in ((message.body or "").strip(), "\n".join(notes)) if part)
    return body or text(locale, "no_text"), kept
