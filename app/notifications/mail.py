"""Notification emails as mail: from the notification channel's address, plain text."""

from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from app.channels.adapters.mail.addresses import reply_address
from app.kit.time import utcnow
from app.models import MessagingChannel, NotificationEmail, Ticket

REQUESTER = "requester"


def compose_email(
    email: NotificationEmail, channel: MessagingChannel, secrets: dict[str, str], ticket: Ticket | None
) -> EmailMessage:
    """The mail of a queued notification email; one to the requester answers to the ticket's reply
    address, so that their answer lands on the ticket. Raises ValueError for a header mail cannot carry."""
    settings = channel.settings
    address = str(settings["address"])
    mail = EmailMessage()
    mail["From"] = formataddr((settings.get("display_name") or channel.name, address))
    mail["To"] = formataddr((email.to_name or "", email.to_address))
    mail["Subject"] = email.subject
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = f"<{email.message_id}>"
    # Written by the service, not by a person (RFC 3834): auto-responders leave it unanswered.
    mail["Auto-Submitted"] = "auto-generated"
    key = secrets.get("reply_address_key")
    if key and ticket is not None and email.recipient_type == REQUESTER:
        mail["Reply-To"] = reply_address(channel, key, ticket.number)
    mail.set_content(email.body)
    return mail
