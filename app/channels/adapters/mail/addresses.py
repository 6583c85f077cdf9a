"""Mail addresses: a channel's own, and the reply addresses that name a ticket (`local+t<number>-<code>@
domain`, the code an HMAC so that nobody can write into a ticket by guessing one)."""

import hashlib
import hmac
import re
from uuid import UUID

from app.models import MessagingChannel

REPLY_ADDRESS = re.compile(
    r"^(?P<local>[^+@]+)\+t(?P<number>[0-9]{1,18})-(?P<code>[0-9a-f]{16})@(?P<domain>.+)$"
)


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
