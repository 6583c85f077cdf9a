import enum
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StringConstraints

from app.kit.normalization import PHONE_INPUT_MAX_LENGTH, EmailAddress
from app.kit.schemas import CustomFieldValues, Name, RequestModel, ResponseModel, UpdateModel
from app.models.enums import IdentityKind

PhoneInput = Annotated[
    str,
    StringConstraints(min_length=1, max_length=PHONE_INPUT_MAX_LENGTH),
    Field(description="Any usual format; stored in E.164, read in the workspace's default region"),
]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
IdentityValue = Annotated[str, StringConstraints(min_length=1, max_length=320)]


class ContactSort(enum.StrEnum):
    newest = "-created_at"
    oldest = "created_at"
    name = "name"


class ContactCreate(RequestModel):
    name: Name | None = None
    email: EmailAddress | None = None
    phone: PhoneInput | None = None
    vip: bool = False
    organization_id: UUID | None = Field(
        None, description="When omitted, a contact with an email joins the organization of its domain"
    )
    external_id: ExternalId | None = Field(None, description="The contact's id in the CRM; unique")
    custom_fields: CustomFieldValues = {}


class ContactUpdate(UpdateModel):
    """A new `email` or `phone` replaces the contact's primary identity of that kind."""

    name: Name | None = None
    email: EmailAddress | None = None
    phone: PhoneInput | None = None
    vip: bool = None
    organization_id: UUID | None = None
    external_id: ExternalId | None = None
    custom_fields: CustomFieldValues = Field(
        None, description="Merged into the current values; a null value removes its key"
    )


class IdentityCreate(RequestModel):
    kind: IdentityKind
    value: IdentityValue = Field(description="Email addresses and phone numbers are normalised")


class IdentityOut(ResponseModel):
    id: UUID
    kind: IdentityKind
    value: str


class ContactOut(ResponseModel):
    id: UUID
    name: str | None
    display_name: str | None = Field(
        description="How the contact is shown: its name; until it has one, its email, phone or first "
        "identity (a new Messenger or Zalo customer's id, while their name is fetched from the provider)"
    )
    email: str | None
    phone: str | None
    vip: bool
    organization_id: UUID | None
    external_id: str | None
    custom_fields: dict[str, Any]
    identities: list[IdentityOut]
    erased_at: datetime | None = Field(
        None, description="When the customer's personal data was erased: the contact is kept, empty"
    )
    created_at: datetime
    updated_at: datetime
