"""Channels as admins set them up; secrets are write-only, hashed or encrypted."""

import hashlib
import hmac
import json
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.categories.repository import CategoryRepository
from app.channels.repository import BY_NAME, NEWEST_FIRST, ChannelRepository, InboundRepository
from app.channels.schemas import (
    HASHED_SECRETS,
    ChannelCreate,
    ChannelOut,
    ChannelSecrets,
    ChannelUpdate,
    InboundUrls,
    TicketDefaults,
)
from app.config import Settings
from app.errors import Conflict, NotFound, Unprocessable
from app.groups.repository import GroupRepository
from app.kit.crypto import SecretBox
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.models import InboundMessage, MessagingChannel
from app.models.enums import InboundState
from app.webhooks.service import checked_url


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(channel: MessagingChannel, name: str, value: str) -> bool:
    expected = channel.secret_hashes.get(name)
    return expected is not None and hmac.compare_digest(expected, hash_secret(value))


def channel_secrets(channel: MessagingChannel, secret_box: SecretBox) -> dict[str, str]:
    """The channel's encrypted secrets, readable (empty when none are set)."""
    if channel.secrets_encrypted is None:
        return {}
    plaintext = secret_box.decrypt(channel.secrets_encrypted)
    if plaintext is None:
        raise RuntimeError(f"the secrets of channel {channel.id} were encrypted under another key")
    return json.loads(plaintext)


def present(channel: MessagingChannel, secret_box: SecretBox) -> ChannelOut:
    base = f"/v1/channels/{channel.id}"
    return ChannelOut(
        id=channel.id,
        kind=channel.kind,
        name=channel.name,
        active=channel.active,
        settings=channel.settings,
        secrets_set=sorted([*channel.secret_hashes, *channel_secrets(channel, secret_box)]),
        defaults=TicketDefaults(
            group_id=channel.default_group_id,
            category_id=channel.default_category_id,
            priority=channel.default_priority,
            tags=channel.default_tags,
        ),
        inbound_urls=InboundUrls(messages=f"{base}/messages", calls=f"{base}/calls"),
        created_at=channel.created_at,
        updated_at=channel.updated_at,
        version=channel.version,
    )


async def get_channel(
    session: AsyncSession, workspace_id: UUID, channel_id: UUID, *, for_update: bool = False
) -> MessagingChannel:
    return await ChannelRepository(session, workspace_id).get_or_404(channel_id, for_update=for_update)


async def list_channels(
    session: AsyncSession, workspace_id: UUID, page: PageParams, *, kind: str | None, active: bool | None
) -> tuple[list[MessagingChannel], str | None]:
    repo = ChannelRepository(session, workspace_id)
    return await repo.paginate(repo.filtered(kind=kind, active=active), BY_NAME, page)


async def create_channel(
    session: AsyncSession, workspace_id: UUID, data: ChannelCreate, settings: Settings, secret_box: SecretBox
) -> MessagingChannel:
    if data.secrets.token is None:
        raise Unprocessable(
            "secrets.token: a channel needs a token to receive messages", field="secrets.token"
        )
    channel = MessagingChannel(
        id=new_id(),
        kind=data.kind,
        name=data.name,
        active=data.active,
        settings=await _checked_settings(data.settings.model_dump(mode="json"), settings),
        secret_hashes={},
        **await _default_values(session, workspace_id, data.defaults),
    )
    for name, value in _secret_values(channel, data.secrets, secret_box).items():
        setattr(channel, name, value)
    _require_signing(channel, secret_box)
    return await ChannelRepository(session, workspace_id).add(channel)


