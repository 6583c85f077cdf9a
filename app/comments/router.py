from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.deps import Agent, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.attachments.storage import get_storage
from app.comments.schemas import CommentCreate, CommentOut
from app.comments.service import CommentService
from app.kit.pagination import PageQuery
from app.kit.schemas import Page

router = APIRouter(tags=["Comments"], route_class=UnitOfWorkRoute)


def _service(request: Request, session: Session, principal) -> CommentService:
    return CommentService(session, principal, request.app.state.settings, get_storage(request))


@router.post(
    "/v1/tickets/{ticket_id}/comments", response_model=CommentOut, status_code=status.HTTP_201_CREATED
)
async def create_comment(
    ticket_id: UUID, data: CommentCreate, request: Request, session: Session, principal: Agent
) -> CommentOut:
    """Add a public reply or an internal note. An agent's first public reply sets the ticket's
    first_response_at and moves a new ticket to open; a customer's comment brings a pending, on-hold or
    solved ticket back to open, and on a closed ticket opens a follow-up ticket where the comment goes."""
    service = _service(request, session, principal)
    comment = await service.add(ticket_id, data)
    return (await service.present([comment]))[0]


@router.post(
    "/v1/tickets/{ticket_id}/comments/with-files",
    response_model=CommentOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_comment_with_files(
    ticket_id: UUID,
    request: Request,
    session: Session,
    principal: Agent,
    comment: Annotated[
        str, Form(max_length=200_000, description="The comment as JSON (as for POST …/comments)")
    ],
    files: Annotated[list[UploadFile], File(description="Files attached to the comment")],
) -> CommentOut:
    """The same as POST /v1/tickets/{ticket_id}/comments, with the files in the same request."""
    try:
        data = CommentCreate.model_validate_json(comment)
    except ValidationError as invalid:
        errors = [{**error, "loc": ("body", "comment", *error["loc"])} for error in invalid.errors()]
        raise RequestValidationError(errors) from None
    service = _service(request, session, principal)
    created = await service.add(ticket_id, data, files=files)
    return (await service.present([created]))[0]


@router.get("/v1/tickets/{ticket_id}/comments", response_model=Page[CommentOut])
async def list_ticket_comments(
    ticket_id: UUID,
    request: Request,
    session: Session,
    principal: Viewer,
    page: PageQuery,
    public: Annotated[
        bool | None, Query(description="Only replies (true) or only internal notes (false)")
    ] = None,
) -> Page[CommentOut]:
    """The conversation, oldest first."""
    service = _service(request, session, principal)
    comments, next_cursor = await service.page(ticket_id, public, page)
    return Page(items=await service.present(comments), next_cursor=next_cursor)


@router.get("/v1/comments/{comment_id}", response_model=CommentOut)
async def get_comment(comment_id: UUID, request: Request, session: Session, principal: Viewer) -> CommentOut:
    service = _service(request, session, principal)
    return (await service.present([await service.get(comment_id)]))[0]
