from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import CustomFieldEntity, CustomFieldType


class CustomFieldDefinition(WorkspaceScoped, Timestamps, Versioned, Base):
    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("workspace_id", "entity", "key"),)

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    entity: Mapped[CustomFieldEntity] = mapped_column(pg_enum(CustomFieldEntity, "custom_field_entity"))
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[CustomFieldType] = mapped_column(pg_enum(CustomFieldType, "custom_field_type"))
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    pattern: Mapped[str | None] = mapped_column(String(500))
    required: Mapped[bool] = mapped_column(Boolean, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
