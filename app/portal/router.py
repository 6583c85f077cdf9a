from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from app.api.contract import download
from app.api.deps import Agent, Session
from app.api.routing import CredentialIssuingRoute, PortalRoute
from app.attachments.downloads import file_response
from app.attachments.storage import Storage, storage_dependency
from app.customer_links.service import issue_link, link_expires_at, link_url, revoke_link
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.portal.access import AccessService
from app.portal.limits import AccessLimiter
from app.portal.schemas import (
    AccessAccepted,
    AccessRequest,
    CustomerLinkOut,
    MyTicketLinkOut,
    MyTicketOut,
    PortalCommentOut,
    PortalRatingOut,
    PortalReplyIn,
    PortalReplyOut,
    PortalSessionIn,
    PortalSessionOut,
    PortalTicketOut,
)
from app.portal.service import PortalService
from app.ratings.schemas import RatingIn
from app.tickets.service import TicketService

StorageDep = Annotated[Storage, Depends(storage_dependency)]
Token = Annotated[str, Path(min_length=1, max_length=100, description="The token of the ticket's link")]


links = APIRouter(prefix="/v1/tickets", tags=["Tickets"], route_class=CredentialIssuingRoute)
router = APIRouter(prefix="/v1/portal", tags=["Customer portal"], route_class=PortalRoute)


@links.post("/{ticket_id}/customer-link", response_model=CustomerLinkOut, status_code=status.HTTP_201_CREATED)
async def issue_customer_link(
    ticket_id: UUID, request: Request, session: Session, principal: Agent
) -> CustomerLinkOut:
    """Issue the ticket's customer link: `{HELPDESK_PORTAL_PUBLIC_BASE_URL}/t/{token}` opens the ticket's
    public thread (never its internal notes) to whoever holds it. Issuing it again revokes every token
    handed out before, those in sent emails too. Refused (409) for a deleted or internal ticket, or one
    without a requester."""
    settings = request.app.state.settings
    ticket = await TicketService(session, principal, settings).get(ticket_id, for_update=True)
    token = await issue_link(session, settings.portal, principal, ticket, replace=True)
    return CustomerLinkOut(
        url=link_url(settings.portal, token),
        token=token,
        expires_at=link_expires_at(settings.portal, ticket),
    )


