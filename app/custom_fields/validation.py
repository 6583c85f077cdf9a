"""Checks custom field values against the workspace's definitions; tickets and contacts store the result."""

import asyncio
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import regex
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import Unprocessable
from app.models import CustomFieldDefinition
from app.models.enums import ActorType, CustomFieldEntity, CustomFieldType
from app.rules.snapshot import rules_of

TEXT_MAX_LENGTH = 1_000
TEXTAREA_MAX_LENGTH = 65_536
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Digits allowed on each side of the decimal point, as in NUMERIC(76, 38).
DECIMAL_MAX_DIGITS = 38
DECIMAL_MAX_TEXT_LENGTH = 100
# A user-supplied pattern may backtrack catastrophically; past this it is refused, not waited for.
REGEX_TIMEOUT_SECONDS = 0.1
PATTERN_COMPILE_TIMEOUT_SECONDS = 2.0
_COMPILE_SCRIPT = """
import sys, regex
try:
    regex.compile(sys.stdin.buffer.read().decode("utf-8"))
except (regex.error, OverflowError, RecursionError) as error:
    sys.exit(str(error))
"""
# How many options an error message lists before eliding the rest.
LISTED_OPTIONS = 10

_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class _Expected(Exception):
    """A value of the wrong shape; the message says what the field expects."""


async def load_definitions(
    session: AsyncSession, workspace_id: UUID, entity: CustomFieldEntity
) -> list[CustomFieldDefinition]:
    """The active custom field definitions of `entity` in the workspace, in display order."""
    return list((await rules_of(session, workspace_id)).custom_fields[entity])


