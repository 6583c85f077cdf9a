from datetime import datetime
from uuid import UUID

from app.kit.schemas import RequestModel, ResponseModel
from app.models.enums import PresenceState


class PresenceUpdate(RequestModel):
    state: PresenceState


class PresenceOut(ResponseModel):
    agent_id: UUID
    name: str
    state: PresenceState
    expires_at: datetime
