from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.agents.service import NotAnAgent
from app.api.deps import Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.auth.principal import Principal
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.notifications.schemas import NotificationOut, ReadAll, UnreadCount
from app.notifications.service import NotificationService

router = APIRouter(prefix="/v1/notifications", tags=["Notifications"], route_class=UnitOfWorkRoute)

# As for GET /v1/agents/me: an API key has no feed, since it acts as no agent.
_AGENT_ONLY = {404: {"description": "`not_an_agent`: the credential acts as no agent (an API key)"}}


def _agent_of(principal: Principal) -> UUID:
    if principal.agent_id is None:
        raise NotAnAgent()
    return principal.agent_id


@router.get("", response_model=Page[NotificationOut], responses=_AGENT_ONLY)
async def list_notifications(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    unread: Annotated[bool | None, Query(description="true: only the unread; false: only the read")] = None,
) -> Page[NotificationOut]:
    """The calling agent's notifications, newest first (kept 90 days)."""
    agent_id = _agent_of(principal)
    return await NotificationService(session, principal.workspace_id).page(agent_id, unread, page)


@router.get("/unread-count", response_model=UnreadCount, responses=_AGENT_ONLY)
async def count_unread_notifications(session: Session, principal: Viewer) -> UnreadCount:
    agent_id = _agent_of(principal)
    return UnreadCount(
        unread=await NotificationService(session, principal.workspace_id).unread_count(agent_id)
    )


@router.post("/read-all", response_model=ReadAll, responses=_AGENT_ONLY)
async def read_all_notifications(session: Session, principal: Viewer) -> ReadAll:
    """Mark every unread notification of the calling agent read."""
    agent_id = _agent_of(principal)
    return ReadAll(marked=await NotificationService(session, principal.workspace_id).mark_all_read(agent_id))


@router.post("/{notification_id}/read", response_model=NotificationOut, responses=_AGENT_ONLY)
async def read_notification(notification_id: UUID, session: Session, principal: Viewer) -> NotificationOut:
    """Idempotent; another agent's notification is a 404."""
    agent_id = _agent_of(principal)
    return await NotificationService(session, principal.workspace_id).mark_read(agent_id, notification_id)
