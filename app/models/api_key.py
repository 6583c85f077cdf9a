from datetime import datetime
from uuid import UUID

from sqlalchemy import ARRAY, ForeignKey, Index, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import Role


class ApiKey(WorkspaceScoped, Base):
    __tablename__ = "api_keys"
    # Keys are found by their hash alone. Not a unique index: one must include workspace_id to distribute
    # by workspace (docs/distribution.md); the hash of a random key is unique by construction.
    __table_args__ = (Index("ix_api_keys_key_hash", "key_hash"),)

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(pg_enum(Role, "role"))
    # What the key may do within its role; NULL: all its role may.
    scopes: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AgentTokenSecret(WorkspaceScoped, Base):
    """The HS256 secret agent tokens of a workspace are signed with; retired secrets keep working briefly."""

    __tablename__ = "agent_token_secrets"
    # Tokens name their secret by id (the JWT `kid`), before the workspace is known. Not a unique index
    # (see ix_api_keys_key_hash): ids are made by the service, unique by construction.
    __table_args__ = (
        Index("ix_agent_token_secrets_id", "id"),
        Index(
            "uq_agent_token_secrets_workspace_id_current",
            "workspace_id",
            unique=True,
            postgresql_where=text("expires_at IS NULL"),
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime | None]
