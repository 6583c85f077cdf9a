"""Receiving: check the caller, store the event once, answer at once; a worker threads it after."""

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.attachments.service import PayloadTooLarge, check_uploads
from app.channels import mail, messenger, zalo
from app.channels.chat import CALL, MESSAGE
from app.channels.incoming import ProviderEvent
from app.channels.mail_parsing import parse_mail
from app.channels.repository import InboundRepository, email_channel_for, find_channel
from app.channels.schemas import Accepted, CallIn, MessageIn
from app.channels.service import channel_principal, channel_secrets, secret_matches
from app.config import Settings
from app.errors import AppError, BadRequest, Forbidden, Unauthorized, Unprocessable
from app.kit.crypto import SecretBox
from app.kit.normalization import normalize_email, normalize_phone
from app.kit.schemas import storable_json
from app.models import MessagingChannel
from app.models.enums import ChannelKind

logger = logging.getLogger(__name__)

MAILGUN_MAX_AGE_SECONDS = 15 * 60
CHAT_KINDS = (ChannelKind.chat, ChannelKind.api)


class MailForAnotherChannel(AppError):
    """Mail whose recipient is another channel's address. Mailgun takes a 406 as a refusal and does not
    send it again."""

    status = 406
    code = "wrong_channel"
    title = "Not acceptable"


async def receiving_channel(
    session: AsyncSession, channel_id: UUID, token: str | None, kinds: Collection[ChannelKind] = CHAT_KINDS
) -> MessagingChannel:
    """The channel, when the caller holds its token and it is active. An unknown channel is answered as
    a wrong token is, so that the answer tells nothing to whoever does not hold the token."""
    channel = await find_channel(session, channel_id)
    if (
        channel is None
        or channel.kind not in kinds
        or token is None
        or not secret_matches(channel, "token", token)
    ):
        raise Unauthorized("The channel token is missing or wrong")
    if not channel.active:
        raise Forbidden("The channel is inactive", code="channel_inactive")
    return channel


async def accept_message(
    session: AsyncSession, channel: MessagingChannel, data: MessageIn, settings: Settings
) -> Accepted:
    contact = data.contact
    if contact.email is not None:
        contact.email = _normalized(normalize_email, contact.email, "contact.email")
    if contact.phone is not None:
        contact.phone = _normalized(
            normalize_phone, contact.phone, "contact.phone", settings.default_phone_region
        )
    await _check_attachments(session, channel, data, settings.attachment.max_files_per_comment)
    return await _store(session, channel, data.message_id, MESSAGE, data.model_dump(mode="json"))


async def _check_attachments(
    session: AsyncSession, channel: MessagingChannel, data: MessageIn, max_files: int
) -> None:
    """A message is refused for attachments it cannot carry now, rather than threaded without them."""
    if len(data.attachments) > max_files:
        raise PayloadTooLarge(
            f"At most {max_files} attachments per message",
            field="attachments",
            extra={"max_files": max_files},
        )
    tokens = [file.upload_token for file in data.attachments if file.upload_token is not None]
    await check_uploads(session, channel_principal(channel), tokens)


async def accept_call(
    session: AsyncSession, channel: MessagingChannel, data: CallIn, default_region: str
) -> Accepted:
    data.caller = _normalized(normalize_phone, data.caller, "caller", default_region)
    if data.agent_id is not None:
        agent = await AgentRepository(session, channel.workspace_id).get(data.agent_id)
        if agent is None or not agent.active:
            raise Unprocessable("agent_id: no such active agent", field="agent_id", code="unknown_reference")
    return await _store(session, channel, data.call_id, CALL, data.model_dump(mode="json"))


async def read_limited(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) as soon as it passes `limit` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(
                f"The message is larger than {limit} bytes", extra={"max_message_bytes": limit}
            )
    return bytes(body)


async def accept_mail(session: AsyncSession, channel: MessagingChannel, raw: bytes) -> Accepted:
    """Store a mail as received, once per Message-ID; the payload only summarises it for lists."""
    if not raw.strip():
        raise Unprocessable("The message is empty", field="body")
    parsed = parse_mail(raw)
    summary = {"from": parsed.from_address, "subject": parsed.subject[:500], "message_id": parsed.message_id}
    return await _store(session, channel, mail.dedupe_key(parsed, raw), mail.EMAIL, summary, raw)


