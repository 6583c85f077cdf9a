"""A file's bytes as an HTTP answer: streamed through the API, or a redirect to the storage itself."""

from urllib.parse import quote

from fastapi import Response, status
from fastapi.responses import RedirectResponse, StreamingResponse

from app.attachments.storage import Storage
from app.errors import Gone
from app.models import Attachment


async def file_response(storage: Storage, attachment: Attachment) -> Response:
    """The attachment's bytes, as its sniffed type and never rendered in place (`attachment`)."""
    disposition = f"attachment; filename*=UTF-8''{quote(attachment.filename, safe='')}"
    try:
        url = await storage.download_url(attachment.storage_key, attachment.content_type, disposition)
        if url is not None:
            # The URL is a credential for a while: no cache along the way keeps it.
            return RedirectResponse(url, status.HTTP_307_TEMPORARY_REDIRECT, {"Cache-Control": "no-store"})
        chunks = await storage.open(attachment.storage_key)
    except FileNotFoundError:
        raise Gone("The attachment's file is missing from storage", code="file_missing") from None
    return StreamingResponse(
        chunks,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": disposition,
            "Content-Length": str(attachment.size),
            "X-Content-Type-Options": "nosniff",
        },
    )
