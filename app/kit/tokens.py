"""Bearer tokens handed to people without an account (a customer's link): 256 random bits after the id of
the workspace they belong to, so that a token is looked up in its own workspace, by its hash."""

import base64
import binascii
import secrets
from uuid import UUID

from app.kit.crypto import hash_secret

_RANDOM_BYTES = 32
_TOKEN_BYTES = 16 + _RANDOM_BYTES


def new_token(workspace_id: UUID) -> str:
    """A new token of the workspace: URL-safe, 64 characters."""
    raw = workspace_id.bytes + secrets.token_bytes(_RANDOM_BYTES)
    return base64.urlsafe_b64encode(raw).decode()


def read_token(token: str) -> tuple[UUID, str] | None:
    """The workspace a token names and the hash it is stored as; None for what is no token at all."""
    if len(token) != 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if len(raw) != _TOKEN_BYTES:
        return None
    return UUID(bytes=raw[:16]), hash_secret(token)
