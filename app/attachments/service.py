"""The rules of attachments: limits, what a file is, and who may attach an upload where.

Uploads come first and unattached (an agent uploads while typing a reply), then a comment attaches
them by token. The comments domain calls these functions within its own unit of work.

Bytes are written to storage before the request's transaction commits: a request that fails after
that leaves a file without a row. That costs disk space, never data, so it is not undone here.
"""

import codecs
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Container, Sequence
from uuid import UUID

import filetype
from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.repository import AttachmentRepository
from app.attachments.storage import READ_CHUNK_BYTES, Storage, new_storage_key
from app.auth.principal import Principal
from app.config import Settings
from app.errors import PayloadTooLarge, Unprocessable
from app.kit.ids import new_id
from app.kit.time import utcnow
from app.models import Attachment

OCTET_STREAM = "application/octet-stream"
PLAIN_TEXT = "text/plain; charset=utf-8"
# filetype reads no further than this.
SNIFF_BYTES = 8192
# Types served as what they are. Anything else (executables, fonts, HTML, SVG…) is served as opaque bytes.
_ARCHIVES_AND_PDF = {
    "application/pdf",
    "application/zip",
    "application/x-tar",
    "application/x-rar-compressed",
    "application/gzip",
    "application/x-bzip2",
    "application/x-7z-compressed",
    "application/x-xz",
    "application/zstd",
    "application/rtf",
    "application/epub+zip",
}
RECOGNISED_TYPES = frozenset(
    matcher.mime
    for matcher in (
        *filetype.image_matchers,
        *filetype.video_matchers,
        *filetype.audio_matchers,
        *filetype.document_matchers,
    )
) | frozenset(_ARCHIVES_AND_PDF)
MAX_FILENAME_CHARS = 255
FALLBACK_FILENAME = "attachment"
_PATH_SEPARATORS = re.compile(r"[/\\]")
_TEXT_CONTROLS = frozenset("\t\n\r\f")
# Control and format characters: invisible, and some (bidi overrides) disguise an extension.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def sniff_content_type(head: bytes) -> str:
    """The type of a file from its first bytes; a declared type or an extension is never trusted."""
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime if kind.mime in RECOGNISED_TYPES else OCTET_STREAM
    return PLAIN_TEXT if _is_plain_text(head) else OCTET_STREAM


def _is_plain_text(head: bytes) -> bool:
    """UTF-8 text without control characters, and not markup (HTML, SVG, XML start with `<`)."""
    try:
        # Not final: the head may end inside a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    text = text.removeprefix("\ufeff")
    if not text.strip() or text.lstrip().startswith("<"):
        return False
    return all(char in _TEXT_CONTROLS or unicodedata.category(char) != "Cc" for char in text)


def clean_filename(raw: str | None, fallback: str = FALLBACK_FILENAME) -> str:
    """The client's name without folders or control characters, at most 255 characters, in NFC;
    `fallback` when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = "".join(char for char in name if unicodedata.category(char) not in _INVISIBLE_CATEGORIES)
    name = _PATH_SEPARATORS.split(name)[-1].strip()
    if name in ("", ".", ".."):
        return fallback
    if len(name) <= MAX_FILENAME_CHARS:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 16:
        return name[:MAX_FILENAME_CHARS]
    return stem[: MAX_FILENAME_CHARS - len(extension) - 1].rstrip() + "." + extension


async def _read_limited(upload: UploadFile, max_bytes: int) -> tuple[bytes, str]:
    """The upload's bytes and their SHA-256, read in chunks; refused as soon as it passes `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    digest = hashlib.sha256()
    while chunk := await upload.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(
                f"{clean_filename(upload.filename)} is larger than {max_bytes} bytes",
                field="files",
                extra={"max_file_bytes": max_bytes},
            )
        digest.update(chunk)
        chunks.append(chunk)
    return b"".join(chunks), digest.hexdigest()


