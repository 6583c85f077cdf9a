"""Dependencies every router uses: the request's session, the caller, and role checks.

The caller is authenticated and its role checked by the route class (app/api/routing.py) before
anything else of the request is read or answered; the dependencies here declare what a route needs
and hand the endpoint what was found.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.auth.service import Authenticated, authenticate, authenticate_stream_token
from app.errors import Forbidden, Unauthorized
from app.models.enums import Permission, Role, Scope

bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`hd_…`) or an agent token "
    "(a JWT signed with the workspace's agent-token secret).",
)


# Only the routes that declare it take it (the live stream): a browser's EventSource sends no headers.
STREAM_TOKEN_PARAMETER = "token"  # noqa: S105 - a parameter's name, not a secret
stream_token = APIKeyQuery(
    name=STREAM_TOKEN_PARAMETER,
    scheme_name="StreamToken",
    auto_error=False,
    description="A stream token from `POST /v1/events/stream-token`, for clients that cannot send an "
    "Authorization header (a browser's EventSource). Short-lived, and refused by every other operation.",
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


async def current_credential(
    request: Request, _: Annotated[Principal, Depends(current_principal)]
) -> Authenticated:
    """The caller's credential as the route class authenticated it (with what the principal omits)."""
    return request.state.authenticated


Credential = Annotated[Authenticated, Depends(current_credential)]


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


async def authorize(
    request: Request, session: AsyncSession, need: Needs, *, takes_stream_token: bool = False
) -> Authenticated:
    """The caller of `request`, refused (401) without valid credentials, (403) below the role the
    operation needs — or, for an agent with a custom role, without the permission that covers it — or,
    for an API key with scopes, without the operation's scope. A route that takes a stream token reads
    it from the query when the request has no Authorization header."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    state = request.app.state
    if scheme.lower() == "bearer" and token.strip():
        authenticated = await authenticate(session, token.strip(), state.settings, state.secret_box)
    elif takes_stream_token and "authorization" not in request.headers:
        given = request.query_params.get(STREAM_TOKEN_PARAMETER)
        if not given:
            raise Unauthorized()
        authenticated = await authenticate_stream_token(session, given, state.secret_box)
    else:
        raise Unauthorized()
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
    request.state.authenticated = authenticated
    return authenticated