async def update_channel(
    session: AsyncSession,
    workspace_id: UUID,
    channel: MessagingChannel,
    data: ChannelUpdate,
    settings: Settings,
    secret_box: SecretBox,
) -> MessagingChannel:
    values: dict[str, Any] = {
        name: getattr(data, name) for name in data.model_fields_set & {"name", "active"}
    }
    if data.settings is not None:
        values["settings"] = await _checked_settings(data.settings.model_dump(mode="json"), settings)
    if data.defaults is not None:
        values.update(await _default_values(session, workspace_id, data.defaults))
    if data.secrets is not None:
        if "token" in data.secrets.model_fields_set and data.secrets.token is None:
            raise Unprocessable(
                "secrets.token: the token can be replaced, not removed", field="secrets.token"
            )
        values.update(_secret_values(channel, data.secrets, secret_box))
    updated = await ChannelRepository(session, workspace_id).update(channel, values)
    _require_signing(updated, secret_box)
    return updated


async def delete_channel(session: AsyncSession, workspace_id: UUID, channel: MessagingChannel) -> None:
    repo = ChannelRepository(session, workspace_id)
    if await repo.in_use(channel.id):
        raise Conflict(
            "Tickets came in on this channel and reply through it; deactivate it instead (active: false)",
            code="channel_in_use",
        )
    await repo.delete(channel)


async def _checked_settings(values: dict[str, Any], settings: Settings) -> dict[str, Any]:
    if values.get("callback_url") is not None:
        await checked_url(values["callback_url"], settings, field="settings.callback_url")
    return values


async def _default_values(
    session: AsyncSession, workspace_id: UUID, defaults: TicketDefaults
) -> dict[str, Any]:
    if defaults.group_id is not None and not await GroupRepository(session, workspace_id).exists(
        defaults.group_id
    ):
        raise Unprocessable(
            "defaults.group_id: no such group", field="defaults.group_id", code="unknown_reference"
        )
    if defaults.category_id is not None and not await CategoryRepository(session, workspace_id).exists(
        defaults.category_id
    ):
        raise Unprocessable(
            "defaults.category_id: no such category", field="defaults.category_id", code="unknown_reference"
        )
    return {
        "default_group_id": defaults.group_id,
        "default_category_id": defaults.category_id,
        "default_priority": defaults.priority,
        "default_tags": defaults.tags,
    }


def _secret_values(
    channel: MessagingChannel, secrets: ChannelSecrets, secret_box: SecretBox
) -> dict[str, Any]:
    """The secrets sent, applied: hashed ones in `secret_hashes`, the rest in the encrypted object."""
    hashes = dict(channel.secret_hashes)
    readable = channel_secrets(channel, secret_box)
    for name in secrets.model_fields_set:
        value = getattr(secrets, name)
        target: dict[str, str] = hashes if name in HASHED_SECRETS else readable
        if value is None:
            target.pop(name, None)
        else:
            target[name] = hash_secret(value) if name in HASHED_SECRETS else value
    encrypted = secret_box.encrypt(json.dumps(readable)) if readable else None
    return {"secret_hashes": hashes, "secrets_encrypted": encrypted}


def _require_signing(channel: MessagingChannel, secret_box: SecretBox) -> None:
    """Replies are never sent unsigned: a callback URL needs its secret."""
    if channel.settings.get("callback_url") and "callback_secret" not in channel_secrets(channel, secret_box):
        raise Unprocessable(
            "secrets.callback_secret: a callback_url needs a callback_secret to sign replies with",
            field="secrets.callback_secret",
        )


async def list_inbound(
    session: AsyncSession, workspace_id: UUID, channel_id: UUID, page: PageParams, state: InboundState | None
) -> tuple[list[InboundMessage], str | None]:
    repo = InboundRepository(session, workspace_id)
    return await repo.paginate(repo.of_channel(channel_id, state), NEWEST_FIRST, page)


async def get_inbound(
    session: AsyncSession, workspace_id: UUID, channel_id: UUID, inbound_id: UUID
) -> InboundMessage:
    found = await InboundRepository(session, workspace_id).get(inbound_id)
    if found is None or found.channel_id != channel_id:
        raise NotFound("Inbound message")
    return found
