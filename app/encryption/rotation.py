"""`helpdesk secrets rotate`: every secret at rest re-encrypted under the newest secret key."""

from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken

from app.db import Database
from app.encryption import repository
from app.encryption.repository import ENCRYPTED_COLUMNS, Key
from app.kit.crypto import SecretBox


@dataclass
class RotationReport:
    """Per `table.column`: the values re-encrypted, and those no key decrypts (left as they were)."""

    re_encrypted: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)


async def rotate_secrets(db: Database, secret_box: SecretBox, batch_size: int) -> RotationReport:
    """Re-encrypt, a batch of rows per transaction, each value not under the newest key yet. Safe to run
    while the service serves, and again: a value already under the newest key is left alone."""
    report = RotationReport()
    for column in ENCRYPTED_COLUMNS:
        name = repository.column_name(column)
        report.re_encrypted[name] = 0
        report.unreadable[name] = 0
        after: Key | None = None
        while True:
            async with db.sessionmaker() as session, session.begin():
                rows = await repository.lock_batch(session, column, after, batch_size)
                replaced: dict[Key, bytes] = {}
                for row in rows:
                    try:
                        rotated = secret_box.rotated(row.value)
                    except InvalidToken:
                        report.unreadable[name] += 1
                        continue
                    if rotated is not None:
                        replaced[(row.workspace_id, row.id)] = rotated
                await repository.replace_values(session, column, replaced)
            report.re_encrypted[name] += len(replaced)
            if len(rows) < batch_size:
                break
            after = (rows[-1].workspace_id, rows[-1].id)
    return report
