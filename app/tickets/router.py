from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import Agent, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.auth.principal import Principal
from app.channels.replies import reply_channel
from app.kit.http import IfMatch, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.kit.time import utcnow
from app.models import Ticket
from app.models.enums import SlaState
from app.relations.service import TicketRelations
from app.sla.service import SlaService
from app.tickets.filters import CUSTOM_FIELD_FILTERS_HELP as CUSTOM_FIELD_HELP
from app.tickets.filters import Filters, TicketGroupBy, TicketSort
from app.tickets.included import IncludeQuery, parse_include, side_load
from app.tickets.schemas import (
    AssignRequest,
    BulkResult,
    BulkUpdate,
    ChildCreate,
    ChildrenPage,
    CountBucket,
    HistoryEntry,
    LinkCreate,
    LinkOut,
    MergeRequest,
    MergeResult,
    TicketCounts,
    TicketCreate,
    TicketOut,
    TicketPage,
    TicketUpdate,
    TicketWithIncluded,
)
from app.tickets.service import TicketService

router = APIRouter(prefix="/v1/tickets", tags=["Tickets"], route_class=UnitOfWorkRoute)

Force = Annotated[
    bool,
    Query(description="Solve or close a parent ticket even though some of its sub-tickets are unresolved"),
]

# A new ticket's answer says where it lives.
CREATED_TICKET: dict[int | str, dict[str, Any]] = {
    201: {"headers": {"Location": {"description": "The new ticket's path", "schema": {"type": "string"}}}}
}


def _service(request: Request, session: Session, principal: Principal) -> TicketService:
    return TicketService(session, principal, request.app.state.settings)


