from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.kit.schemas import ResponseModel
from app.models.enums import ActorType, DataRequestKind, DataRequestStatus


class RequestedBy(BaseModel):
    type: ActorType
    id: UUID


class DataRequestProgress(BaseModel):
    steps_total: int = Field(description="The steps the request goes through")
    steps_done: int
    current_step: str | None = Field(description="The step under way; null once the request is completed")
    rows_processed: int = Field(description="Rows read (export) or erased and redacted (erase) so far")


class DataRequestOut(ResponseModel):
    id: UUID
    contact_id: UUID
    kind: DataRequestKind
    status: DataRequestStatus = Field(
        description="`pending`, `running`, `completed`; `expired` for an export whose archive was deleted"
    )
    progress: DataRequestProgress
    requested_by: RequestedBy
    archive_size: int | None = Field(description="The export's archive, in bytes, once it is ready")
    expires_at: datetime | None = Field(description="Until when the export's archive may be downloaded")
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