async def store_files(
    session: AsyncSession,
    principal: Principal,
    storage: Storage,
    settings: Settings,
    files: Sequence[UploadFile],
) -> list[Attachment]:
    """Store the files as unattached uploads of the caller; over a limit (413), nothing is kept."""
    limits = settings.attachment
    if len(files) > limits.max_files_per_comment:
        raise PayloadTooLarge(
            f"At most {limits.max_files_per_comment} files at once",
            field="files",
            extra={"max_files": limits.max_files_per_comment},
        )
    attachments: list[Attachment] = []
    try:
        for upload in files:
            data, sha256 = await _read_limited(upload, limits.max_file_bytes)
            key = new_storage_key()
            await storage.put(key, data)
            attachments.append(
                Attachment(
                    workspace_id=principal.workspace_id,
                    id=new_id(),
                    filename=clean_filename(upload.filename),
                    size=len(data),
                    sha256=sha256,
                    content_type=sniff_content_type(data[:SNIFF_BYTES]),
                    storage_key=key,
                    uploaded_by_type=principal.actor_type,
                    uploaded_by_id=principal.actor_id,
                    upload_token=secrets.token_urlsafe(24),
                    created_at=utcnow(),
                )
            )
        session.add_all(attachments)
        await session.flush()
    except BaseException:
        # A refused request keeps none of its files, not even those read before the one refused.
        for attachment in attachments:
            await storage.delete(attachment.storage_key)
        raise
    return attachments


async def attach_uploads(
    session: AsyncSession, principal: Principal, tokens: Sequence[str], ticket_id: UUID, comment_id: UUID
) -> list[Attachment]:
    """Attach the caller's own unattached uploads, by token, to a comment; in the order of `tokens`.

    A token that is unknown, of another uploader or workspace, or already attached is a 422.
    """
    wanted = list(dict.fromkeys(tokens))
    if not wanted:
        return []
    repo = AttachmentRepository(session, principal.workspace_id)
    attached = await repo.claim_uploads(principal, wanted, ticket_id, comment_id, utcnow())
    by_token = {attachment.upload_token: attachment for attachment in attached}
    _refuse_missing(wanted, by_token)
    return [by_token[token] for token in wanted]


async def check_uploads(session: AsyncSession, principal: Principal, tokens: Sequence[str]) -> None:
    """Refuse (422) what `attach_uploads` would refuse, before anything is stored (a channel's message,
    attached later by a worker)."""
    if tokens:
        repo = AttachmentRepository(session, principal.workspace_id)
        _refuse_missing(tokens, await repo.unattached_tokens(principal, tokens))


def _refuse_missing(tokens: Sequence[str], found: Container[str]) -> None:
    refused = [token for token in tokens if token not in found]
    if refused:
        raise Unprocessable(
            "Some uploads cannot be attached: unknown, not uploaded by you, or already attached",
            field="attachments",
            code="invalid_attachments",
            extra={"invalid_tokens": refused},
        )


async def attach_stored(
    session: AsyncSession,
    workspace_id: UUID,
    attachments: Sequence[Attachment],
    ticket_id: UUID,
    comment_id: UUID,
) -> None:
    """Attach files just stored by `store_files` (sent with the comment itself) to that comment."""
    ids = [attachment.id for attachment in attachments]
    if ids:
        await AttachmentRepository(session, workspace_id).attach(ids, ticket_id, comment_id, utcnow())


async def attachments_of_comments(
    session: AsyncSession, workspace_id: UUID, comment_ids: Sequence[UUID]
) -> dict[UUID, list[Attachment]]:
    """The attachments of each comment (an empty list for one without), oldest first, in one query."""
    found: dict[UUID, list[Attachment]] = {comment_id: [] for comment_id in comment_ids}
    if not found:
        return found
    for attachment in await AttachmentRepository(session, workspace_id).of_comments(list(found)):
        found[attachment.comment_id].append(attachment)  # type: ignore[index]
    return found


async def move_to_ticket(
    session: AsyncSession, workspace_id: UUID, from_ticket_id: UUID, to_ticket_id: UUID
) -> None:
    """After a merge, the source ticket's attachments belong to (and are read like) the target."""
    await AttachmentRepository(session, workspace_id).move_to_ticket(from_ticket_id, to_ticket_id)


async def get_attachment(session: AsyncSession, workspace_id: UUID, attachment_id: UUID) -> Attachment:
    return await AttachmentRepository(session, workspace_id).get_or_404(attachment_id)


def uploaded_by(attachment: Attachment, principal: Principal) -> bool:
    return (attachment.uploaded_by_type, attachment.uploaded_by_id) == (
        principal.actor_type,
        principal.actor_id,
    )
