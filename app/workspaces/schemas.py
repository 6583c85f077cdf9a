from datetime import datetime
from uuid import UUID

from app.kit.schemas import Name, ResponseModel, UpdateModel


class WorkspaceOut(ResponseModel):
    id: UUID
    name: str
    created_at: datetime
    updated_at: datetime


class WorkspaceUpdate(UpdateModel):
    name: Name = None
