"""Dependencies every router uses: the request's session, the caller, and role checks."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.auth.service import authenticate
from app.errors import Forbidden, Unauthorized
from app.models.enums import Role

bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`hd_…`) or an agent token "
    "(a JWT signed with the workspace's agent-token secret).",
)


async def get_session(request: Request) -> AsyncSession:
    """The session of the request's unit of work, opened and committed by the route class.

    Dependencies are coroutines, here and elsewhere, so that FastAPI does not hop to a thread.
    """
    return request.state.session


Session = Annotated[AsyncSession, Depends(get_session)]


async def current_principal(
    request: Request,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    principal = await authenticate(
        session, credentials.credentials, request.app.state.settings, request.app.state.secret_box
    )
    request.state.principal = principal
    return principal


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.can(role):
            raise Forbidden(f"This action needs the {role.value} role", code="insufficient_role")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Agent = Annotated[Principal, Depends(require(Role.agent))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
