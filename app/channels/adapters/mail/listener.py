"""Mail received by SMTP (aiosmtpd), for businesses whose MX or relay hands mail to the service.

A recipient is accepted only when it is (a `+tag` of) an active email channel's address; the mail is
stored for the one channel whose address each recipient is (an address belongs to one channel in the
whole service) before the server answers 250, so an accepted mail is never lost, and a mail the
database could not take is answered 451 for the sender to try again.
"""

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from app.channels.adapters.mail.addresses import base_address
from app.channels.intake import accept_mail
from app.channels.repository import email_channel_for
from app.config import Settings
from app.db import Database

logger = logging.getLogger(__name__)


class InboundMail:
    """The aiosmtpd handler."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            async with self.db.sessionmaker() as db_session:
                channel = await email_channel_for(db_session, base_address(address))
        except Exception:
            logger.exception("looking up the channel of %s failed", address)
            return "451 4.3.0 Try again later"
        if channel is None or not channel.active:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw or "").encode()
        addresses = dict.fromkeys(base_address(recipient) for recipient in envelope.rcpt_tos)
        try:
            async with self.db.sessionmaker() as db_session, db_session.begin():
                for address in addresses:
                    channel = await email_channel_for(db_session, address)
                    if channel is not None and channel.active:
                        await accept_mail(db_session, channel, raw)
        except Exception:
            logger.exception("storing mail for %s failed", ", ".join(addresses))
            return "451 4.3.0 Try again later"
        return "250 Message accepted"


async def serve_smtp(db: Database, settings: Settings, stopping: asyncio.Event, **options: Any) -> None:
    """Listen on HELPDESK_EMAIL_LISTEN_HOST:PORT until `stopping` is set."""
    handler = InboundMail(db)
    limit = settings.email.max_message_bytes
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, data_size_limit=limit, enable_SMTPUTF8=True, decode_data=False, **options),
        host=settings.email.listen_host,
        port=settings.email.listen_port,
    )
    logger.info("receiving mail by SMTP on %s:%s", settings.email.listen_host, settings.email.listen_port)
    async with server:
        await stopping.wait()
