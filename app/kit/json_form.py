"""Values in their JSON form, as histories and rule conditions hold them."""

import enum
from datetime import datetime
from typing import Any
from uuid import UUID


def to_json(value: Any) -> Any:
    """The value as JSON: ids and times as strings, enums as their value."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value
