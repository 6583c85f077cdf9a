"""Secrets at rest: encrypted when the service must read them back (e.g. agent-token signing secrets),
hashed when it only checks them (e.g. a channel's token)."""

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import Settings

logger = logging.getLogger(__name__)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(stored_hash: str | None, value: str) -> bool:
    """Whether `value` is the secret stored as `stored_hash`, compared in constant time."""
    return stored_hash is not None and hmac.compare_digest(stored_hash, hash_secret(value))


class SecretBox:
    def __init__(self, key_material: str) -> None:
        self._key_material = key_material.encode()
        digest = hashlib.sha256(self._key_material).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def derive_key(self, purpose: str) -> bytes:
        """A key of its own for `purpose` (HKDF of the service's key): what signs one kind of thing
        never verifies another, and the key itself is never stored."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._key_material
        )

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str | None:
        """The plaintext, or None when it was encrypted under another key."""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            return None


def load_secret_box(settings: Settings) -> SecretBox:
    """HELPDESK_SECRET_KEY when set; otherwise a key kept in the data directory (single-host setups)."""
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value())
    path: Path = settings.data_dir / "secret.key"
    if not path.exists():
        if settings.database_url:
            logger.warning("HELPDESK_SECRET_KEY is not set; generating %s for this host only", path)
        _create_key_file(path)
    return SecretBox(path.read_text().strip())


def _create_key_file(path: Path) -> None:
    """Write a new key to `path` unless another process got there first; either way it then holds a whole
    key. The key is written to a file of its own, then linked into place: linking never replaces a key
    another process put there, and nobody reads a key half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, written = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(written, path)
    finally:
        os.unlink(written)
