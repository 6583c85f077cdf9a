"""The route class of the API: one unit of work per request, committed before the response is sent."""

import asyncio
import hashlib
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from uuid import UUID

from fastapi import Depends, Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.routing import compile_path
from starlette.types import Message, Receive, Scope, Send

from app.api import idempotency
from app.api.deps import (
    STREAM_TOKEN_PARAMETER,
    Needs,
    RequireRole,
    authorize,
    current_principal,
    stream_token,
)
from app.api.permissions import permission_of
from app.api.rate_limits import Quota, RateLimiter
from app.api.scopes import scope_of
from app.auth.repository import record_api_key_use
from app.config import Settings
from app.errors import BadRequest, PayloadTooLarge, Unauthorized
from app.kit.logs import current_context
from app.models.enums import Role
from app.models.enums import Scope as KeyScope

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class _IdConvertor(Convertor[str]):
    """A UUID in its usual form, in either case; the endpoint's validation reads it."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("id", _IdConvertor())
# Room for each multipart part's boundary and headers (a long filename included) beyond its bytes.
PART_OVERHEAD_BYTES = 64 * 1024
# Where the route keeps the request's quota, for its answer's RateLimit headers.
QUOTA_SCOPE_KEY = "helpdesk.quota"


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


class UnitOfWorkRoute(APIRoute):
    """Opens the request's session, commits it once the response is rendered, rolls back on any error.

    Committing here rather than in a dependency's teardown guarantees that a client never sees a
    success that was not durable. Before the endpoint runs or the body is read, the caller is
    authenticated and its role (or its custom role's permission) and its key's scope checked, so that
    nothing — not even a stored idempotent response — answers a caller who may not make the request.
    POST routes then honour `Idempotency-Key`; GET responses get an ETag (unless the endpoint set one)
    and answer `If-None-Match` with 304. A body larger than the route takes is refused (413) before it
    is read, or as soon as it passes the limit;
    one that has not all arrived within the request timeout is refused (408). The caller's requests
    are counted right after authentication (app/api/rate_limits.py): over its limits, a 429 and nothing
    else is done; otherwise the answer, whatever it is, tells the caller's quota.
    """

    # Idempotency keys belong to the caller's credential, so they need an API key or agent token.
    honours_idempotency_keys = True
    refuses_unknown_query_parameters = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ()}
        idempotent = "POST" in methods and self.honours_idempotency_keys
        if idempotent:
            kwargs["dependencies"] = [
                *(kwargs.get("dependencies") or []),
                Depends(idempotency.idempotency_key_header),
            ]
        super().__init__(path, endpoint, **kwargs)
        calls = list(_calls(self.dependant))
        self.authenticated = current_principal in calls
        roles = [call.role for call in calls if isinstance(call, RequireRole)]
        self.least_role: Role | None = max(roles, key=lambda role: role.rank) if roles else None
        self.idempotent = idempotent and self.authenticated
        self.takes_files = any(
            isinstance(field.field_info, params.File) for field in self.dependant.body_params
        )
        # The live stream: a browser opens it with a stream token in the query.
        self.takes_stream_token = stream_token in calls
        parameters = get_flat_params(self.dependant)
        self._type_ids(parameters)
        self.query_names = frozenset(
            [p.alias for p in parameters if isinstance(p.field_info, params.Query)]
            + ([STREAM_TOKEN_PARAMETER] if self.takes_stream_token else [])
        )
        # Parameters whose names are the workspace's own (`cf.<key>`): a dependency that reads them
        # from the query says so with `query_prefixes`.
        self.query_prefixes = tuple(
            prefix for call in calls for prefix in getattr(call, "query_prefixes", ())
        )
        self.header_names = frozenset(
            p.alias.replace("_", "-").lower() for p in parameters if isinstance(p.field_info, params.Header)
        )
        self.takes_path_parameters = any(isinstance(p.field_info, params.Path) for p in parameters)
        self.scope: KeyScope | None = scope_of(self.path_format, self.methods) if self.authenticated else None
        self.permission = permission_of(self.path_format, self.methods) if self.authenticated else None
        self.needs = Needs(self.least_role, self.permission, self.scope)

    def _type_ids(self, parameters: list[Any]) -> None:
        """Path parameters that are ids match ids only, so that a literal segment is never taken for one:
        `PATCH /v1/agents/me` is a 405 naming `GET`, not a malformed `agent_id`."""
        ids = {
            p.alias
            for p in parameters
            if isinstance(p.field_info, params.Path) and p.field_info.annotation is UUID
        }
        typed = re.sub(r"{(\w+)}", lambda m: f"{{{m[1]}:id}}" if m[1] in ids else m[0], self.path)
        if typed != self.path:
            # The route is rebuilt from `path` wherever a router includes it: the convertor goes there.
            self.path = typed
            self.path_regex, self.path_format, self.param_convertors = compile_path(typed)

    def max_body_bytes(self, settings: Settings) -> int:
        """JSON bodies are small; a route that takes files takes as many as a comment may carry."""
        if not self.takes_files:
            return settings.max_body_bytes
        limits = settings.attachment
        return limits.max_files_per_comment * (limits.max_file_bytes + PART_OVERHEAD_BYTES)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings: Settings = scope["app"].state.settings
        limit = self.max_body_bytes(settings)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(
                f"The request body is larger than {limit} bytes", extra={"max_body_bytes": limit}
            )
        receiving = _body_within(settings.request_timeout_seconds, receive)
        await RequestBodyLimitMiddleware(super().handle, limit)(scope, receiving, _telling_quota(scope, send))

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def run_unit_of_work(request: Request) -> Response:
            async with request.app.state.db.sessionmaker() as session:
                request.state.session = session
                try:
                    claim = await self._admit(request, session)
                    response = await handler(request)
                    if response.status_code >= 400:
                        await session.rollback()
                        return response
                    if claim is not None:
                        ttl_hours = request.app.state.settings.idempotency_ttl_hours
                        await idempotency.store_response(session, claim, response, ttl_hours)
                    await session.commit()
                except idempotency.IdempotentReplay as replay:
                    await session.rollback()
                    return replay.response
                except BaseException:
                    await session.rollback()
                    raise
            if self.takes_stream_token:
                # Its URL may hold a credential: nothing on the way keeps it, nor what it answered.
                response.headers["Cache-Control"] = "no-store"
            if request.method == "GET":
                return _with_etag(request, response)
            return response

        return run_unit_of_work

    async def _admit(self, request: Request, session: AsyncSession) -> idempotency.Claim | None:
        """Authenticate and authorise the caller, count the request against its limits, check the query
        names only parameters the route takes, then hold the request's Idempotency-Key if it has one."""
        limiter: RateLimiter | None = request.app.state.rate_limiter
        if not self.authenticated:
            if limiter is not None:
                self.limit_intake(request, limiter)
            self.check_query(request)
            return None
        try:
            authenticated = await authorize(
                request, session, self.needs, takes_stream_token=self.takes_stream_token
            )
        except Unauthorized:
            if limiter is not None:
                limiter.count_failed_authentication(request.client.host if request.client else "")
            raise
        principal = authenticated.principal
        current_context().update(
            workspace_id=str(principal.workspace_id),
            credential=f"{principal.actor_type.value}:{principal.actor_id}",
        )
        if limiter is not None:
            per_minute = await limiter.workspace_per_minute(session, principal.workspace_id)
            request.scope[QUOTA_SCOPE_KEY] = limiter.admit(principal, per_minute)
        if authenticated.stale_key is not None:
            # Its own short transaction: the key's row is not held while the request works.
            await record_api_key_use(session, authenticated.stale_key)
            await session.commit()
        self.check_query(request)
        key = request.headers.get(idempotency.HEADER)
        if not self.idempotent or key is None:
            return None
        return await idempotency.claim(request, session, authenticated.principal, key)

    def limit_intake(self, request: Request, limiter: RateLimiter) -> None:
        """Counts a request of a route without credentials against the budget of what it serves; the
        health check has none."""

    def check_query(self, request: Request) -> None:
        """A parameter the route does not take is refused rather than ignored: a misspelt filter must
        not answer with everything."""
        unknown = sorted(
            name
            for name in set(request.query_params) - self.query_names
            if not (self.query_prefixes and name.startswith(self.query_prefixes))
        )
        if unknown and self.refuses_unknown_query_parameters:
            raise BadRequest(
                f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                field=unknown[0],
                code="unknown_query_parameter",
                extra={"unknown": unknown},
            )


def _body_within(seconds: float, receive: Receive) -> Receive:
    """`receive`, refusing (408, and the connection closed) a body not all arrived within `seconds` of
    now: a slow sender must not hold the request's database connection, nor its place, for longer."""
    deadline = asyncio.get_running_loop().time() + seconds
    arrived = False

    async def receiving() -> Message:
        nonlocal arrived
        if arrived:
            # After the body, the route only listens for a disconnect, as long as its answer lasts.
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise HTTPException(
                408,
                f"The request's body did not arrive within {seconds:g} seconds",
                headers={"Connection": "close"},
            ) from None
        arrived = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return receiving


def _telling_quota(scope: Scope, send: Send) -> Send:
    """`send`, adding the RateLimit headers of the request's quota, once counted, to its answer."""

    async def sending(message: Message) -> None:
        quota: Quota | None = scope.get(QUOTA_SCOPE_KEY)
        if message["type"] == "http.response.start" and quota is not None:
            extra = [(name.lower().encode(), value.encode()) for name, value in quota.headers().items()]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


def _with_etag(request: Request, response: Response) -> Response:
    if response.status_code != 200 or not hasattr(response, "body"):
        return response
    etag = response.headers.get("etag")
    if etag is None:
        etag = 'W/"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
        response.headers["ETag"] = etag
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return response


def _weak_equal(a: str, b: str) -> bool:
    return a.removeprefix("W/") == b.removeprefix("W/")


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [candidate.strip() for candidate in header.split(",")]
    return "*" in candidates or any(_weak_equal(candidate, etag) for candidate in candidates)


class CredentialIssuingRoute(UnitOfWorkRoute):
    """For operations that answer a new credential and change nothing: the answer must never be kept
    (an Idempotency-Key would store it with the request), and asking again does no harm."""

    honours_idempotency_keys = False


class PortalRoute(UnitOfWorkRoute):
    """For customers, who hold no credential but the token in the path: their requests are counted by
    client address; no Idempotency-Key (it belongs to a credential); and no answer is kept by a cache or
    handed on as a referrer, since its URL opens a ticket."""

    honours_idempotency_keys = False

    def limit_intake(self, request: Request, limiter: RateLimiter) -> None:
        request.scope[QUOTA_SCOPE_KEY] = limiter.admit_portal_client(
            request.client.host if request.client else ""
        )

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def private(request: Request) -> Response:
            response = await handler(request)
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

        return private


class ProviderRoute(UnitOfWorkRoute):
    """For channels' inbound endpoints: the caller proves itself with the channel's secret, and a
    re-sent message is recognised by its provider id rather than by an Idempotency-Key."""

    honours_idempotency_keys = False
    # Providers add what they like to their requests; the route reads what it needs.
    refuses_unknown_query_parameters = False

    def limit_intake(self, request: Request, limiter: RateLimiter) -> None:
        """Each channel has its own budget, counted before its secret is checked: a flood on one
        channel costs the others and the API nothing but refusals. (The path matches ids only.)"""
        channel_id = UUID(request.path_params["channel_id"])
        request.scope[QUOTA_SCOPE_KEY] = limiter.admit_channel(channel_id)
