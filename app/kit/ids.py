from uuid import UUID

from uuid_utils.compat import uuid7


def new_id() -> UUID:
    """Time-ordered ids keep primary-key indexes append-mostly."""
    return uuid7()