async def _single(service: TicketService, ticket: Ticket, response: Response) -> TicketOut:
    """A ticket as single-ticket responses show it: with its ETag, its SLA clocks and its sub-tickets'
    summary."""
    out = TicketOut.model_validate(ticket)
    # Running clocks are shown as of the current minute, which the ETag then names.
    minute = utcnow().replace(second=0, microsecond=0)
    out.sla = await SlaService(service.session, service.workspace_id).describe(ticket, minute)
    summary = await service.children_summary(ticket.id)
    out.children_summary = summary if summary.total else None
    out.reply_channel = await reply_channel(service.session, ticket, utcnow())
    running = out.sla is not None and any(metric.state is SlaState.running for metric in out.sla.metrics)
    set_etag(response, ticket.version, int(minute.timestamp()) // 60 if running else None)
    return out


@router.post("", response_model=TicketOut, status_code=status.HTTP_201_CREATED, responses=CREATED_TICKET)
async def create_ticket(
    data: TicketCreate, request: Request, session: Session, principal: Agent, response: Response
) -> TicketOut:
    """Open a ticket. Its number is the next of the workspace (#1, #2, …): numbers are unique and
    increasing, and a creation that fails may leave a gap."""
    ticket = await _service(request, session, principal).create(data)
    set_etag(response, ticket["version"])
    response.headers["Location"] = f"/v1/tickets/{ticket['id']}"
    return TicketOut.model_validate(ticket)


@router.get(
    "", response_model=TicketPage, description=f"The tickets the filters select.\n\n{CUSTOM_FIELD_HELP}"
)
async def list_tickets(
    request: Request,
    session: Session,
    principal: Viewer,
    filters: Filters,
    page: PageQuery,
    sort: Annotated[TicketSort, Query(description="A field; a leading `-` sorts descending")] = "-created_at",
    include: IncludeQuery = None,
) -> TicketPage:
    included = parse_include(include, principal)
    items, next_cursor = await _service(request, session, principal).list_page(filters, sort, page)
    return TicketPage(
        items=[TicketOut.model_validate(item) for item in items],
        next_cursor=next_cursor,
        included=await side_load(session, principal.workspace_id, items, included),
    )


@router.get(
    "/counts",
    response_model=TicketCounts,
    description="Tickets per status, priority, assignee, group or category: the columns of a board. "
    f"The filters are the list's.\n\n{CUSTOM_FIELD_HELP}",
)
async def count_tickets(
    request: Request,
    session: Session,
    principal: Viewer,
    filters: Filters,
    group_by: TicketGroupBy = "status",
) -> TicketCounts:
    counted = await _service(request, session, principal).count(filters, group_by)
    buckets = [CountBucket(key=key, count=count) for key, count in counted]
    return TicketCounts(group_by=group_by, total=sum(bucket.count for bucket in buckets), buckets=buckets)


@router.post("/bulk", response_model=BulkResult)
async def bulk_update_tickets(
    data: BulkUpdate, request: Request, session: Session, principal: Agent, force: Force = False
) -> BulkResult:
    """Apply one change set to up to 100 tickets: all of them change, or none does."""
    updated = await _service(request, session, principal).bulk_update(data.ids, data.changes, force=force)
    return BulkResult(items=[TicketOut.model_validate(ticket) for ticket in updated])


@router.get("/{ticket_id}", response_model=TicketWithIncluded)
async def get_ticket(
    ticket_id: UUID,
    request: Request,
    session: Session,
    principal: Viewer,
    response: Response,
    include: IncludeQuery = None,
) -> TicketWithIncluded:
    """With `include`, the ETag covers the included records too (it is the response's own, not the
    ticket's version: send `"<version>"` in If-Match)."""
    included = parse_include(include, principal)
    service = _service(request, session, principal)
    ticket = await service.get(ticket_id)
    shown = await _single(service, ticket, response)
    if included:
        # A renamed requester must not be answered with 304 for an unchanged ticket.
        del response.headers["etag"]
    return TicketWithIncluded(
        **shown.model_dump(), included=await side_load(session, principal.workspace_id, [ticket], included)
    )


@router.patch("/{ticket_id}", response_model=TicketOut)
async def update_ticket(
    ticket_id: UUID,
    data: TicketUpdate,
    request: Request,
    session: Session,
    principal: Agent,
    response: Response,
    if_match: IfMatch = None,
    force: Force = False,
) -> TicketOut:
    """Change fields. A closed ticket is read-only (reopen it); a deleted one must be restored first."""
    service = _service(request, session, principal)
    return await _single(
        service, await service.update(ticket_id, data, if_match=if_match, force=force), response
    )


@router.delete("/{ticket_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_ticket(
    ticket_id: UUID, request: Request, session: Session, principal: Agent, if_match: IfMatch = None
) -> None:
    """Soft-delete: the ticket leaves the lists (see `deleted=true`) and can be restored."""
    await _service(request, session, principal).delete(ticket_id, if_match=if_match)


@router.post("/{ticket_id}/restore", response_model=TicketOut)
async def restore_ticket(
    ticket_id: UUID, request: Request, session: Session, principal: Agent, response: Response
) -> TicketOut:
    service = _service(request, session, principal)
    return await _single(service, await service.restore(ticket_id), response)


@router.post("/{ticket_id}/reopen", response_model=TicketOut)
async def reopen_ticket(
    ticket_id: UUID, request: Request, session: Session, principal: Agent, response: Response
) -> TicketOut:
    """Move a solved or closed ticket back to the default open status."""
    service = _service(request, session, principal)
    return await _single(service, await service.reopen(ticket_id), response)


@router.post("/{ticket_id}/assign", response_model=TicketOut)
async def assign_ticket(
    ticket_id: UUID,
    data: AssignRequest,
    request: Request,
    session: Session,
    principal: Agent,
    response: Response,
    if_match: IfMatch = None,
) -> TicketOut:
    """Give the ticket to an agent of its group (422 for an agent outside the group or inactive), or
    to a group whose strategy (or the one given) chooses among its available agents under capacity. When
    nobody can take it, the ticket waits unassigned in the group and goes to the first agent who can."""
    service = _service(request, session, principal)
    return await _single(service, await service.assign(ticket_id, data, if_match=if_match), response)


@router.post("/{ticket_id}/unassign", response_model=TicketOut)
async def unassign_ticket(
    ticket_id: UUID,
    request: Request,
    session: Session,
    principal: Agent,
    response: Response,
    if_match: IfMatch = None,
) -> TicketOut:
    """Take the ticket from its assignee. A group that assigns automatically hands it to another agent
    at once when one can take it; otherwise it waits in the group."""
    service = _service(request, session, principal)
    return await _single(service, await service.unassign(ticket_id, if_match=if_match), response)


@router.get("/{ticket_id}/children", response_model=ChildrenPage)
async def list_ticket_children(
    ticket_id: UUID, request: Request, session: Session, principal: Viewer, page: PageQuery
) -> ChildrenPage:
    """The sub-tickets, by number, with a summary of all of them by status kind."""
    service = _service(request, session, principal)
    items, next_cursor = await service.children_page(ticket_id, page)
    return ChildrenPage(
        items=[TicketOut.model_validate(item) for item in items],
        next_cursor=next_cursor,
        summary=await service.children_summary(ticket_id),
    )


@router.get("/{ticket_id}/history", response_model=Page[HistoryEntry])
async def list_ticket_history(
    ticket_id: UUID, request: Request, session: Session, principal: Viewer, page: PageQuery
) -> Page[HistoryEntry]:
    """Every change to the ticket, oldest first: who, when, which field, old and new value."""
    items, next_cursor = await _service(request, session, principal).history_page(ticket_id, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/{ticket_id}/children",
    response_model=TicketOut,
    status_code=status.HTTP_201_CREATED,
    responses=CREATED_TICKET,
)
async def create_ticket_child(
    ticket_id: UUID,
    data: ChildCreate,
    request: Request,
    session: Session,
    principal: Agent,
    response: Response,
) -> TicketOut:
    """A sub-ticket made from this one: same requester and category (unless given), and an internal note
    on it that refers to the parent."""
    service = _service(request, session, principal)
    child = await TicketRelations(service).add_child(ticket_id, data, request.app.state.settings)
    set_etag(response, child["version"])
    response.headers["Location"] = f"/v1/tickets/{child['id']}"
    return TicketOut.model_validate(child)


@router.get("/{ticket_id}/links", response_model=Page[LinkOut])
async def list_ticket_links(
    ticket_id: UUID, request: Request, session: Session, principal: Viewer, page: PageQuery
) -> Page[LinkOut]:
    """Links from and to the ticket, oldest first."""
    relations = TicketRelations(_service(request, session, principal))
    items, next_cursor = await relations.links_page(ticket_id, page)
    return Page(items=[LinkOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.post("/{ticket_id}/links", response_model=LinkOut, status_code=status.HTTP_201_CREATED)
async def link_ticket(
    ticket_id: UUID, data: LinkCreate, request: Request, session: Session, principal: Agent
):
    return await TicketRelations(_service(request, session, principal)).link(ticket_id, data)


@router.delete("/{ticket_id}/links/{link_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_ticket(
    ticket_id: UUID, link_id: UUID, request: Request, session: Session, principal: Agent
) -> None:
    await TicketRelations(_service(request, session, principal)).unlink(ticket_id, link_id)


@router.post("/{ticket_id}/merge", response_model=MergeResult)
async def merge_ticket(
    ticket_id: UUID, data: MergeRequest, request: Request, session: Session, principal: Agent
) -> MergeResult:
    """Merge this ticket into another: its comments and attachments move there (each comment keeps
    `original_ticket_id`), followers, CCs and tags are united, this ticket is closed with `merged_into_id`,
    and later messages to it land on the other. Both histories say so."""
    source, target = await TicketRelations(_service(request, session, principal)).merge(ticket_id, data.into)
    return MergeResult(ticket=TicketOut.model_validate(source), into=TicketOut.model_validate(target))
