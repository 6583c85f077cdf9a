"""Email: mail in (raw RFC 5322, from the SMTP listener or posted), replies out by SMTP.

Threading follows the mail itself, in this order: the `In-Reply-To` and `References` of a message the
service received or sent on a ticket; a reply address naming the ticket (`local+t<number>-<code>@domain`,
the code an HMAC so that it cannot be guessed); a `[#number]` subject token, trusted only from a
participant of that ticket; otherwise a new ticket. Loops are broken both ways: mail from the service's
own address is dropped, delivery reports fail the reply they are about, and automatic mail (out of
office, lists, bounces) never gets an automatic reply.
"""

import asyncio
import contextlib
import hashlib
import hmac
import re
import socket
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from html import escape
from typing import Any
from uuid import UUID

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.incoming import Bounce, Ignore, Incoming, IncomingFile
from app.channels.mail_parsing import ParsedMail, clean_subject, parse_mail, subject_ticket_number
from app.channels.repository import ticket_of_messages
from app.channels.sending import NotSent, Reply, Sent, file_bytes
from app.comments.repository import CommentRepository
from app.kit.outbound import UnsafeDestination, check_destination
from app.kit.time import utcnow
from app.models import Attachment, Contact, InboundMessage, MessagingChannel, Ticket
from app.models.enums import Channel, CommentAuthor, IdentityKind
from app.tickets.repository import TicketRepository

EMAIL = "email"
# Message-IDs of the thread a reply names in References (the latest ones).
REFERENCES_KEPT = 10
_REPLY_ADDRESS = re.compile(
    r"^(?P<local>[^+@]+)\+t(?P<number>[0-9]{1,18})-(?P<code>[0-9a-f]{16})@(?P<domain>.+)$"
)
_SERVICE_SENDERS = ("mailer-daemon", "postmaster")


def base_address(recipient: str) -> str:
    """The address without its `+tag`: where `support+t12-…@shop.vn` was sent, `support@shop.vn`."""
    local, _, domain = recipient.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def smtp_url(host: str, port: int) -> str:
    """The SMTP server as a URL, for the checks every outbound connection goes through."""
    return f"https://{f'[{host}]' if ':' in host else host}:{port}/"


def reply_code(key: str, channel_id: UUID, number: int) -> str:
    return hmac.new(key.encode(), f"{channel_id}:{number}".encode(), hashlib.sha256).hexdigest()[:16]


def reply_address(channel: MessagingChannel, key: str, number: int) -> str:
    local, _, domain = str(channel.settings["address"]).partition("@")
    return f"{local}+t{number}-{reply_code(key, channel.id, number)}@{domain}"


def dedupe_key(mail: ParsedMail, raw: bytes) -> str:
    """The Message-ID, or for mail without one a digest of the bytes (a re-sent copy is the same)."""
    return mail.message_id[:500] if mail.message_id else "sha256:" + hashlib.sha256(raw).hexdigest()


def incoming(channel: MessagingChannel, inbound: InboundMessage) -> Incoming | Ignore | Bounce:
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
    return Incoming(
        conversation=sender,
        identity_kind=IdentityKind.email,
        identity=sender,
        name=mail.from_name,
        email=sender,
        body=mail.text or mail.full_text,
        html=mail.html,
        origin=Channel.email,
        subject=clean_subject(mail.subject) or None,
        files=tuple(IncomingFile(item.filename, item.data) for item in mail.attachments),
        automatic=mail.automatic,
        address={"email": sender, "name": mail.from_name},
        hints={
            "message_ids": [*reversed(mail.references), *mail.in_reply_to],
            "recipients": mail.recipients,
            "subject_number": subject_ticket_number(mail.subject),
        },
    )


async def explicit_ticket(
    session: AsyncSession,
    channel: MessagingChannel,
    secrets: dict[str, str],
    message: Incoming,
    contact: Contact,
) -> tuple[Ticket | None, str] | None:
    """The ticket the mail names, and how: `references`, `reply_address` or `subject_token`."""
    workspace_id = channel.workspace_id
    tickets = TicketRepository(session, workspace_id)
    hints = message.hints
    ticket_id = await ticket_of_messages(session, workspace_id, channel.id, hints["message_ids"])
    if ticket_id is not None:
        return await _merged_target(tickets, await tickets.get(ticket_id, for_update=True)), "references"
    key = secrets.get("reply_address_key")
    for recipient in hints["recipients"]:
        addressed = _REPLY_ADDRESS.match(recipient)
        if (
            key is None
            or addressed is None
            or base_address(recipient) != str(channel.settings["address"]).lower()
        ):
            continue
        number = int(addressed["number"])
        if hmac.compare_digest(addressed["code"], reply_code(key, channel.id, number)):
            return await _merged_target(
                tickets, await tickets.by_number(number, for_update=True)
            ), "reply_address"
    number = hints["subject_number"]
    if number is not None:
        ticket = await tickets.by_number(number, for_update=True)
        if ticket is not None and await _participant(session, ticket, contact):
            return await _merged_target(tickets, ticket), "subject_token"
    return None


