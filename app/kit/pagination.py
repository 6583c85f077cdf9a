"""Keyset pagination: a page starts after the sort values of the previous page's last row."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query
from sqlalchemy import BigInteger, Select, and_, false, not_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import BadRequest
from app.kit.schemas import storable, within_range

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class SortColumn:
    attribute: InstrumentedAttribute[Any]
    descending: bool = False
    nullable: bool = False

    @property
    def key(self) -> str:
        return self.attribute.key

    def order_by(self) -> Any:
        ordered = self.attribute.desc() if self.descending else self.attribute.asc()
        return ordered.nulls_last() if self.nullable else ordered

    def after(self, value: Any) -> Any:
        if value is None:
            return false()
        beyond = self.attribute < value if self.descending else self.attribute > value
        return or_(beyond, self.attribute.is_(None)) if self.nullable else beyond

    def equals(self, value: Any) -> Any:
        return self.attribute.is_(None) if value is None else self.attribute == value

    def holds(self, value: Any) -> bool:
        """Whether a cursor's value is one the column holds: a cursor comes back from the client, and a
        value of another kind would make the query fail."""
        if value is None:
            return True
        column_type = self.attribute.type
        expected = column_type.python_type
        if issubclass(expected, Enum):
            return value in {member.value for member in expected}
        if expected is int:
            bound = 2**63 if isinstance(column_type, BigInteger) else 2**31
            return type(value) is int and -bound <= value < bound
        if expected is datetime:
            return isinstance(value, datetime) and value.tzinfo is not None and within_range(value)
        if expected is str:
            return isinstance(value, str) and storable(value)
        return isinstance(value, expected)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "u" in value:
            return UUID(value["u"])
    return value


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    payload = json.dumps({"s": sort, "v": [_encode_value(value) for value in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values = [_decode_value(value) for value in payload["v"]]
        cursor_sort = payload["s"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadRequest("The cursor is not valid", field="cursor", code="invalid_cursor") from exc
    if cursor_sort != sort or len(values) != width:
        raise BadRequest("The cursor belongs to another sort order", field="cursor", code="invalid_cursor")
    return values


@dataclass(frozen=True)
class Keyset:
    """An ordering whose last column is unique, so every row has one place in it."""

    name: str
    columns: Sequence[SortColumn]

    def apply(self, statement: Select[Any], cursor: str | None, limit: int) -> Select[Any]:
        statement = statement.order_by(*(column.order_by() for column in self.columns)).limit(limit + 1)
        if cursor is None:
            return statement
        values = decode_cursor(cursor, self.name, len(self.columns))
        if not all(column.holds(value) for column, value in zip(self.columns, values, strict=True)):
            raise BadRequest("The cursor is not valid", field="cursor", code="invalid_cursor")
        return statement.where(self._after(values))

    def _after(self, values: Sequence[Any]) -> Any:
        alternatives = []
        for position, column in enumerate(self.columns):
            earlier = [self.columns[i].equals(values[i]) for i in range(position)]
            alternatives.append(and_(*earlier, column.after(values[position])))
        return or_(*alternatives)

    def through(self, values: Sequence[Any]) -> Any:
        """The rows up to `values`' row in this order, that row included. The first column is bounded on
        its own too, so that a scan of an index in this order stops there."""
        first = self.columns[0]
        within = not_(self._after(values))
        if first.nullable or values[0] is None:
            return within
        bound = first.attribute >= values[0] if first.descending else first.attribute <= values[0]
        return and_(bound, within)

    def cursor(self, values: Sequence[Any]) -> str:
        return encode_cursor(self.name, values)

    def page(self, rows: Sequence[Any], limit: int) -> tuple[list[Any], str | None]:
        """The rows of the page, and the cursor of the next page if there is one."""
        if len(rows) <= limit:
            return list(rows), None
        rows = list(rows[:limit])
        last = rows[-1]
        return rows, self.cursor([getattr(last, column.key) for column in self.columns])


@dataclass(frozen=True)
class PageParams:
    cursor: str | None
    limit: int


async def page_params(
    cursor: Annotated[
        str | None, Query(max_length=1000, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor, limit)


PageQuery = Annotated[PageParams, Depends(page_params)]

SearchQuery = Annotated[
    str | None,
    Query(max_length=200, description="Words to find in the names (and emails), accents and case ignored"),
]
