"""Base models and field types every API schema is built from."""

import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, NoReturn, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    ValidationError,
)
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, core_schema

# No integer a request gives may leave PostgreSQL's bigint, whatever column it ends up in.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

# The date-times a request may give: a year short of either end of what Python holds, so that the
# arithmetic done on them (periods, time zones, business hours) stays within it.
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

UNSTORABLE_TEXT = "must not contain NUL characters or unpaired surrogates"


def storable(text: str) -> bool:
    """Whether PostgreSQL can store the text: it refuses NUL in text and in JSON, and UTF-8 has no
    lone surrogates (which a JSON escape such as \\ud800 decodes to)."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


_LONE_SURROGATES = re.compile("[\ud800-\udfff]")


def storable_json(value: Any) -> Any:
    """The JSON value without NUL and with U+FFFD for each lone surrogate, in texts and keys (as mail is
    cleaned): for what a provider sends, kept rather than refused, which it would send again and again."""
    if isinstance(value, str):
        return _LONE_SURROGATES.sub("\ufffd", value).replace("\x00", "")
    if isinstance(value, dict):
        return {storable_json(key): storable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    return value


def _unstorable_values(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, what is wrong) for each key, string and number of a JSON-like value that PostgreSQL
    cannot store: text with NUL or a lone surrogate, a number past a float (1e400 reads as infinity)."""
    if isinstance(value, str):
        if not storable(value):
            yield path, UNSTORABLE_TEXT
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield path, "must be a finite number"
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not storable(key):
                yield path, "a key " + UNSTORABLE_TEXT
            else:
                yield from _unstorable_values(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _unstorable_values(item, (*path, index))


def _refuse(errors: list[tuple[tuple[str | int, ...], str]]) -> NoReturn:
    """A validation error at each path, relative to the value being validated; never quoting it."""
    details = [
        InitErrorDetails(type=PydanticCustomError("unstorable", message), loc=path, input=None)
        for path, message in errors
    ]
    raise ValidationError.from_exception_data("unstorable", details)


def _check_text(value: Any) -> Any:
    if isinstance(value, str) and not storable(value):
        _refuse([((), UNSTORABLE_TEXT)])
    return value


def _check_nested_values(value: Any) -> Any:
    # Free-form values (custom fields, conditions, settings) are stored as JSON: each bad one is named.
    if errors := list(_unstorable_values(value)):
        _refuse(errors)
    return value


def _check_keys(value: Any) -> Any:
    # Checked before the keys are validated: a key would otherwise appear in the error's location.
    if isinstance(value, dict) and any(isinstance(key, str) and not storable(key) for key in value):
        _refuse([((), "a key " + UNSTORABLE_TEXT)])
    return value


def storable_tag(discriminator: str) -> Callable[[Any], Any]:
    """A check, before a tagged union, that its tag is storable text: the union would quote it in
    its error. RequestModel puts it on the unions it holds; a body that is a union needs it too."""

    def check_tag(value: Any) -> Any:
        tag = value.get(discriminator) if isinstance(value, dict) else None
        if isinstance(tag, str) and not storable(tag):
            _refuse([((discriminator,), UNSTORABLE_TEXT)])
        return value

    return check_tag


# Parts of a core schema that are not schemas to guard.
_NOT_VALIDATED = frozenset({"metadata", "serialization", "config", "ref", "cls"})


def _guard(node: Any, model: type) -> Any:
    """A copy of a core schema in which every text, key and integer a request gives is checked."""
    if isinstance(node, list | tuple):
        return type(node)(_guard(item, model) for item in node)
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "model" and node["cls"] is not model and issubclass(node["cls"], RequestModel):
        return node  # guarded when that model was built
    guarded = {key: value if key in _NOT_VALIDATED else _guard(value, model) for key, value in node.items()}
    if kind == "str":
        return core_schema.no_info_after_validator_function(_check_text, guarded)
    if kind == "any":
        return core_schema.no_info_after_validator_function(_check_nested_values, guarded)
    if kind in ("dict", "model-fields"):
        return core_schema.no_info_before_validator_function(_check_keys, guarded)
    if kind == "tagged-union" and isinstance(node["discriminator"], str):
        # The union would quote an unknown tag in its error, before any text of it is checked.
        return core_schema.no_info_before_validator_function(storable_tag(node["discriminator"]), guarded)
    if kind == "int":
        if "le" not in guarded and "lt" not in guarded:
            guarded["le"] = BIGINT_MAX
        if "ge" not in guarded and "gt" not in guarded:
            guarded["ge"] = BIGINT_MIN
    return guarded


class RequestModel(BaseModel):
    """A request body: unknown fields are refused, strings are trimmed.

    Every text it takes, nested ones and keys included, is refused with a 422 naming its field when
    PostgreSQL could not store it; numbers must be finite, integers within a bigint.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return _guard(handler(source), cls)


class UpdateModel(RequestModel):
    """A PATCH body: only the fields sent change.

    A field whose type does not admit null defaults to None to mean "not sent"; sending null for
    it is refused, since pydantic validates what was sent but never the default.
    """

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


async def refuse_unstorable_parameters(request: Request) -> None:
    """A dependency of every route: path, query and header parameters are refused as body fields are,
    with a 422 naming each parameter whose value PostgreSQL could not store."""
    parameters = (
        ("path", request.path_params.items()),
        ("query", request.query_params.multi_items()),
        ("header", request.headers.items()),
    )
    errors = [
        {"type": "unstorable", "loc": (location, name), "msg": UNSTORABLE_TEXT, "input": None}
        for location, items in parameters
        for name, value in items
        if isinstance(value, str) and not storable(value)
    ]
    if errors:
        raise RequestValidationError(errors)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# What an RFC 3339 date or date-time starts with: the full date. Pydantic would read a number, or a
# string of digits, as a Unix time; the API speaks RFC 3339 only.
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _require_text(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _FULL_DATE.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time string")


def _require_date_text(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and _FULL_DATE.fullmatch(value)):
        return value
    raise ValueError("must be an RFC 3339 full date (YYYY-MM-DD)")


def within_range(moment: datetime) -> bool:
    """Whether an aware date-time lies between EARLIEST and LATEST."""
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:
        return False  # 0001-01-01T00:00:00+14:00 is before the first instant a date-time can hold
    return EARLIEST <= in_utc <= LATEST


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone offset (RFC 3339)")
    if not within_range(value):
        raise ValueError(f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=2000)]
LongText = Annotated[str, StringConstraints(max_length=65_536)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\s,]+$")]
AwareDatetime = Annotated[datetime, BeforeValidator(_require_text), AfterValidator(_require_aware)]
FullDate = Annotated[date, BeforeValidator(_require_date_text)]
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
