from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse

from app.api.contract import download
from app.api.deps import Admin, Session
from app.api.routing import UnitOfWorkRoute
from app.attachments.storage import Storage, storage_dependency
from app.errors import Gone
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.privacy import service
from app.privacy.schemas import DataRequestOut

StorageDep = Annotated[Storage, Depends(storage_dependency)]

router = APIRouter(prefix="/v1/contacts/{contact_id}", tags=["Contacts"], route_class=UnitOfWorkRoute)


@router.post("/export", response_model=DataRequestOut, status_code=status.HTTP_202_ACCEPTED)
async def export_contact(contact_id: UUID, session: Session, principal: Admin) -> DataRequestOut:
    """A copy of everything held about the contact (profile, identities, tickets they requested, the
    public conversation and what they wrote, conversations, files), as a zip of `data.json` and the
    files, built by a worker: follow the request, then download its archive (admins only) until
    `expires_at` (`HELPDESK_PRIVACY_EXPORT_TTL_HOURS`). A `contact.exported` event says when it is ready."""
    return service.present(await service.request_export(session, principal, contact_id))


@router.post(
    "/erase",
    response_model=DataRequestOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"description": "The contact's erasure was asked before: that request", "model": DataRequestOut}
    },
)
async def erase_contact(
    contact_id: UUID, session: Session, principal: Admin, response: Response
) -> DataRequestOut:
    """Erase the contact's personal data everywhere it lives, irreversibly: their profile and
    identities, the comments they wrote and the files they sent, their identifiers wherever other texts
    name them, the stored messages they sent, event payloads, webhook delivery logs, notifications and
    search keys. Their tickets stay, with the emptied contact as requester (`erased_at` set), so reports
    still count them. A worker does it in batches; the request shows its progress, and a `contact.erased`
    event says when it is done. Asking again answers the same request (200)."""
    request, created = await service.request_erasure(session, principal, contact_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return service.present(request)


@router.get("/data-requests", response_model=Page[DataRequestOut])
async def list_data_requests(
    contact_id: UUID, session: Session, principal: Admin, page: PageQuery
) -> Page[DataRequestOut]:
    """The contact's export and erasure requests, newest first."""
    items, next_cursor = await service.list_requests(session, principal.workspace_id, contact_id, page)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/data-requests/{data_request_id}", response_model=DataRequestOut)
async def get_data_request(
    contact_id: UUID, data_request_id: UUID, session: Session, principal: Admin
) -> DataRequestOut:
    """A request and its progress."""
    return service.present(
        await service.get_request(session, principal.workspace_id, contact_id, data_request_id)
    )


@router.get(
    "/data-requests/{data_request_id}/download",
    response_class=StreamingResponse,
    responses={
        **download("application/zip", "The archive: `data.json` and the files under `files/`"),
        307: {"description": "With `HELPDESK_S3_PRESIGNED_DOWNLOADS`: fetch the archive from `Location`"},
        409: {"description": "The export is not ready yet"},
        410: {"description": "The archive has expired (or was deleted with the contact's erasure)"},
    },
)
async def download_data_request(
    contact_id: UUID, data_request_id: UUID, session: Session, principal: Admin, storage: StorageDep
) -> Response:
    """An export's archive, to admins, until it expires."""
    request = await service.get_request(session, principal.workspace_id, contact_id, data_request_id)
    key = service.downloadable(request, datetime.now(UTC))
    disposition = f'attachment; filename="contact-{contact_id}-{data_request_id}.zip"'
    try:
        url = await storage.download_url(key, "application/zip", disposition)
        if url is not None:
            return RedirectResponse(url, status.HTTP_307_TEMPORARY_REDIRECT, {"Cache-Control": "no-store"})
        chunks = await storage.open(key)
    except FileNotFoundError:
        raise Gone("The export's archive is missing from storage", code="file_missing") from None
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={
            "Content-Disposition": disposition,
            "Content-Length": str(request.archive_size),
            "Cache-Control": "no-store",
        },
    )
