"""Dependencies every router uses: the request's session, the caller, and role checks.

The caller is authenticated and its role checked by the route class (app/api/routing.py) before
anything else of the request is read or answered; the dependencies here declare what a route needs
and hand the endpoint what was found.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.auth.service import Authenticated, authenticate
from app.errors import Forbidden, Unauthorized
from app.models.enums import Role, Scope

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
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The caller, as the route class authenticated it (a route that depends on this is authenticated)."""
    return request.state.principal


@dataclass(frozen=True)
class RequireRole:
    """A route's least role; the route class checks it before the request's body is read."""

    role: Role

    async def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return principal


Viewer = Annotated[Principal, Depends(RequireRole(Role.viewer))]
Agent = Annotated[Principal, Depends(RequireRole(Role.agent))]
Admin = Annotated[Principal, Depends(RequireRole(Role.admin))]


async def authorize(
    request: Request, session: AsyncSession, role: Role | None, scope: Scope | None
) -> Authenticated:
    """The caller of `request`, refused (401) without valid credentials, (403) below `role` or, for an
    API key with scopes, without `scope`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    state = request.app.state
    authenticated = await authenticate(session, token.strip(), state.settings, state.secret_box)
    if role is not None and not authenticated.principal.can(role):
        raise Forbidden(f"This action needs the {role.value} role", code="insufficient_role")
    if scope is not None and not authenticated.principal.may(scope):
        raise Forbidden(
            f"This API key lacks the {scope.value} scope",
            code="insufficient_scope",
            extra={"scope": scope.value},
        )
    request.state.principal = authenticated.principal
    return authenticated
