"""Channels as admins set them up; secrets are write-only, hashed or encrypted."""

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.categories.repository import CategoryRepository
from app.channels.adapters import adapter_for
from app.channels.adapters.sending import SecretsSaver
from app.channels.repository import BY_NAME, NEWEST_FIRST, ChannelRepository, InboundRepository
from app.channels.schemas import (
    HASHED_SECRETS,
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    TicketDefaults,
)
from app.config import Settings
from app.db import Database
from app.errors import Conflict, NotFound, Unprocessable
from app.groups.repository import GroupRepository
from app.kit.crypto import SecretBox, hash_secret
from app.kit.ids import new_id
from app.kit.outbound import checked_url
from app.kit.pagination import PageParams
from app.models import InboundMessage, MessagingChannel
from app.models.enums import ActorType, ChannelKind, InboundState, Role, StatusKind
from app.statuses.repository import StatusRepository

ModelT = TypeVar("ModelT", bound=BaseModel)


def channel_secrets(channel: MessagingChannel, secret_box: SecretBox) -> dict[str, str]:
    """The channel's encrypted secrets, readable (empty when none are set)."""
    if channel.secrets_encrypted is None:
        return {}
    plaintext = secret_box.decrypt(channel.secrets_encrypted)
    if plaintext is None:
        raise RuntimeError(f"the secrets of channel {channel.id} were encrypted under another key")
    return json.loads(plaintext)


def secrets_saver(db: Database, secret_box: SecretBox, channel: MessagingChannel) -> SecretsSaver:
    """Replaces the channel's secrets under its row lock and commits at once: a refresh token is single
    use, so two workers refreshing at the same time would lose the pair (the second sees the first's)."""

    async def save(change: Callable[[dict[str, str]], Awaitable[dict[str, str]]]) -> dict[str, str]:
        async with db.sessionmaker() as session, session.begin():
            repo = ChannelRepository(session, channel.workspace_id)
            locked = await repo.get(channel.id, for_update=True)
            if locked is None:
                return {}
            current = channel_secrets(locked, secret_box)
            changed = await change(current)
            if changed != current:
                locked.secrets_encrypted = secret_box.encrypt(json.dumps(changed))
            return changed

    return save


def channel_principal(channel: MessagingChannel) -> Principal:
    """What the channel does (its uploads, the tickets and comments it makes) is done as this."""
    return Principal(channel.workspace_id, Role.admin, ActorType.channel, channel.id)