async def _participant(session: AsyncSession, ticket: Ticket, contact: Contact) -> bool:
    if ticket.requester_id == contact.id:
        return True
    return await CommentRepository(session, ticket.workspace_id).written_by_contact(ticket.id, contact.id)


async def _merged_target(tickets: TicketRepository, ticket: Ticket | None) -> Ticket | None:
    while ticket is not None and ticket.merged_into_id is not None:
        ticket = await tickets.get(ticket.merged_into_id, for_update=True)
    return ticket


async def context(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    """What a reply on the ticket needs to know of its thread: the Message-IDs to refer to, and whether
    the customer's latest mail was automatic."""
    comments = await CommentRepository(session, ticket.workspace_id).with_provider_ids(
        ticket.id, REFERENCES_KEPT
    )
    from_customer = [comment for comment in comments if comment.author_type is CommentAuthor.contact]
    last = from_customer[-1] if from_customer else None
    return {
        "references": [comment.provider_message_id for comment in comments],
        "in_reply_to": last.provider_message_id if last else None,
        "automatic": (last.threading or {}).get("automatic") if last else None,
    }


async def send(reply: Reply) -> Sent | NotSent:
    settings = reply.channel.settings
    if not settings.get("smtp_host"):
        return NotSent("the channel has no SMTP server to send replies through", True)
    to = reply.conversation.address.get("email")
    if not to:
        return NotSent("the conversation has no email address to reply to", True)
    refused = _loop_rule(reply, to)
    if refused:
        return NotSent(refused, True)
    files = await _files(reply)
    if isinstance(files, NotSent):
        return files
    mail = _compose(reply, to, files)
    host, port = str(settings["smtp_host"]), int(settings["smtp_port"])
    security = settings.get("smtp_security", "starttls")
    try:
        connected = await _connect(host, port, reply)
    except UnsafeDestination as unsafe:
        return NotSent(f"the SMTP server may not be called: {unsafe}", True)
    except OSError as unreachable:
        return NotSent(f"the SMTP server could not be reached: {unreachable}"[:1000], False)
    try:
        await aiosmtplib.send(
            mail,
            # Only for TLS: the certificate is checked for the name, and the name is sent as SNI.
            hostname=host.removesuffix("."),
            sock=connected,
            username=settings.get("smtp_username"),
            password=reply.secrets.get("smtp_password") if settings.get("smtp_username") else None,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            timeout=reply.timeout,
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


async def _connect(host: str, port: int, reply: Reply) -> socket.socket:
    """A connection to the SMTP server, made to an address the policy allowed just now: the name is
    resolved once, here, so that a DNS answer that changes (rebinding) cannot lead anywhere else.
    Raises UnsafeDestination, or OSError when no address can be reached in time."""
    async with asyncio.timeout(reply.timeout):
        addresses = await check_destination(smtp_url(host, port), reply.policy, reply.resolve)
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
        return "not sent: the recipient is the channel's own address"
    if local in _SERVICE_SENDERS:
        return f"not sent: the recipient is a mail system ({local})"
    automatic = reply.context.get("automatic")
    if reply.comment.author_type is not CommentAuthor.agent and automatic:
        return f"not sent: automatic replies are never sent to automatic mail ({automatic})"
    return None


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


def _html_of(text: str) -> str:
    """Plain text as HTML: escaped, its paragraphs and line breaks kept."""
    paragraphs = (part.strip("\n") for part in re.split(r"\n\s*\n", text))
    body = "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>" for part in paragraphs if part)
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


def _compose(reply: Reply, to: str, files: list[tuple[Attachment, bytes]]) -> EmailMessage:
    settings, ticket, comment = reply.channel.settings, reply.ticket, reply.comment
    address = str(settings["address"])
    mail = EmailMessage()
    mail["From"] = formataddr((settings.get("display_name") or reply.channel.name, address))
    mail["To"] = formataddr((reply.conversation.address.get("name") or "", to))
    key = reply.secrets.get("reply_address_key")
    if key:
        mail["Reply-To"] = reply_address(reply.channel, key, ticket.number)
    mail["Subject"] = f"[#{ticket.number}] {ticket.subject}"
    # RFC 5322 requires it; servers score mail without it as spam, and some refuse it.
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = make_msgid(domain=address.partition("@")[2])
    if reply.context.get("in_reply_to"):
        mail["In-Reply-To"] = f"<{reply.context['in_reply_to']}>"
    references = [reference for reference in reply.context.get("references", []) if reference]
    if references:
        mail["References"] = " ".join(f"<{reference}>" for reference in references)
    if comment.author_type is not CommentAuthor.agent:
        mail["Auto-Submitted"] = "auto-replied"
    mail.set_content(comment.body)
    # A text and an HTML part: mail clients show the HTML one, filters expect both.
    mail.add_alternative(comment.html_body or _html_of(comment.body), subtype="html")
    for attachment, data in files:
        maintype, _, subtype = attachment.content_type.partition("/")
        # Text is only ever sniffed as such when it is UTF-8; without the charset clients guess ASCII.
        params = {"charset": "utf-8"} if maintype == "text" else {}
        # Non-ASCII names go out per RFC 2231 (filename*=utf-8''…), which mail clients decode.
        mail.add_attachment(data, maintype, subtype, filename=attachment.filename, params=params)
    return mail
