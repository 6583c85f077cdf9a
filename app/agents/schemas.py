from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from app.kit.schemas import Name, RequestModel, ResponseModel, UpdateModel
from app.models import Agent
from app.models.enums import Availability, Role, TicketAccess

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Capacity = Annotated[int, Field(ge=0, le=1000, description="How many open tickets the agent can hold")]
Skill = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _normalise_skills(skills: list[str]) -> list[str]:
    return list(dict.fromkeys(skill.lower() for skill in skills))


Skills = Annotated[
    list[Skill],
    Field(max_length=50, description="Lowercased and de-duplicated"),
    AfterValidator(_normalise_skills),
]


class AgentCreate(RequestModel):
    external_id: ExternalId = Field(description="The agent's id in the CRM; unique in the workspace")
    name: Name
    email: Email | None = None
    role: Role = Role.agent
    availability: Availability = Availability.offline
    capacity: Capacity = 20
    skills: Skills = []
    ticket_access: TicketAccess = TicketAccess.all
    active: bool = True
    custom_role_id: UUID | None = Field(
        None, description="A custom role: its permissions take the place of the built-in role's"
    )


class AgentUpdate(UpdateModel):
    external_id: ExternalId = None
    name: Name = None
    email: Email | None = None
    role: Role = None
    availability: Availability = None
    capacity: Capacity = None
    skills: Skills = None
    ticket_access: TicketAccess = None
    active: bool = None
    custom_role_id: UUID | None = None


class AgentOut(ResponseModel):
    id: UUID
    external_id: str
    name: str
    email: str | None
    role: Role
    availability: Availability
    capacity: int
    skills: list[str]
    ticket_access: TicketAccess
    active: bool
    custom_role_id: UUID | None
    group_ids: list[UUID] = Field(description="The groups the agent is a member of")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, agent: Agent, group_ids: list[UUID]) -> Self:
        columns = {name: getattr(agent, name) for name in cls.model_fields if name != "group_ids"}
        return cls.model_validate({**columns, "group_ids": group_ids})
