"""channel claims

Revision ID: 066de4833f7d
Revises: 3b9e2f4c7a10
Create Date: 2026-12-07 09:30:00.000000+00:00
"""

import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "066de4833f7d"
down_revision: str | None = "3b9e2f4c7a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")


def _base_address(address: str) -> str:
    """As the service reads an address: lower case, without its `+tag` (a copy, frozen with the
    revision)."""
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _claims(kind: str, settings: dict[str, Any]) -> dict[str, str]:
    """What a channel receives for, by column, as the service takes it from the settings."""
    if kind == "email":
        found = {"claimed_address": _base_address(settings["address"]) if settings.get("address") else None}
    elif kind == "messenger":
        found = {"claimed_account_id": settings.get("page_id")}
    elif kind == "zalo":
        found = {"claimed_account_id": settings.get("oa_id"), "claimed_app_id": settings.get("app_id")}
    else:
        found = {}
    return {column: str(value) for column, value in found.items() if value is not None}


def upgrade() -> None:
    op.add_column("channels", sa.Column("claimed_address", sa.String(length=320), nullable=True))
    op.add_column("channels", sa.Column("claimed_account_id", sa.String(length=64), nullable=True))
    op.add_column("channels", sa.Column("claimed_app_id", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    channels = bind.execute(
        sa.text("SELECT workspace_id, id, kind, CAST(settings AS text) FROM channels ORDER BY created_at, id")
    ).all()
    # The oldest channel keeps what it receives for. A newer one with any of it (the way one workspace
    # could receive another's mail) holds none of its claims and is deactivated: its admin sees it
    # inactive, with `settings_taken` saying what another channel holds.
    held: set[tuple[str, str, str]] = set()
    for workspace_id, channel_id, kind, settings in channels:
        claims = _claims(str(kind), json.loads(settings))
        keys = {(column, str(kind), value) for column, value in claims.items()}
        key = {"workspace_id": workspace_id, "id": channel_id}
        if keys & held:
            bind.execute(
                sa.text(
                    "UPDATE channels SET active = false, version = version + 1, updated_at = now() "
                    "WHERE workspace_id = :workspace_id AND id = :id"
                ),
                key,
            )
            logger.warning(
                "channel %s of workspace %s deactivated: an older channel holds its address or account",
                channel_id,
                workspace_id,
            )
        elif claims:
            held |= keys
            columns = ", ".join(f"{column} = :{column}" for column in claims)
            bind.execute(
                sa.text(f"UPDATE channels SET {columns} WHERE workspace_id = :workspace_id AND id = :id"),
                {**key, **claims},
            )
    op.create_index("uq_channels_claimed_address", "channels", ["claimed_address"], unique=True)
    op.create_index(
        "uq_channels_kind_claimed_account_id", "channels", ["kind", "claimed_account_id"], unique=True
    )
    op.create_index("uq_channels_kind_claimed_app_id", "channels", ["kind", "claimed_app_id"], unique=True)


def downgrade() -> None:
    # Channels deactivated by the upgrade stay inactive: nothing tells them from others any more.
    op.drop_index("uq_channels_kind_claimed_app_id", table_name="channels")
    op.drop_index("uq_channels_kind_claimed_account_id", table_name="channels")
    op.drop_index("uq_channels_claimed_address", table_name="channels")
    op.drop_column("channels", "claimed_app_id")
    op.drop_column("channels", "claimed_account_id")
    op.drop_column("channels", "claimed_address")
