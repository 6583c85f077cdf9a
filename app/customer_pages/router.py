"""The customer pages' routes: HTML for people, outside the API's contract (not in the OpenAPI
document), and the stylesheets they link.

Every form posts back to its page's link and answers with a redirect to the page (303), which tells
what was done; a form is refused (403) unless it carries the page's form token and comes from the
service's own pages.
"""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Cookie, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import Session
from app.attachments.storage import Storage, storage_dependency
from app.customer_pages.rendering import NEUTRAL, Brand, page_locale, render, stylesheet, theme
from app.customer_pages.routing import BACK_STATE, BRAND_STATE, LOCALE_STATE, PageRoute
from app.customer_pages.security import form_token, form_token_valid, same_origin
from app.customer_pages.texts import has_text, page_text
from app.errors import Forbidden, NotFound
from app.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams
from app.kit.schemas import refuse_unstorable_parameters
from app.kit.tokens import read_token
from app.portal.access import AccessService
from app.portal.schemas import PortalAttachmentOut, PortalCommentOut
from app.portal.service import Opened, PortalService
from app.ratings.schemas import RatingIn
from app.workspaces.repository import get_workspace

# Stylesheets name their content in their URL: a browser or a shared cache may keep them for good.
ASSET_CACHE = "public, max-age=31536000, immutable"
LinkToken = Annotated[str, Path(min_length=1, max_length=100)]
FormToken = Annotated[str, Form(max_length=200)]
# The session a link sent by email opened: HttpOnly, sent to /my only, and never from another site.
SESSION_COOKIE = "helpdesk_portal_session"
SessionCookie = Annotated[str | None, Cookie(alias=SESSION_COOKIE, max_length=100)]

assets = APIRouter(include_in_schema=False)
router = APIRouter(
    include_in_schema=False, route_class=PageRoute, dependencies=[Depends(refuse_unstorable_parameters)]
)


def _portal(
    request: Request, session: Session, storage: Annotated[Storage, Depends(storage_dependency)]
) -> PortalService:
    return PortalService(session, request.app.state.settings, storage)


Portal = Annotated[PortalService, Depends(_portal)]


def _access(request: Request, session: Session) -> AccessService:
    return AccessService(session, request.app.state.settings)


Access = Annotated[AccessService, Depends(_access)]


def _ticket_url(token: str) -> str:
    return f"/t/{quote(token, safe='')}"


async def _open(request: Request, session: AsyncSession, portal: PortalService, token: str) -> Opened:
    """The ticket the link opens, its workspace's brand and the page's language kept on the request (an
    error after this is shown in them); an unknown, revoked or expired link is the not-found page."""
    opened = await portal.open(token)
    workspace = await get_workspace(session, opened.ticket.workspace_id)
    if workspace is None:
        raise NotFound("Ticket")
    setattr(request.state, BRAND_STATE, Brand(workspace.name, workspace.brand_color))
    setattr(request.state, LOCALE_STATE, page_locale(request, workspace.locale.value))
    setattr(request.state, BACK_STATE, _ticket_url(token))
    return opened


def _check_form(request: Request, token: str, submitted: str) -> None:
    """CSRF: the form came from this link's page, recently, in a browser that says it is this site."""
    if not (same_origin(request) and form_token_valid(request.app.state.secret_box, token, submitted)):
        raise Forbidden("The form is stale or not from this page", code="form_expired")


def _done(token: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"{_ticket_url(token)}?done={what}", status_code=303)


