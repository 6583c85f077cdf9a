"""Replies as mail: the headers mail servers expect, a text and an HTML part, the files."""

import re
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from html import escape
from typing import Any

from app.channels.adapters.mail.addresses import reply_address
from app.channels.adapters.sending import Reply
from app.kit.texts import text
from app.kit.time import utcnow
from app.models import Attachment
from app.models.enums import CommentAuthor


def _html_of(text: str) -> str:
    """Plain text as HTML: escaped, its paragraphs and line breaks kept."""
    paragraphs = (part.strip("\n") for part in re.split(r"\n\s*\n", text))
    body = "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>" for part in paragraphs if part)
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


def compose(
    reply: Reply, to: str, files: list[tuple[Attachment, bytes]], copied: list[dict[str, Any]]
) -> EmailMessage:
    """The reply to `to`, copied (Cc) to `copied` (each an `email` and a `name`)."""
    settings, ticket, comment = reply.channel.settings, reply.ticket, reply.comment
    address = str(settings["address"])
    mail = EmailMessage()
    mail["From"] = formataddr((settings.get("display_name") or reply.channel.name, address))
    mail["To"] = formataddr((reply.conversation.address.get("name") or "", to))
    if copied:
        mail["Cc"] = ", ".join(formataddr((person["name"] or "", person["email"])) for person in copied)
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
    body, html = comment.body, comment.html_body or _html_of(comment.body)
    link = reply.context.get("customer_link")
    if link:
        # The ticket's page, where the customer can read the whole thread and answer.
        footer = text(link["locale"], "customer_link_footer", url=link["url"])
        body = f"{body}\n\n-- \n{footer}"
        html = f"{html}<p>{escape(footer)}</p>"
    mail.set_content(body)
    # A text and an HTML part: mail clients show the HTML one, filters expect both.
    mail.add_alternative(html, subtype="html")
    for attachment, data in files:
        maintype, _, subtype = attachment.content_type.partition("/")
        # Text is only ever sniffed as such when it is UTF-8; without the charset clients guess ASCII.
        params = {"charset": "utf-8"} if maintype == "text" else {}
        # Non-ASCII names go out per RFC 2231 (filename*=utf-8''…), which mail clients decode.
        mail.add_attachment(data, maintype, subtype, filename=attachment.filename, params=params)
    return mail
