"""Column types and constraints shared by the models, so each enum maps to one PostgreSQL type."""

import enum
from typing import Any

from sqlalchemy import Enum, ForeignKeyConstraint


def pg_enum(enum_class: type[enum.Enum], name: str) -> Enum:
    return Enum(
        enum_class,
        name=name,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def scoped_fk(column: str, table: str, **options: Any) -> ForeignKeyConstraint:
    """A reference inside the workspace: a row of another workspace can never be referenced."""
    return ForeignKeyConstraint(["workspace_id", column], [f"{table}.workspace_id", f"{table}.id"], **options)