def check_mailgun(
    channel: MessagingChannel, secret_box: SecretBox, form: dict[str, str], now: datetime
) -> None:
    """Mailgun signs its routes: hex HMAC-SHA256(signing key, timestamp + token); recent timestamps only."""
    key = channel_secrets(channel, secret_box).get("mailgun_signing_key")
    timestamp, token, signature = form.get("timestamp", ""), form.get("token", ""), form.get("signature", "")
    expected = hmac.new((key or "").encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    fresh = timestamp.isdigit() and abs(now.timestamp() - int(timestamp)) <= MAILGUN_MAX_AGE_SECONDS
    if key is None or not fresh or not hmac.compare_digest(expected, signature.lower()):
        raise Forbidden("The Mailgun signature is missing, wrong or too old", code="bad_signature")


async def check_recipient(session: AsyncSession, channel: MessagingChannel, recipient: str | None) -> None:
    """A route posts mail for the recipient it matched; mail for an address another channel holds is
    that channel's alone, and is refused here, whichever workspace the other channel is in (mail for
    addresses no channel holds, such as aliases forwarded to this one, is this channel's)."""
    for address in (recipient or "").split(","):
        if not address.strip():
            continue
        holder = await email_channel_for(session, mail.base_address(address.strip()))
        if holder is not None and holder.id != channel.id:
            raise MailForAnotherChannel("The mail is for another channel's address", field="recipient")


async def _store(
    session: AsyncSession,
    channel: MessagingChannel,
    provider_message_id: str,
    kind: str,
    payload: dict[str, Any],
    raw: bytes | None = None,
) -> Accepted:
    repo = InboundRepository(session, channel.workspace_id)
    stored_id, duplicate = await repo.store(channel.id, provider_message_id, kind, payload, raw)
    return Accepted(id=stored_id, duplicate=duplicate)


def _normalized(normalize: Callable[..., str], value: str, field: str, *args: str) -> str:
    try:
        return normalize(value, *args)
    except ValueError as error:
        raise Unprocessable(f"{field}: {error}", field=field) from None


async def signed_channel(session: AsyncSession, channel_id: UUID, kind: ChannelKind) -> MessagingChannel:
    """The channel whose provider signs its events; an unknown one is answered as a bad signature is."""
    channel = await find_channel(session, channel_id)
    if channel is None or channel.kind is not kind:
        raise Forbidden("The signature is missing or wrong", code="bad_signature")
    if not channel.active:
        raise Forbidden("The channel is inactive", code="channel_inactive")
    return channel


def verify_handshake(channel: MessagingChannel, mode: str | None, verify_token: str | None) -> None:
    """Meta's subscription check: the verify token must be the channel's."""
    if (
        mode != "subscribe"
        or verify_token is None
        or not secret_matches(channel, "verify_token", verify_token)
    ):
        raise Forbidden("The verify token is wrong", code="bad_verify_token")


async def accept_messenger(
    session: AsyncSession,
    channel: MessagingChannel,
    body: bytes,
    signature: str | None,
    secret_box: SecretBox,
) -> int:
    """Store the customer messages and postbacks of a signed Page webhook that are for the channel's Page;
    returns how many were new."""
    parsed = _signed_json(channel, secret_box, "app_secret", messenger.signature_matches, body, signature)
    events = messenger.customer_events(parsed) if parsed.get("object") == "page" else []
    page_id = str(channel.settings["page_id"])
    for event in events:
        if event.account != page_id:
            await _drop(session, channel, event, f"Page {event.account or '(unclear)'}, not the channel's")
    return await _store_events(session, channel, [event for event in events if event.account == page_id])


async def accept_zalo(
    session: AsyncSession,
    channel: MessagingChannel,
    body: bytes,
    signature: str | None,
    secret_box: SecretBox,
) -> int:
    """Store a signed Zalo OA event if it is one to keep, for the channel's app and OA; returns 1 when it
    was new."""
    parsed = _signed_json(channel, secret_box, "oa_secret_key", zalo.signature_matches, body, signature)
    event = zalo.stored_event(parsed)
    if event is None:
        return 0
    app_id, oa_id = str(parsed.get("app_id")), channel.settings.get("oa_id")
    if app_id != str(channel.settings["app_id"]):
        await _drop(session, channel, event, f"Zalo app {app_id}, not the channel's")
        return 0
    if oa_id is not None and event.account is not None and event.account != oa_id:
        await _drop(session, channel, event, f"OA {event.account}, not the channel's")
        return 0
    return await _store_events(session, channel, [event])


def _signed_json(
    channel: MessagingChannel,
    secret_box: SecretBox,
    secret_name: str,
    verify: Callable[[str, bytes, str | None], bool],
    body: bytes,
    signature: str | None,
) -> dict[str, Any]:
    """The body as a JSON object, once its signature is checked with the channel's secret."""
    if not verify(channel_secrets(channel, secret_box).get(secret_name, ""), body, signature):
        raise Forbidden("The signature is missing or wrong", code="bad_signature")
    return _json_object(body)


async def _store_events(session: AsyncSession, channel: MessagingChannel, events: list[ProviderEvent]) -> int:
    """Store each event once; returns how many were new."""
    new = 0
    for event in events:
        accepted = await _store(session, channel, event.provider_message_id, event.kind, event.payload)
        new += not accepted.duplicate
    return new


async def _drop(session: AsyncSession, channel: MessagingChannel, event: ProviderEvent, whose: str) -> None:
    """An event of another provider account, signed with the channel's secret (one app may serve several
    Pages or OAs): never threaded, it goes in the channel's inbound log as `ignored`, saying whose it
    is, without its content or its sender."""
    key = "sha256:" + hashlib.sha256(event.provider_message_id.encode()).hexdigest()
    repo = InboundRepository(session, channel.workspace_id)
    await repo.store(channel.id, key, event.kind, {}, ignored=f"an event for {whose}: dropped")
    logger.warning("channel %s dropped an event for %s", channel.id, whose)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        raise BadRequest("The body is not JSON", code="malformed_json") from None
    if not isinstance(parsed, dict):
        raise BadRequest("The body is not a JSON object", code="malformed_json")
    return storable_json(parsed)