@links.delete("/{ticket_id}/customer-link", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_customer_link(ticket_id: UUID, request: Request, session: Session, principal: Agent) -> None:
    """Revoke the ticket's customer link: from now on every token of it, those in sent emails too, is a
    404. Issue a new one with POST."""
    ticket = await TicketService(session, principal, request.app.state.settings).get(
        ticket_id, for_update=True
    )
    await revoke_link(session, ticket)


def _access(request: Request, session: Session) -> AccessService:
    return AccessService(session, request.app.state.settings)


def _access_limiter(request: Request) -> AccessLimiter:
    """The process's limits on access links, made on first use."""
    limiter = getattr(request.app.state, "portal_access_limiter", None)
    if limiter is None:
        limiter = request.app.state.portal_access_limiter = AccessLimiter(request.app.state.settings.portal)
    return limiter


Access = Annotated[AccessService, Depends(_access)]
SessionToken = Annotated[
    str, Path(min_length=1, max_length=100, description="The session's token (POST /v1/portal/sessions)")
]


@router.post("/access", response_model=AccessAccepted, status_code=status.HTTP_202_ACCEPTED)
async def request_portal_access(data: AccessRequest, request: Request, access: Access) -> AccessAccepted:
    """Ask for a link to one's own tickets: when the address is a contact's, a link is sent to it through
    the workspace's email channel (`{HELPDESK_PORTAL_PUBLIC_BASE_URL}/my/{token}`), single-use and valid
    for `HELPDESK_PORTAL_ACCESS_LINK_MINUTES`. The answer is the same whether or not the address is
    known, and whether or not the workspace exists. At most `HELPDESK_PORTAL_ACCESS_PER_ADDRESS_PER_HOUR`
    links go to one address (those beyond are answered alike, and not sent); a client asking more than
    `HELPDESK_PORTAL_ACCESS_PER_CLIENT_PER_MINUTE` times a minute gets a 429."""
    limiter = _access_limiter(request)
    limiter.admit_client(request.client.host if request.client else "")
    if limiter.admit_address(data.workspace_id, data.email):
        await access.request(data.workspace_id, data.email)
    return AccessAccepted(detail="If the address is known, a link to its requests is on its way")


@router.post("/sessions", response_model=PortalSessionOut, status_code=status.HTTP_201_CREATED)
async def open_portal_session(data: PortalSessionIn, access: Access) -> PortalSessionOut:
    """Exchange the token of a link sent by email for a session token, which lists the contact's tickets
    until it expires (`HELPDESK_PORTAL_SESSION_MINUTES`). The link works once: used, expired or unknown,
    it is a 404."""
    return await access.open_session(data.token)


@router.get("/my/{session_token}", response_model=Page[MyTicketOut])
async def list_my_tickets(session_token: SessionToken, access: Access, page: PageQuery) -> Page[MyTicketOut]:
    """The session's contact's tickets, newest first (never an internal or deleted one); 404 once the
    session expired."""
    items, next_cursor = await access.tickets(session_token, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/my/{session_token}/tickets/{number}/link",
    response_model=MyTicketLinkOut,
    status_code=status.HTTP_201_CREATED,
)
async def open_my_ticket(
    session_token: SessionToken,
    number: Annotated[int, Path(ge=1, le=2**63 - 1, description="The ticket's number")],
    access: Access,
) -> MyTicketLinkOut:
    """A link to one of the session's contact's tickets (a token of its own, alongside those sent before):
    open it with the ticket's routes."""
    return await access.open_ticket(session_token, number)


def _service(request: Request, session: Session, storage: StorageDep) -> PortalService:
    return PortalService(session, request.app.state.settings, storage)


Portal = Annotated[PortalService, Depends(_service)]


@router.get("/{token}", response_model=PortalTicketOut)
async def get_portal_ticket(token: Token, portal: Portal) -> PortalTicketOut:
    """The ticket the link opens, as its customer sees it. A token unknown or revoked, or of a ticket
    deleted since, is a 404; once the link expired (a while after the ticket closed), a 410."""
    return await portal.ticket(token)


@router.get("/{token}/comments", response_model=Page[PortalCommentOut])
async def list_portal_comments(token: Token, portal: Portal, page: PageQuery) -> Page[PortalCommentOut]:
    """The ticket's public comments, oldest first; internal notes never."""
    items, next_cursor = await portal.comments(token, page)
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{token}/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses={
        **download("*/*", "The file's bytes, as its sniffed type"),
        307: {"description": "With `HELPDESK_S3_PRESIGNED_DOWNLOADS`: fetch the file from `Location`"},
        410: {"description": "The link expired, or the file's bytes are missing from storage"},
    },
)
async def download_portal_attachment(
    token: Token, attachment_id: UUID, portal: Portal, storage: StorageDep
) -> Response:
    """A file of one of the ticket's public comments; any other file is a 404."""
    return await file_response(storage, await portal.attachment(token, attachment_id))


@router.post("/{token}/replies", response_model=PortalReplyOut, status_code=status.HTTP_201_CREATED)
async def create_portal_reply(token: Token, data: PortalReplyIn, portal: Portal) -> PortalReplyOut:
    """The customer's reply, a public comment by the ticket's requester: it brings a pending or solved
    ticket back to open; on a closed ticket it opens a follow-up ticket where it goes, and the answer
    carries the follow-up's own link."""
    return await portal.present_reply(await portal.reply(token, data.body))


@router.post(
    "/{token}/replies/with-files", response_model=PortalReplyOut, status_code=status.HTTP_201_CREATED
)
async def create_portal_reply_with_files(
    token: Token,
    portal: Portal,
    body: Annotated[str, Form(min_length=1, max_length=65_536, description="The reply, plain text")],
    files: Annotated[list[UploadFile], File(description="Files attached to the reply")],
) -> PortalReplyOut:
    """The same as POST …/replies, with files: the limits of attachments apply, and each file's type is
    sniffed from its bytes."""
    return await portal.present_reply(await portal.reply(token, body, files))


@router.post("/{token}/solve", response_model=PortalTicketOut)
async def solve_portal_ticket(token: Token, portal: Portal) -> PortalTicketOut:
    """The customer marks the ticket solved (its default solved status); 409 once solved or closed."""
    return await portal.solve(token)


@router.put("/{token}/rating", response_model=PortalRatingOut)
async def rate_portal_ticket(token: Token, data: RatingIn, portal: Portal) -> PortalRatingOut:
    """Rate the ticket's latest solve: a score of 1 to 5, or good or bad, with a comment. One rating per
    solve, which may be changed for 7 days after it was given (then 409 `rating_locked`); before the
    ticket is solved, 409 `ticket_not_solved`. Sends `ticket.rated`."""
    return await portal.rate(token, data)
