"""Email: mail in (raw RFC 5322, from the SMTP listener, posted, or a Mailgun route), replies out by SMTP.

Loops are broken both ways: mail from the service's own address is dropped, delivery reports fail the
reply they are about, and automatic mail (out of office, lists, bounces) never gets an automatic reply.
"""

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.adapters.base import ChannelAdapter, Found, TicketLookup
from app.channels.adapters.mail.addresses import base_address, smtp_url
from app.channels.adapters.mail.composing import compose
from app.channels.adapters.mail.parsing import ParsedMail, clean_subject, parse_mail, subject_ticket_number
from app.channels.adapters.mail.threading import ticket_named
from app.channels.adapters.messages import AttachedFile, Bounce, Copied, Ignore, ParsedMessage
from app.channels.adapters.sending import NotSent, Reply, Sent, Suppressed, file_bytes
from app.channels.repository import claimed_addresses
from app.channels.schemas import EmailSecrets, EmailSettings, InboundUrls
from app.comments.repository import CommentRepository
from app.contacts.repository import ContactRepository
from app.errors import Forbidden
from app.kit.normalization import normalize_email
from app.kit.outbound import OutboundPolicy, Resolver, UnsafeDestination, check_destination
from app.models import Attachment, InboundMessage, MessagingChannel, Ticket
from app.models.enums import Channel, ChannelKind, CommentAuthor, IdentityKind, Locale

EMAIL = "email"
MAILGUN_MAX_AGE_SECONDS = 15 * 60

# Message-IDs of the thread a reply names in References (the latest ones).
REFERENCES_KEPT = 10
_SERVICE_SENDERS = ("mailer-daemon", "postmaster")


def dedupe_key(mail: ParsedMail, raw: bytes) -> str:
    """The Message-ID, or for mail without one a digest of the bytes (a re-sent copy is the same)."""
    return mail.message_id[:500] if mail.message_id else "sha256:" + hashlib.sha256(raw).hexdigest()


