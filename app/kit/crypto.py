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

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import Settings, split_secret_keys

logger = logging.getLogger(__name__)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(stored_hash: str | None, value: str) -> bool:
    """Whether `value` is the secret stored as `stored_hash`, compared in constant time."""
    return stored_hash is not None and hmac.compare_digest(stored_hash, hash_secret(value))


def _fernet(key_material: str) -> Fernet:
    """Any string makes a key: its SHA-256 is the Fernet key."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key_material.encode()).digest()))


class SecretBox:
    """Encrypts under the newest of its keys and decrypts under any of them, so that secrets written
    before a rotation stay readable until `rotated` has moved them to the newest key."""

    def __init__(self, keys: list[str]) -> None:
        self._newest_material = keys[0].encode()
        self._newest = _fernet(keys[0])
        self._any = MultiFernet([_fernet(key) for key in keys])

    def derive_key(self, purpose: str) -> bytes:
        """A key of its own for `purpose` (HKDF of the service's newest key): what signs one kind of
        thing never verifies another, and the key itself is never stored. Only short-lived things are
        signed with it: those signed before a key is added stop verifying when the new key is deployed."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._newest_material
        )

    def encrypt(self, plaintext: str) -> bytes:
        return self._newest.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str | None:
        """The plaintext, or None when it was encrypted under a key this box does not hold."""
        try:
            return self._any.decrypt(token).decode()
        except InvalidToken:
            return None

    def rotated(self, token: bytes) -> bytes | None:
        """`token` encrypted under the newest key; None when it already is. Raises InvalidToken when
        no key of this box decrypts it."""
        try:
            self._newest.decrypt(token)
        except InvalidToken:
            return self._any.rotate(token)
        return None


def key_file_path(settings: Settings) -> Path:
    """Where the keys are kept when HELPDESK_SECRET_KEY is not set."""
    return settings.data_dir / "secret.key"


def load_secret_box(settings: Settings) -> SecretBox:
    """HELPDESK_SECRET_KEY when set; otherwise the keys kept in the data directory (single-host setups),
    listed the same way."""
    if settings.secret_key is not None:
        return SecretBox(split_secret_keys(settings.secret_key.get_secret_value()))
    path = key_file_path(settings)
    if not path.exists():
        if settings.database_url:
            logger.warning("HELPDESK_SECRET_KEY is not set; generating %s for this host only", path)
        _create_key_file(path)
    return SecretBox(split_secret_keys(path.read_text().strip()))


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
