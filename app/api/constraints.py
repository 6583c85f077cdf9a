"""Turns a database constraint violation into a 4xx answer that names the field, never the row."""

from functools import cache

from sqlalchemy import ForeignKeyConstraint, Index, UniqueConstraint
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.errors import sqlstate_of
from app.models import Base

# SQLSTATE codes of PostgreSQL's integrity and data errors.
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
CHECK_VIOLATION = "23514"
NOT_NULL_VIOLATION = "23502"
EXCLUSION_VIOLATION = "23P01"
DATA_ERRORS = {
    # asyncpg's own: an argument it cannot send (an integer beyond its column, a lone surrogate).
    "22000": "A value cannot be stored",
    "22001": "A value is too long",
    "22003": "A number is out of range",
    "22007": "A date or time is invalid",
    "22008": "A date or time is out of range",
    "22P02": "A value has the wrong format",
    "2201B": "A pattern is not a valid regular expression",
    "22021": "A text contains a character that cannot be stored (NUL)",
    "22P05": "A JSON value contains a character that cannot be stored (NUL)",
}


@cache
def _constraint_fields() -> dict[str, tuple[str, str]]:
    """Constraint name → (field, what it refers to) for every table of the metadata."""
    fields: dict[str, tuple[str, str]] = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            columns = [column.name for column in constraint.columns if column.name != "workspace_id"]
            if not columns or not constraint.name:
                continue
            if isinstance(constraint, ForeignKeyConstraint):
                target = constraint.referred_table.name
            elif isinstance(constraint, UniqueConstraint):
                target = table.name
            else:
                continue
            fields[str(constraint.name)] = (columns[-1], target)
        for index in table.indexes:
            if isinstance(index, Index) and index.unique and index.name:
                names = [getattr(expression, "name", None) for expression in index.expressions]
                named = [name for name in names if name and name != "workspace_id"]
                label = named[-1] if named else str(index.name).split("_workspace_id_")[-1]
                fields[str(index.name)] = (label.removeprefix("lower(").removesuffix(")"), table.name)
    return fields


def _constraint_name(exc: DBAPIError) -> str | None:
    original = getattr(exc.orig, "__cause__", None) or exc.orig
    return getattr(original, "constraint_name", None)


def _readable(name: str) -> str:
    return name.removesuffix("s").replace("_", " ")


def describe_violation(exc: IntegrityError) -> tuple[int, str, str, str | None]:
    """(status, code, detail, field) for an integrity error."""
    sqlstate = sqlstate_of(exc)
    constraint = _constraint_name(exc) or ""
    field, target = _constraint_fields().get(constraint, (None, ""))
    message = str(getattr(exc.orig, "args", [""])[0] if exc.orig is not None else "")
    if sqlstate == UNIQUE_VIOLATION:
        detail = f"{field} is already in use" if field else "The resource already exists"
        return 409, "already_exists", detail, field
    if sqlstate == FOREIGN_KEY_VIOLATION:
        if "update or delete on table" in message:
            return 409, "in_use", "The resource is still in use and cannot be removed", None
        return 422, "unknown_reference", f"{field}: no such {_readable(target)}", field
    if sqlstate in (CHECK_VIOLATION, NOT_NULL_VIOLATION, EXCLUSION_VIOLATION):
        return 422, "invalid", "A value breaks a rule of the resource", field
    return 409, "conflict", "The change conflicts with the current state", None


def describe_data_error(exc: DBAPIError) -> tuple[int, str, str] | None:
    """(status, code, detail) for an input the database refused as data, else None."""
    detail = DATA_ERRORS.get(sqlstate_of(exc) or "")
    return (422, "invalid_value", detail) if detail else None
