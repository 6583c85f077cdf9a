from datetime import datetime
from uuid import UUID

from pydantic import Field

from app.kit.schemas import Name, RequestModel, ResponseModel
from app.models.enums import Role, Scope


class ApiKeyCreate(RequestModel):
    name: Name
    role: Role
    scopes: list[Scope] | None = Field(
        None,
        max_length=len(Scope),
        description="What the key may do within its role (least privilege); omitted: all its role may",
    )


class ApiKeyOut(ResponseModel):
    id: UUID
    name: str
    role: Role
    scopes: list[Scope] | None = Field(description="What the key may do within its role; null: all it may")
    prefix: str = Field(description="The first characters of the key, to recognise it")
    created_at: datetime
    last_used_at: datetime | None = Field(description="To the minute")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The API key itself. It is shown only in this response.")


class AgentTokenSecretOut(ResponseModel):
    id: UUID = Field(
        description="Put this id in the `kid` header of every agent token signed with the secret"
    )
    created_at: datetime


class AgentTokenSecretCreated(AgentTokenSecretOut):
    secret: str = Field(description="The HS256 signing secret. It is shown only in this response.")
    previous_secret_expires_at: datetime | None = Field(
        description="Until when tokens signed with the previous secret are still accepted"
    )
