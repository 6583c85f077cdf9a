from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import ActorType, DataRequestKind, DataRequestStatus


class DataRequest(WorkspaceScoped, Base):
    """A customer's request about their personal data: a copy of it (export) or its erasure, carried out
    by a worker in steps of bounded batches, its progress kept here."""

    __tablename__ = "data_requests"
    __table_args__ = (
        Index("ix_data_requests_workspace_id_contact_id_id", "workspace_id", "contact_id", "id"),
        # One erasure per contact: asking again finds the first.
        Index(
            "uq_data_requests_workspace_id_contact_id_erase",
            "workspace_id",
            "contact_id",
            unique=True,
            postgresql_where=text("kind = 'erase'"),
        ),
        # What workers claim, across workspaces: the few requests not done yet.
        Index(
            "ix_data_requests_due",
            "leased_until",
            postgresql_where=text("status IN ('pending', 'running')"),
        ),
        # Archives whose time to be downloaded runs out.
        Index(
            "ix_data_requests_expires_at",
            "expires_at",
            postgresql_where=text("storage_key IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    # No foreign key: a request outlives its contact's deletion, so that its archive is still deleted
    # when its time runs out.
    contact_id: Mapped[UUID]
    kind: Mapped[DataRequestKind] = mapped_column(pg_enum(DataRequestKind, "data_request_kind"))
    status: Mapped[DataRequestStatus] = mapped_column(
        pg_enum(DataRequestStatus, "data_request_status"), server_default=DataRequestStatus.pending.value
    )
    requested_by_type: Mapped[ActorType] = mapped_column(pg_enum(ActorType, "actor_type"))
    requested_by_id: Mapped[UUID]
    # Progress: the steps done (app/privacy/erasure.py `ERASERS`), where the current one resumes, and
    # the rows handled so far.
    steps_done: Mapped[int] = mapped_column(Integer, server_default="0")
    step_cursor: Mapped[UUID | None]
    rows_processed: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Stored files a batch took off the database, deleted from storage after its commit: a crash in
    # between leaves them here for the next round, so no file outlives its erasure.
    files_to_delete: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    # A worker carrying the request holds it until then; if it dies, another takes it over.
    leased_until: Mapped[datetime | None]
    # The export's archive in the attachments' storage, until `expires_at`.
    storage_key: Mapped[str | None] = mapped_column(String(64))
    archive_size: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