@router.get("/t/{token}")
async def ticket_page(
    token: LinkToken,
    request: Request,
    session: Session,
    portal: Portal,
    done: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """The ticket, its public conversation with its files, and the forms to reply, solve and rate."""
    opened = await _open(request, session, portal, token)
    locale: str = getattr(request.state, LOCALE_STATE)
    ticket = await portal.present_ticket(opened)
    comments, next_cursor = await portal.comments(token, PageParams(cursor, MAX_LIMIT))
    limits = request.app.state.settings.attachment
    base = _ticket_url(token)

    def author_of(comment: PortalCommentOut) -> str:
        """Who wrote it by name; else "you" for a customer (a contact copied in writes too) or "support"."""
        fallback = "you" if comment.author == "customer" else "support"
        return comment.author_name or page_text(locale, fallback)

    def download_url(file: PortalAttachmentOut) -> str:
        return f"/v1/portal/{quote(token, safe='')}/attachments/{file.id}"

    notice_key = f"done.{done}"
    return render(
        request,
        "ticket.html",
        locale=locale,
        brand=getattr(request.state, BRAND_STATE),
        title=page_text(locale, "ticket_title", number=ticket.number, subject=ticket.subject),
        notice=page_text(locale, notice_key) if done and has_text(notice_key) else None,
        ticket=ticket,
        comments=comments,
        more_url=f"{base}?cursor={quote(next_cursor, safe='')}" if next_cursor else None,
        author_of=author_of,
        download_url=download_url,
        kilobytes=lambda size: max(1, round(size / 1024)),
        limits={"count": limits.max_files_per_comment, "megabytes": limits.max_file_bytes // (1024 * 1024)},
        form_token=form_token(request.app.state.secret_box, token),
        reply_url=f"{base}/reply",
        solve_url=f"{base}/solve",
        rating_url=f"{base}/rating",
    )


@router.post("/t/{token}/reply")
async def reply_form(
    token: LinkToken,
    request: Request,
    session: Session,
    portal: Portal,
    form_token: FormToken,
    body: Annotated[str, Form(min_length=1, max_length=65_536)],
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """The customer's reply with its files; on a closed ticket it goes to a follow-up, whose page opens."""
    await _open(request, session, portal, token)
    _check_form(request, token, form_token)
    # A file input left empty is sent as a part without a name or bytes.
    chosen = [file for file in files or () if file.filename]
    reply = await portal.reply(token, body, chosen)
    if reply.follow_up_token is not None:
        return _done(reply.follow_up_token, "follow_up")
    return _done(token, "replied")


@router.post("/t/{token}/solve")
async def solve_form(
    token: LinkToken, request: Request, session: Session, portal: Portal, form_token: FormToken
) -> Response:
    await _open(request, session, portal, token)
    _check_form(request, token, form_token)
    await portal.solve(token)
    return _done(token, "solved")


@router.post("/t/{token}/rating")
async def rating_form(
    token: LinkToken,
    request: Request,
    session: Session,
    portal: Portal,
    form_token: FormToken,
    score: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[str, Form(max_length=65_536)] = "",
) -> Response:
    await _open(request, session, portal, token)
    _check_form(request, token, form_token)
    await portal.rate(token, RatingIn(score=score, comment=comment.strip() or None))
    return _done(token, "rated")


@router.get("/my/{token}")
async def my_access_page(token: LinkToken, request: Request) -> Response:
    """What the link sent by email opens: a button that uses it. The link works once, and mail scanners
    follow links on their own: only the customer's press spends it. Nothing here says whether the link
    is valid, nor whose it is."""
    locale = page_locale(request, "vi")
    return render(
        request,
        "my_access.html",
        locale=locale,
        brand=NEUTRAL,
        title=page_text(locale, "my_title"),
        open_url=f"/my/{quote(token, safe='')}",
        form_token=form_token(request.app.state.secret_box, token),
    )


@router.post("/my/{token}")
async def my_access_form(
    token: LinkToken, request: Request, access: Access, form_token: FormToken
) -> Response:
    """Spend the link for a session, kept in a cookie, and show the customer's tickets."""
    _check_form(request, token, form_token)
    opened = await access.open_session(token)
    answer = RedirectResponse("/my", status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        opened.session_token,
        expires=opened.expires_at,
        path="/my",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return answer


async def _my_brand(request: Request, session: AsyncSession, session_token: str | None) -> str:
    """The session's token, with its workspace's brand and the page's language kept on the request; no
    session is the not-found page."""
    read = read_token(session_token or "")
    workspace = await get_workspace(session, read[0]) if read else None
    if session_token is None or workspace is None:
        raise NotFound("Session")
    setattr(request.state, BRAND_STATE, Brand(workspace.name, workspace.brand_color))
    setattr(request.state, LOCALE_STATE, page_locale(request, workspace.locale.value))
    setattr(request.state, BACK_STATE, "/my")
    return session_token


@router.get("/my")
async def my_tickets_page(
    request: Request,
    session: Session,
    access: Access,
    session_token: SessionCookie = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """The customer's tickets, newest first, each with a button that opens it."""
    token = await _my_brand(request, session, session_token)
    tickets, next_cursor = await access.tickets(token, PageParams(cursor, DEFAULT_LIMIT))
    locale: str = getattr(request.state, LOCALE_STATE)
    return render(
        request,
        "my.html",
        locale=locale,
        brand=getattr(request.state, BRAND_STATE),
        title=page_text(locale, "my_title"),
        tickets=tickets,
        more_url=f"/my?cursor={quote(next_cursor, safe='')}" if next_cursor else None,
        open_ticket_url=lambda ticket: f"/my/tickets/{ticket.number}",
        form_token=form_token(request.app.state.secret_box, token),
    )


@router.post("/my/tickets/{number}")
async def my_ticket_form(
    number: Annotated[int, Path(ge=1, le=2**63 - 1)],
    request: Request,
    session: Session,
    access: Access,
    form_token: FormToken,
    session_token: SessionCookie = None,
) -> Response:
    """Open one of the customer's tickets: a new token of its link, and its page."""
    token = await _my_brand(request, session, session_token)
    _check_form(request, token, form_token)
    link = await access.open_ticket(token, number)
    return RedirectResponse(_ticket_url(link.token), status_code=303)


@assets.get("/pages/pages.css")
async def pages_stylesheet() -> Response:
    return Response(
        stylesheet()[0],
        media_type="text/css",
        headers={"Cache-Control": ASSET_CACHE, "X-Content-Type-Options": "nosniff"},
    )


@assets.get("/pages/theme/{color}.css")
async def theme_stylesheet(color: Annotated[str, Path(pattern="^[0-9a-f]{6}$")]) -> Response:
    return Response(
        theme(f"#{color}"),
        media_type="text/css",
        headers={"Cache-Control": ASSET_CACHE, "X-Content-Type-Options": "nosniff"},
    )
