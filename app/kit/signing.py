"""Signing secrets and signatures per the Standard Webhooks specification."""

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook as Signer

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_header(secrets_in_use: list[str], message_id: str, timestamp: datetime, body: str) -> str:
    """`v1,<signature>` per secret, space-separated: during a rotation, either secret verifies."""
    return " ".join(Signer(secret).sign(message_id, timestamp, body) for secret in secrets_in_use)
