from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status

from app.api.deps import Admin, Session
from app.api.routing import UnitOfWorkRoute
from app.auth import service
from app.auth.repository import BY_CREATION, ApiKeyRepository, TokenSecretRepository
from app.credentials.schemas import (
    AgentTokenSecretCreated,
    AgentTokenSecretOut,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
)
from app.errors import NotFound
from app.kit.pagination import PageQuery
from app.kit.schemas import Page

router = APIRouter(tags=["API keys and agent tokens"], route_class=UnitOfWorkRoute)


@router.get("/v1/api-keys", response_model=Page[ApiKeyOut])
async def list_api_keys(
    session: Session,
    principal: Admin,
    page: PageQuery,
    include_revoked: Annotated[bool, Query()] = False,
) -> Page[ApiKeyOut]:
    repo = ApiKeyRepository(session, principal.workspace_id)
    items, next_cursor = await repo.paginate(repo.list_statement(include_revoked), BY_CREATION, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post("/v1/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(data: ApiKeyCreate, session: Session, principal: Admin) -> ApiKeyCreated:
    """Create a key; the key itself is in this response only and is stored as a digest."""
    issued = await service.issue_api_key(session, principal.workspace_id, data.name, data.role, data.scopes)
    return ApiKeyCreated.model_validate(
        {**ApiKeyOut.model_validate(issued.api_key).model_dump(), "key": issued.plaintext}
    )


@router.delete("/v1/api-keys/{api_key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(api_key_id: UUID, session: Session, principal: Admin) -> None:
    """Revoke a key at once; requests made with it are refused from now on."""
    await service.revoke_api_key(session, principal.workspace_id, api_key_id)


@router.get("/v1/agent-token-secret", response_model=AgentTokenSecretOut)
async def get_agent_token_secret(session: Session, principal: Admin):
    """The current signing secret's id (never the secret itself)."""
    current = await TokenSecretRepository(session, principal.workspace_id).current()
    if current is None:
        raise NotFound("Agent token secret")
    return current


@router.post(
    "/v1/agent-token-secret/rotate",
    response_model=AgentTokenSecretCreated,
    status_code=status.HTTP_201_CREATED,
)
async def rotate_agent_token_secret(request: Request, session: Session, principal: Admin):
    """Create a new signing secret for agent tokens, shown once.

    Agent tokens are HS256 JWTs with the header `kid` set to the secret's id and the claims `sub`
    (the agent's external_id), `role` (admin, agent or viewer) and `exp`. Tokens signed with the
    previous secret stay valid for the grace period (HELPDESK_AGENT_TOKEN_SECRET_GRACE_MINUTES).
    """
    issued = await service.rotate_token_secret(
        session, principal.workspace_id, request.app.state.settings, request.app.state.secret_box
    )
    return AgentTokenSecretCreated(
        id=issued.secret.id,
        created_at=issued.secret.created_at,
        secret=issued.plaintext,
        previous_secret_expires_at=issued.previous_expires_at,
    )
