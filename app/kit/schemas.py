"""Base models and field types every API schema is built from."""

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints


class RequestModel(BaseModel):
    """A request body: unknown fields are refused, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UpdateModel(RequestModel):
    """A PATCH body: only the fields sent change.

    A field whose type does not admit null defaults to None to mean "not sent"; sending null for
    it is refused, since pydantic validates what was sent but never the default.
    """

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _require_text(value: Any) -> Any:
    # Pydantic would read a number as a Unix time; the API speaks RFC 3339 only.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 date-time string")
    return value


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone offset (RFC 3339)")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=2000)]
LongText = Annotated[str, StringConstraints(max_length=65_536)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\s,]+$")]
AwareDatetime = Annotated[datetime, BeforeValidator(_require_text), AfterValidator(_require_aware)]
ExternalRefs = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)], Annotated[str, Field(max_length=200)]
    ],
    Field(max_length=20),
]
CustomFieldValues = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], Any], Field(max_length=200)
]

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list; pass `next_cursor` as `cursor` to get the next one (null on the last page)."""

    items: list[ItemT]
    next_cursor: str | None = None
