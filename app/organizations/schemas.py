from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from app.kit.normalization import normalize_domain
from app.kit.schemas import LongText, Name, RequestModel, ResponseModel, UpdateModel

MAX_DOMAINS = 50


def _without_repeats(domains: list[str]) -> list[str]:
    return list(dict.fromkeys(domains))


Domain = Annotated[str, StringConstraints(min_length=1, max_length=253), AfterValidator(normalize_domain)]
Domains = Annotated[list[Domain], Field(max_length=MAX_DOMAINS), AfterValidator(_without_repeats)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class OrganizationCreate(RequestModel):
    name: Name
    domains: Domains = Field(
        [], description="Email domains; a new contact with an address there joins the organization"
    )
    external_id: ExternalId | None = None
    notes: LongText | None = None


class OrganizationUpdate(UpdateModel):
    name: Name = None
    domains: Domains = None
    external_id: ExternalId | None = None
    notes: LongText | None = None


class OrganizationOut(ResponseModel):
    id: UUID
    name: str
    domains: list[str]
    external_id: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