def validate_custom_fields(
    definitions: Sequence[CustomFieldDefinition],
    values: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The complete custom field values to store.

    `current is None` is a new record: `values` are all its values and required fields must be
    present. Otherwise `values` is a change merged into `current`, where null removes a key.
    An empty string or list counts as no value, so it cannot satisfy a required field.
    """
    by_key = {definition.key: definition for definition in definitions if definition.active}
    result = dict(current or {})
    for key, value in values.items():
        field = f"custom_fields.{key}"
        definition = by_key.get(key)
        if definition is None:
            raise Unprocessable(
                f"There is no active custom field with the key {key!r}",
                field=field,
                code="unknown_custom_field",
            )
        if _is_blank(value):
            if definition.required:
                raise Unprocessable(f"The custom field {key!r} is required", field=field, code="required")
            result.pop(key, None)
            continue
        try:
            result[key] = _COERCERS[definition.type](definition, value)
        except _Expected as expected:
            raise Unprocessable(f"The custom field {key!r} must be {expected}", field=field) from None
    if current is None:
        for definition in by_key.values():
            if definition.required and definition.key not in result:
                raise Unprocessable(
                    f"The custom field {definition.key!r} is required",
                    field=f"custom_fields.{definition.key}",
                    code="required",
                )
    return result


def stored_value(definition: CustomFieldDefinition, value: Any) -> Any:
    """The value as the field stores it (a filter compares with that); ValueError says what it expects."""
    try:
        return _COERCERS[definition.type](definition, value)
    except _Expected as expected:
        raise ValueError(f"must be {expected}") from None


async def new_record_fields(
    session: AsyncSession,
    principal: Principal,
    entity: CustomFieldEntity,
    values: Mapping[str, Any],
    *,
    for_customer: bool = False,
) -> dict[str, Any]:
    """The custom fields of a record being created. A customer has none to give, so what a channel
    creates, or what is opened `for_customer` (a follow-up of their message), is never refused for a
    required field: an agent fills it in later."""
    if (for_customer or principal.actor_type is ActorType.channel) and not values:
        return {}
    definitions = await load_definitions(session, principal.workspace_id, entity)
    return validate_custom_fields(definitions, values, current=None)


async def check_pattern(pattern: str) -> None:
    """Refuse a `regex` field's pattern that does not compile, or not quickly.

    Compiling nested bounded repeats such as `(a{9999}){9999}` can take hours and cannot be
    interrupted, so the trial compilation runs in a child process that is killed at the deadline.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _COMPILE_SCRIPT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, error = await asyncio.wait_for(
            process.communicate(pattern.encode()), PATTERN_COMPILE_TIMEOUT_SECONDS
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise Unprocessable("The pattern is too complex to compile", field="pattern") from None
    if process.returncode != 0:
        reason = error.decode(errors="replace").strip().splitlines()[-1:] or ["it does not compile"]
        raise Unprocessable(f"The pattern is not a valid regular expression: {reason[0]}", field="pattern")


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _string(value: Any, max_length: int) -> str:
    if not isinstance(value, str) or len(value) > max_length:
        raise _Expected(f"a string of at most {max_length:,} characters")
    return value


def _text(_: CustomFieldDefinition, value: Any) -> str:
    return _string(value, TEXT_MAX_LENGTH)


def _textarea(_: CustomFieldDefinition, value: Any) -> str:
    return _string(value, TEXTAREA_MAX_LENGTH)


def _integer(_: CustomFieldDefinition, value: Any) -> int:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise _Expected(f"an integer between {INT64_MIN} and {INT64_MAX}")
    return value


def _decimal(_: CustomFieldDefinition, value: Any) -> str:
    expected = _Expected(
        f"a decimal number (a JSON number or a numeric string) with at most {DECIMAL_MAX_DIGITS} digits "
        "on each side of the decimal point"
    )
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise expected
    if isinstance(value, int) and not -(10**DECIMAL_MAX_DIGITS) < value < 10**DECIMAL_MAX_DIGITS:
        raise expected
    text = value.strip() if isinstance(value, str) else str(value)
    if len(text) > DECIMAL_MAX_TEXT_LENGTH or not _DECIMAL_TEXT.fullmatch(text):
        raise expected
    number = Decimal(text)
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int) or max(len(digits) + exponent, -exponent) > DECIMAL_MAX_DIGITS:
        raise expected
    if number.is_zero():
        return "0"
    canonical = format(number, "f")
    return canonical.rstrip("0").rstrip(".") if "." in canonical else canonical


def _date(_: CustomFieldDefinition, value: Any) -> str:
    expected = _Expected("a date as YYYY-MM-DD")
    if not isinstance(value, str) or not _DATE_TEXT.fullmatch(value):
        raise expected
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise expected from None


def _datetime(_: CustomFieldDefinition, value: Any) -> str:
    expected = _Expected("an RFC 3339 date-time with a time zone offset, such as 2025-03-01T09:30:00+07:00")
    if not isinstance(value, str) or not _DATETIME_TEXT.fullmatch(value):
        raise expected
    try:
        moment = datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise expected from None
    return moment.isoformat().replace("+00:00", "Z")


def _checkbox(_: CustomFieldDefinition, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Expected("true or false")
    return value


def _option_values(definition: CustomFieldDefinition) -> list[str]:
    return [option["value"] for option in definition.options]


def _listed(values: list[str]) -> str:
    listed = ", ".join(repr(value) for value in values[:LISTED_OPTIONS])
    return listed + (", …" if len(values) > LISTED_OPTIONS else "")


def _dropdown(definition: CustomFieldDefinition, value: Any) -> str:
    allowed = _option_values(definition)
    if not isinstance(value, str) or value not in allowed:
        raise _Expected(f"one of the field's option values: {_listed(allowed)}")
    return value


def _multiselect(definition: CustomFieldDefinition, value: Any) -> list[str]:
    allowed = _option_values(definition)
    expected = _Expected(f"a list of distinct option values of the field: {_listed(allowed)}")
    if not isinstance(value, list) or len(value) > len(allowed):
        raise expected
    if not all(isinstance(item, str) and item in allowed for item in value) or len(set(value)) != len(value):
        raise expected
    return value


def _regex(definition: CustomFieldDefinition, value: Any) -> str:
    text = _string(value, TEXT_MAX_LENGTH)
    pattern = definition.pattern or ""
    try:
        matched = regex.fullmatch(pattern, text, timeout=REGEX_TIMEOUT_SECONDS)
    except TimeoutError:
        raise _Expected(
            f"a string matching the pattern {pattern!r} (it could not be checked in time)"
        ) from None
    if matched is None:
        raise _Expected(f"a string matching the pattern {pattern!r}")
    return text


_COERCERS: dict[CustomFieldType, Callable[[CustomFieldDefinition, Any], Any]] = {
    CustomFieldType.text: _text,
    CustomFieldType.textarea: _textarea,
    CustomFieldType.integer: _integer,
    CustomFieldType.decimal: _decimal,
    CustomFieldType.date: _date,
    CustomFieldType.datetime: _datetime,
    CustomFieldType.checkbox: _checkbox,
    CustomFieldType.dropdown: _dropdown,
    CustomFieldType.multiselect: _multiselect,
    CustomFieldType.regex: _regex,
}
