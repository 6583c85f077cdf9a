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
from app.models.enums import Permission, Role, Scope

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


@dataclass(frozen=True)
class Needs:
    """What an operation asks of its caller: the least built-in role, the permission of a custom role
    that covers it (if one does), the scope of an API key."""

    role: Role | None
    permission: Permission | None
    scope: Scope | None


Viewer = Annotated[Principal, Depends(RequireRole(Role.viewer))]
Agent = Annotated[Principal, Depends(RequireRole(Role.agent))]
Admin = Annotated[Principal, Depends(RequireRole(Role.admin))]


async def authorize(request: Request, session: AsyncSession, need: Needs) -> Authenticated:
    """The caller of `request`, refused (401) without valid credentials, (403) below the role the
    operation needs — or, for an agent with a custom role, without the permission that covers it — or,
    for an API key with scopes, without the operation's scope."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    state = request.app.state
    authenticated = await authenticate(session, token.strip(), state.settings, state.secret_box)
    principal = authenticated.principal
    if principal.permissions is not None and need.permission is not None:
        if need.permission not in principal.permissions:
            missing = need.permission.value
            raise Forbidden(
                f"The agent's role lacks the {missing} permission",
                code="insufficient_permission",
                extra={"permission": missing},
            )
    elif need.role is not None and not principal.can(need.role):
        raise Forbidden(f"This action needs the {need.role.value} role", code="insufficient_role")
    if need.scope is not None and not principal.may(need.scope):
        raise Forbidden(
            f"This API key lacks the {need.scope.value} scope",
            code="insufficient_scope",
            extra={"scope": need.scope.value},
        )
    request.state.principal = authenticated.principal
    return authenticated
