"""Column types shared by the models, so each enum maps to one PostgreSQL type."""

import enum

from sqlalchemy import Enum


def pg_enum(enum_class: type[enum.Enum], name: str) -> Enum:
    return Enum(
        enum_class,
        name=name,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