def check_mailgun(secrets: Mapping[str, str], form: Mapping[str, str], now: datetime) -> None:
    """Mailgun signs its routes: hex HMAC-SHA256(signing key, timestamp + token); recent timestamps only."""
    key = secrets.get("mailgun_signing_key")
    timestamp, token, signature = form.get("timestamp", ""), form.get("token", ""), form.get("signature", "")
    expected = hmac.new((key or "").encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    fresh = timestamp.isdigit() and abs(now.timestamp() - int(timestamp)) <= MAILGUN_MAX_AGE_SECONDS
    if key is None or not fresh or not hmac.compare_digest(expected, signature.lower()):
        raise Forbidden("The Mailgun signature is missing, wrong or too old", code="bad_signature")


def parse(channel: MessagingChannel, inbound: InboundMessage) -> ParsedMessage | Ignore | Bounce:
    mail = parse_mail(inbound.raw or b"")
    if mail.delivery_report is not None:
        report = mail.delivery_report
        error = " ".join(part for part in (report.status, report.diagnostic) if part) or "undeliverable"
        if not report.permanent:
            return Ignore(f"a delay notice ({error}); the server goes on trying")
        return Bounce(report.original_message_id, f"the recipient's server bounced the reply: {error}")
    sender = mail.from_address
    own = str(channel.settings["address"]).lower()
    if sender is None:
        return Ignore("mail without a sender address")
    if base_address(sender) == own:
        return Ignore("mail from the channel's own address (a loop)")
    return ParsedMessage(
        conversation=sender,
        identity_kind=IdentityKind.email,
        identity=sender,
        name=mail.from_name,
        email=sender,
        body=mail.text or mail.full_text,
        html=mail.html,
        origin=Channel.email,
        subject=clean_subject(mail.subject) or None,
        files=tuple(AttachedFile(item.filename, item.data) for item in mail.attachments),
        automatic=mail.automatic,
        mailing_list=mail.mailing_list,
        address={"email": sender, "name": mail.from_name},
        hints={
            "message_ids": [*reversed(mail.references), *mail.in_reply_to],
            "recipients": mail.recipients,
            "subject_number": subject_ticket_number(mail.subject),
        },
        # Automatic mail (lists, out of office) copies whom nobody meant to bring into a ticket.
        copied=() if mail.automatic else _copied(mail.copied, own, sender),
    )


def _copied(addresses: Sequence[tuple[str, str]], own: str, sender: str) -> tuple[Copied, ...]:
    """The people of a mail's Cc: valid addresses, neither the channel's (any `+tag` of it), the sender's,
    nor a mail system's."""
    found: dict[str, Copied] = {}
    for name, written in addresses:
        try:
            address = normalize_email(written)
        except ValueError:
            continue
        if (
            base_address(address) == own
            or address == sender
            or address.partition("@")[0] in _SERVICE_SENDERS
            or address in found
        ):
            continue
        found[address] = Copied(address, name or None)
    return tuple(found.values())


async def thread_context(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    """What a reply on the ticket needs to know of its thread: the Message-IDs to refer to (of public
    comments), whether the customer's latest mail (an automatic one is a note) was automatic or came
    through a mailing list (neither gets an automatic reply), and whom to copy (the ticket's CCs)."""
    repo = CommentRepository(session, ticket.workspace_id)
    comments = await repo.with_provider_ids(ticket.id, REFERENCES_KEPT)
    from_customer = [comment for comment in comments if comment.author_type is CommentAuthor.contact]
    last = from_customer[-1] if from_customer else None
    latest = await repo.latest_from_contact(ticket.id)
    threading = (latest.threading or {}) if latest else {}
    return {
        "references": [comment.provider_message_id for comment in comments],
        "in_reply_to": last.provider_message_id if last else None,
        "automatic": threading.get("automatic") or threading.get("mailing_list"),
        "cc": await _ccs(session, ticket),
    }


async def _ccs(session: AsyncSession, ticket: Ticket) -> list[dict[str, str | None]]:
    """The ticket's CCs' addresses, in the ticket's order; never a channel's address (a contact may have
    been given one through the API), where the copy would come back in as mail."""
    if not ticket.ccs:
        return []
    contacts = {
        contact.id: contact
        for contact in await ContactRepository(session, ticket.workspace_id).get_many(ticket.ccs)
    }
    people = [
        {"email": contact.email, "name": contact.name}
        for contact_id in ticket.ccs
        if (contact := contacts.get(contact_id)) is not None and contact.email is not None
    ]
    claimed = await claimed_addresses(session, [base_address(str(person["email"])) for person in people])
    return [person for person in people if base_address(str(person["email"])) not in claimed]


async def _send(reply: Reply) -> Sent | NotSent | Suppressed:
    if not reply.channel.settings.get("smtp_host"):
        return NotSent("the channel has no SMTP server to send replies through", True)
    to = reply.conversation.address.get("email")
    if not to:
        return NotSent("the conversation has no email address to reply to", True)
    looping = _loop_rule(reply, to)
    if looping:
        return Suppressed(looping)
    files = await _files(reply)
    if isinstance(files, NotSent):
        return files
    copied = _copied_on(reply, to)
    mail = compose(reply, to, files, copied)
    recipients = [to, *(person["email"] for person in copied)]
    return await send_mail(
        reply.channel,
        reply.secrets,
        mail,
        recipients,
        policy=reply.policy,
        resolve=reply.resolve,
        seconds=reply.timeout,
    )


async def send_mail(
    channel: MessagingChannel,
    secrets: Mapping[str, str],
    mail: EmailMessage,
    recipients: Sequence[str],
    *,
    policy: OutboundPolicy,
    resolve: Resolver,
    seconds: float,
) -> Sent | NotSent:
    """`mail` sent through the email channel's SMTP server, reached only at an address `policy` allows;
    each step within `seconds`."""
    settings = channel.settings
    if not settings.get("smtp_host"):
        return NotSent("the channel has no SMTP server to send mail through", True)
    host, port = str(settings["smtp_host"]), int(settings["smtp_port"])
    security = settings.get("smtp_security", "starttls")
    try:
        connected = await _connect(host, port, policy, resolve, seconds)
    except UnsafeDestination as unsafe:
        return NotSent(f"the SMTP server may not be called: {unsafe}", True)
    except OSError as unreachable:
        return NotSent(f"the SMTP server could not be reached: {unreachable}"[:1000], False)
    try:
        await aiosmtplib.send(
            mail,
            recipients=list(recipients),
            # Only for TLS: the certificate is checked for the name, and the name is sent as SNI.
            hostname=host.removesuffix("."),
            sock=connected,
            username=settings.get("smtp_username"),
            password=secrets.get("smtp_password") if settings.get("smtp_username") else None,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            timeout=seconds,
        )
    except aiosmtplib.SMTPResponseException as refused_by_server:
        permanent = refused_by_server.code >= 500
        return NotSent(
            f"the SMTP server answered {refused_by_server.code} {refused_by_server.message}"[:1000], permanent
        )
    except aiosmtplib.SMTPRecipientsRefused as refused_all:
        codes = [error.code for error in refused_all.recipients]
        return NotSent(
            f"the SMTP server refused the recipient: {refused_all.recipients[0]}"[:1000], min(codes) >= 500
        )
    except (aiosmtplib.SMTPException, OSError) as unreachable:
        return NotSent(f"the SMTP server could not be reached: {unreachable}"[:1000], False)
    finally:
        connected.close()
    return Sent(str(mail["Message-ID"]).strip("<>"))


async def _connect(
    host: str, port: int, policy: OutboundPolicy, resolve: Resolver, seconds: float
) -> socket.socket:
    """A connection to the SMTP server, made to an address the policy allowed just now: the name is
    resolved once, here, so that a DNS answer that changes (rebinding) cannot lead anywhere else.
    Raises UnsafeDestination, or OSError when no address can be reached in time."""
    async with asyncio.timeout(seconds):
        addresses = await check_destination(smtp_url(host, port), policy, resolve)
        for address in addresses[:-1]:
            # As connecting by name does, move on when one cannot be reached.
            with contextlib.suppress(OSError):
                return await _connected_to(address, port)
        return await _connected_to(addresses[-1], port)


async def _connected_to(address: str, port: int) -> socket.socket:
    connection = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    connection.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(connection, (address, port))
    except BaseException:
        connection.close()
        raise
    return connection


def _loop_rule(reply: Reply, to: str) -> str | None:
    """Why this reply must not be sent, by the loop rules; None when it may."""
    local = to.partition("@")[0].lower()
    if base_address(to) == str(reply.channel.settings["address"]).lower():
        return "the recipient is the channel's own address"
    if local in _SERVICE_SENDERS:
        return f"the recipient is a mail system ({local})"
    automatic = reply.context.get("automatic")
    if reply.comment.author_type is not CommentAuthor.agent and automatic:
        return f"automatic replies are never sent to automatic mail ({automatic})"
    return None


def _copied_on(reply: Reply, to: str) -> list[dict[str, Any]]:
    """The ticket's CCs the reply is copied to: never the channel's own address, a mail system, or the
    recipient again."""
    own = str(reply.channel.settings["address"]).lower()
    return [
        person
        for person in reply.context.get("cc", [])
        if base_address(person["email"]) != own
        and person["email"].partition("@")[0] not in _SERVICE_SENDERS
        and person["email"] != to.lower()
    ]


async def _files(reply: Reply) -> list[tuple[Attachment, bytes]] | NotSent:
    """The comment's files with their bytes, or why the mail cannot carry them."""
    limit = reply.settings.email.max_outgoing_bytes
    total = sum(attachment.size for attachment in reply.attachments)
    if total > limit:
        return NotSent(
            f"the reply's files take {total} bytes together, more than the {limit} bytes "
            "an email reply may carry (HELPDESK_EMAIL_MAX_OUTGOING_BYTES)",
            True,
        )
    files: list[tuple[Attachment, bytes]] = []
    for attachment in reply.attachments:
        data = await file_bytes(reply, attachment)
        if isinstance(data, NotSent):
            return data
        files.append((attachment, data))
    return files


class EmailAdapter(ChannelAdapter):
    carries_customer_link = True
    kind = ChannelKind.email
    settings_model = EmailSettings
    secrets_model = EmailSecrets
    claims = {"claimed_address": "address"}

    def claimed(self, settings: Mapping[str, Any]) -> dict[str, str | None]:
        address = settings.get("address")
        return {"claimed_address": base_address(address) if address is not None else None}

    def generated_secrets(self) -> dict[str, str]:
        # Signs the reply addresses of tickets, so that nobody can write into a ticket by guessing one.
        return {"reply_address_key": secrets.token_hex(32)}

    def servers(self, settings: Mapping[str, Any]) -> dict[str, str]:
        if settings.get("smtp_host") is None:
            return {}
        return {"smtp_host": smtp_url(settings["smtp_host"], settings["smtp_port"])}

    def inbound_urls(self, channel: MessagingChannel) -> InboundUrls:
        return InboundUrls(email=f"/v1/channels/{channel.id}/email")

    def parse(
        self, channel: MessagingChannel, inbound: InboundMessage, locale: Locale
    ) -> ParsedMessage | Ignore | Bounce:
        return parse(channel, inbound)

    async def ticket_of(self, lookup: TicketLookup) -> Found:
        """Mail threads by what it refers to, never by its sender alone: a new subject is a new ticket."""
        return await ticket_named(lookup)

    async def copied(self, session: AsyncSession, message: ParsedMessage) -> list[Copied]:
        """Never another channel's address, in any workspace: mail copied there would come back in."""
        claimed = await claimed_addresses(session, [base_address(person.email) for person in message.copied])
        return [person for person in message.copied if base_address(person.email) not in claimed]

    async def context(self, session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
        return await thread_context(session, ticket)

    def sends_replies(self, channel: MessagingChannel) -> bool:
        return channel.active and bool(channel.settings.get("smtp_host"))

    async def send(self, reply: Reply) -> Sent | NotSent | Suppressed:
        return await _send(reply)
