from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from app.api.contract import download
from app.api.deps import Agent, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.attachments.downloads import file_response
from app.attachments.schemas import UploadOut
from app.attachments.service import get_attachment, store_files, uploaded_by
from app.attachments.storage import Storage, storage_dependency
from app.auth.principal import Principal
from app.errors import NotFound
from app.kit.schemas import Page
from app.models import Attachment
from app.tickets.service import TicketService

StorageDep = Annotated[Storage, Depends(storage_dependency)]

router = APIRouter(prefix="/v1", tags=["Attachments"], route_class=UnitOfWorkRoute)


@router.post("/uploads", response_model=Page[UploadOut], status_code=status.HTTP_201_CREATED)
async def upload_files(
    request: Request,
    session: Session,
    principal: Agent,
    storage: StorageDep,
    files: Annotated[list[UploadFile], File(description="One or more files (multipart/form-data)")],
) -> Page[UploadOut]:
    """Upload files before writing the comment that carries them: pass their tokens in its `attachments`.

    Each file's type is sniffed from its bytes. An upload no comment attaches is deleted after a while
    (`HELPDESK_ATTACHMENT_UNATTACHED_TTL_HOURS`). Too many files or too large a file is a 413. The
    uploads come back in the order sent, all on one page.
    """
    stored = await store_files(session, principal, storage, request.app.state.settings, files)
    return Page(items=[UploadOut.model_validate(attachment) for attachment in stored])


@router.get(
    "/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses={
        **download("*/*", "The file's bytes, as its sniffed type"),
        307: {
            "description": "With `HELPDESK_S3_PRESIGNED_DOWNLOADS`: fetch the file from `Location`, a "
            "signed URL of the storage valid for `HELPDESK_S3_PRESIGN_SECONDS`, which answers with the "
            "same Content-Type and Content-Disposition (send it no Authorization header)",
            "headers": {
                "Location": {"description": "The signed URL", "schema": {"type": "string", "format": "uri"}}
            },
        },
        410: {"description": "The attachment's bytes are missing from storage"},
    },
)
async def download_attachment(
    attachment_id: UUID, request: Request, session: Session, principal: Viewer, storage: StorageDep
) -> Response:
    """The file, to whoever can read its ticket; an upload not attached yet, to its uploader only.

    Streamed through the API, or, when the storage signs downloads, a redirect to the storage itself.
    """
    attachment = await _readable(request, session, principal, attachment_id)
    return await file_response(storage, attachment)


async def _readable(
    request: Request, session: Session, principal: Principal, attachment_id: UUID
) -> Attachment:
    """Authorised like its ticket. The check lives here, not in the service, which the ticket domain
    imports (merges move attachments) and so must not import it back."""
    attachment = await get_attachment(session, principal.workspace_id, attachment_id)
    if attachment.ticket_id is None:
        if not uploaded_by(attachment, principal):
            raise NotFound("Attachment")
        return attachment
    try:
        await TicketService(session, principal, request.app.state.settings).get(attachment.ticket_id)
    except NotFound:
        raise NotFound("Attachment") from None
    return attachment