def present(channel: MessagingChannel, secret_box: SecretBox) -> ChannelOut:
    adapter = adapter_for(channel.kind)
    return ChannelOut(
        id=channel.id,
        kind=channel.kind,
        name=channel.name,
        active=channel.active,
        settings=channel.settings,
        secrets_set=sorted([*channel.secret_hashes, *channel_secrets(channel, secret_box)]),
        settings_taken=[
            f"settings.{name}"
            for column, name in adapter.claims.items()
            if channel.settings.get(name) is not None and getattr(channel, column) is None
        ],
        defaults=TicketDefaults(
            group_id=channel.default_group_id,
            category_id=channel.default_category_id,
            priority=channel.default_priority,
            tags=channel.default_tags,
        ),
        inbound_urls=adapter.inbound_urls(channel),
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
    kind = ChannelKind(data.kind)
    adapter = adapter_for(kind)
    checked = await _checked_settings(data.settings.model_dump(mode="json"), settings, kind)
    await _check_automatic_mail(session, workspace_id, checked)
    channel = MessagingChannel(
        id=new_id(),
        kind=kind,
        name=data.name,
        active=data.active,
        settings=checked,
        secret_hashes={},
        **adapter.claimed(checked),
        **await _default_values(session, workspace_id, data.defaults),
    )
    sent = {**data.secrets.model_dump(exclude_unset=True), **adapter.generated_secrets()}
    for name, value in _secret_values(channel, sent, secret_box).items():
        setattr(channel, name, value)
    _check_secrets(channel, secret_box)
    repo = ChannelRepository(session, workspace_id)
    channel = await repo.add(channel)
    await _hold_claims(repo, channel, adapter.claimed(checked))
    return channel


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
    adapter = adapter_for(channel.kind)
    if data.settings is not None:
        merged = _validated(adapter.settings_model, {**channel.settings, **data.settings}, "settings")
        values["settings"] = await _checked_settings(merged.model_dump(mode="json"), settings, channel.kind)
        await _check_automatic_mail(session, workspace_id, values["settings"])
    claims = None
    if data.settings is not None or values.get("active"):
        # A channel that lost its claims to an older one gets them back only by asking again.
        claims = adapter.claimed(values.get("settings", channel.settings))
        values.update(claims)
    if data.defaults is not None:
        values.update(await _default_values(session, workspace_id, data.defaults))
    if data.secrets is not None:
        _validated(adapter.secrets_model, data.secrets, "secrets")
        values.update(_secret_values(channel, data.secrets, secret_box))
    repo = ChannelRepository(session, workspace_id)
    updated = await repo.update(channel, values)
    if claims is not None:
        await _hold_claims(repo, updated, claims)
    _check_secrets(updated, secret_box)
    return updated


async def delete_channel(session: AsyncSession, workspace_id: UUID, channel: MessagingChannel) -> None:
    repo = ChannelRepository(session, workspace_id)
    if await repo.in_use(channel.id):
        raise Conflict(
            "Tickets came in on this channel and reply through it; deactivate it instead (active: false)",
            code="channel_in_use",
        )
    await repo.hold_claims(channel, {})
    await repo.delete(channel)


async def _hold_claims(repo: ChannelRepository, channel: MessagingChannel, claims: dict[str, Any]) -> None:
    """A claim another channel holds is a 409 naming the setting, never the channel or its workspace:
    the answer is the same whoever holds it. The database decides, so that of two channels saved at
    once with one address, one is refused."""
    column = await repo.hold_claims(channel, claims)
    if column is not None:
        name = adapter_for(channel.kind).claims[column]
        raise Conflict(
            f"settings.{name}: another channel already receives for it",
            field=f"settings.{name}",
            code="address_taken",
        )


async def _checked_settings(values: dict[str, Any], settings: Settings, kind: ChannelKind) -> dict[str, Any]:
    """The settings, once every URL an admin set in them, and every server they name, is one the service
    may call (the providers' own endpoints, the defaults, are not looked up)."""
    adapter = adapter_for(kind)
    for name in ("callback_url", "graph_base_url", "api_base_url", "oauth_base_url"):
        field = adapter.settings_model.model_fields.get(name)
        if values.get(name) is None or field is None or values[name] == _text(field.default):
            continue
        await checked_url(values[name], settings, field=f"settings.{name}")
    for name, url in adapter.servers(values).items():
        await checked_url(url, settings, field=f"settings.{name}")
    return values


async def _check_automatic_mail(session: AsyncSession, workspace_id: UUID, values: dict[str, Any]) -> None:
    """Automatic mail is filed in a status of the workspace that keeps it out of the queue: an active one
    of kind solved (no SLA clock, no assignee)."""
    if values.get("automatic_mail") != "file":
        return
    field = "settings.automatic_mail_status_id"
    status_id = values.get("automatic_mail_status_id")
    if status_id is None:
        raise Unprocessable(f"{field}: required to file automatic mail", field=field)
    status = await StatusRepository(session, workspace_id).get(UUID(status_id))
    if status is None:
        raise Unprocessable(f"{field}: no such status", field=field, code="unknown_reference")
    if status.kind is not StatusKind.solved or not status.active:
        raise Unprocessable(
            f"{field}: the status {status.name!r} is not an active status of kind solved, which keeps "
            "tickets out of the queue",
            field=field,
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _validated(model: type[ModelT], values: dict[str, Any], prefix: str) -> ModelT:
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join([prefix, *(str(part) for part in first["loc"])])
        raise Unprocessable(f"{field}: {first['msg']}", field=field) from None


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
    channel: MessagingChannel, sent: dict[str, str | None], secret_box: SecretBox
) -> dict[str, Any]:
    """The secrets sent, applied: hashed ones in `secret_hashes`, the rest in the encrypted object."""
    hashes = dict(channel.secret_hashes)
    readable = channel_secrets(channel, secret_box)
    for name, value in sent.items():
        target: dict[str, str] = hashes if name in HASHED_SECRETS else readable
        if value is None:
            target.pop(name, None)
        else:
            target[name] = hash_secret(value) if name in HASHED_SECRETS else value
    encrypted = secret_box.encrypt(json.dumps(readable)) if readable else None
    return {"secret_hashes": hashes, "secrets_encrypted": encrypted}


def _check_secrets(channel: MessagingChannel, secret_box: SecretBox) -> None:
    """The kind's required secrets are set; replies are never sent unsigned (a callback URL needs its
    secret)."""
    present = {*channel.secret_hashes, *channel_secrets(channel, secret_box)}
    for name in adapter_for(channel.kind).required_secrets:
        if name not in present:
            raise Unprocessable(
                f"secrets.{name}: required for a {channel.kind.value} channel", field=f"secrets.{name}"
            )
    if channel.settings.get("callback_url") and "callback_secret" not in present:
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
