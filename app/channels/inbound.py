"""Receiving: check the caller, store the event once, answer at once; a worker threads it after."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.channels.chat import CALL, MESSAGE
from app.channels.repository import InboundRepository, find_channel
from app.channels.schemas import Accepted, CallIn, MessageIn
from app.channels.service import secret_matches
from app.contacts.normalization import normalize_email, normalize_phone
from app.errors import Forbidden, Unauthorized, Unprocessable
from app.models import MessagingChannel


async def receiving_channel(session: AsyncSession, channel_id: UUID, token: str | None) -> MessagingChannel:
    """The channel, when the caller holds its token and it is active. An unknown channel is answered as
    a wrong token is, so that the answer tells nothing to whoever does not hold the token."""
    channel = await find_channel(session, channel_id)
    if channel is None or token is None or not secret_matches(channel, "token", token):
        raise Unauthorized("The channel token is missing or wrong")
    if not channel.active:
        raise Forbidden("The channel is inactive", code="channel_inactive")
    return channel


async def accept_message(
    session: AsyncSession, channel: MessagingChannel, data: MessageIn, default_region: str
) -> Accepted:
    contact = data.contact
    if contact.email is not None:
        contact.email = _normalized(normalize_email, contact.email, "contact.email")
    if contact.phone is not None:
        contact.phone = _normalized(normalize_phone, contact.phone, "contact.phone", default_region)
    return await _store(session, channel, data.message_id, MESSAGE, data.model_dump(mode="json"))


async def accept_call(
    session: AsyncSession, channel: MessagingChannel, data: CallIn, default_region: str
) -> Accepted:
    data.caller = _normalized(normalize_phone, data.caller, "caller", default_region)
    if data.agent_id is not None:
        agent = await AgentRepository(session, channel.workspace_id).get(data.agent_id)
        if agent is None or not agent.active:
            raise Unprocessable("agent_id: no such active agent", field="agent_id", code="unknown_reference")
    return await _store(session, channel, data.call_id, CALL, data.model_dump(mode="json"))


async def _store(
    session: AsyncSession,
    channel: MessagingChannel,
    provider_message_id: str,
    kind: str,
    payload: dict[str, Any],
) -> Accepted:
    repo = InboundRepository(session, channel.workspace_id)
    stored_id, duplicate = await repo.store(channel.id, provider_message_id, kind, payload)
    return Accepted(id=stored_id, duplicate=duplicate)


def _normalized(normalize: Callable[..., str], value: str, field: str, *args: str) -> str:
    try:
        return normalize(value, *args)
    except ValueError as error:
        raise Unprocessable(f"{field}: {error}", field=field) from None
