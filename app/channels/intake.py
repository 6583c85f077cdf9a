"""The intake: check the caller, store the event once, answer at once; a worker threads it after. What a
provider's request looks like, and how it is signed, is its adapter's business."""

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any
from uuid import UUID

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.attachments.service import PayloadTooLarge, check_uploads
from app.channels.adapters import adapter_for
from app.channels.adapters.chat import CALL, MESSAGE
from app.channels.adapters.mail.adapter import EMAIL, dedupe_key
from app.channels.adapters.mail.addresses import base_address
from app.channels.adapters.mail.parsing import parse_mail
from app.channels.adapters.messages import ProviderEvent
from app.channels.repository import InboundRepository, email_channel_for, find_channel
from app.channels.schemas import Accepted, CallIn, MessageIn
from app.channels.service import channel_principal, channel_secrets
from app.config import Settings
from app.errors import AppError, BadRequest, Forbidden, Unauthorized, Unprocessable
from app.kit.crypto import SecretBox, secret_matches
from app.kit.logs import current_context
from app.kit.normalization import normalize_email, normalize_phone
from app.kit.schemas import storable_json
from app.models import MessagingChannel
from app.models.enums import ChannelKind

logger = logging.getLogger(__name__)

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
        or not secret_matches(channel.secret_hashes.get("token"), token)
    ):
        raise Unauthorized("The channel token is missing or wrong")
    return _admitted(channel)


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
    return await _store(session, channel, dedupe_key(parsed, raw), EMAIL, summary, raw)


async def check_recipient(session: AsyncSession, channel: MessagingChannel, recipient: str | None) -> None:
    """A route posts mail for the recipient it matched; mail for an address another channel holds is
    that channel's alone, and is refused here, whichever workspace the other channel is in (mail for
    addresses no channel holds, such as aliases forwarded to this one, is this channel's)."""
    for address in (recipient or "").split(","):
        if not address.strip():
            continue
        holder = await email_channel_for(session, base_address(address.strip()))
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
    return _admitted(channel)


def _admitted(channel: MessagingChannel) -> MessagingChannel:
    """The channel the request is for, once it is active; the request is logged as the channel's."""
    current_context().update(workspace_id=str(channel.workspace_id), credential=f"channel:{channel.id}")
    if not channel.active:
        raise Forbidden("The channel is inactive", code="channel_inactive")
    return channel


async def accept_webhook(
    session: AsyncSession,
    channel: MessagingChannel,
    body: bytes,
    headers: Mapping[str, str],
    secret_box: SecretBox,
) -> int:
    """Store the events worth keeping of a provider's webhook request, once its signature is checked with
    the channel's secrets; returns how many were new. Events for another account of the provider are
    dropped."""
    adapter = adapter_for(channel.kind)
    if not adapter.verify(channel_secrets(channel, secret_box), body, headers):
        raise Forbidden("The signature is missing or wrong", code="bad_signature")
    events = adapter.events(channel, _json_object(body))
    for event in events:
        if event.foreign is not None:
            await _drop(session, channel, event, event.foreign)
    return await _store_events(session, channel, [event for event in events if event.foreign is None])


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
