"""API keys: 256 random bits behind a recognisable prefix, stored only as a SHA-256 digest."""

import hashlib
import secrets

KEY_PREFIX = "hd_"
VISIBLE_LENGTH = 10


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> bytes:
    # The key is high-entropy, so a fast digest is as safe as a slow one and keeps auth cheap.
    return hashlib.sha256(key.encode()).digest()


def visible_prefix(key: str) -> str:
    return key[:VISIBLE_LENGTH]


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def generate_token_secret() -> str:
    return secrets.token_urlsafe(32)
