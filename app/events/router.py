from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.api.deps import Credential, Session, Viewer, stream_token
from app.api.routing import CredentialIssuingRoute, UnitOfWorkRoute
from app.auth import stream_tokens
from app.events import feed
from app.events.schemas import EventPage, StreamToken
from app.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/v1/events", tags=["Events"], route_class=UnitOfWorkRoute)

After = Annotated[
    str | None, Query(max_length=1000, description="A cursor: `next_cursor`, or an event's `id`")
]
Types = Annotated[
    list[str] | None, Query(max_length=20, description="Only these event types (repeat or comma-separate)")
]


@router.get("", response_model=EventPage)
async def list_events(
    session: Session,
    principal: Viewer,
    after: After = None,
    types: Types = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> EventPage:
    """Every event of the workspace in commit order, for consumers that poll instead of receiving
    webhooks (the same events webhooks carry). Poll again with `after=next_cursor`; an event whose
    transaction is still running is held back until it commits, so none is ever skipped."""
    return await feed.feed_page(session, principal, after, _names(types), limit)


def _names(types: list[str] | None) -> list[str]:
    return [part.strip() for value in types or [] for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class StreamRequest:
    types: list[str]
    position: tuple[int, UUID] | None


async def stream_request(
    types: Types = None,
    after: After = None,
    last_event_id: Annotated[
        str | None, Header(max_length=1000, description="Sent by browsers when they reconnect")
    ] = None,
) -> StreamRequest:
    """The stream's parameters, checked before the stream starts (its errors are then plain 4xx)."""
    names = _names(types)
    feed.check_types(names)
    resume = last_event_id or after
    return StreamRequest(names, feed.parse_position(resume, "Last-Event-ID") if resume else None)


async def stream_start(
    session: Session, principal: Viewer, parameters: Annotated[StreamRequest, Depends(stream_request)]
) -> tuple[int, UUID] | None:
    """Where the stream starts, read before its response begins: a client that sees the response start
    gets every event committed after that."""
    return parameters.position or await feed.feed_end(session, principal)


@router.get("/stream", response_class=EventSourceResponse, dependencies=[Depends(stream_token)])
async def stream_events(
    request: Request,
    principal: Viewer,
    parameters: Annotated[StreamRequest, Depends(stream_request)],
    start: Annotated[tuple[int, UUID] | None, Depends(stream_start)],
    ticket_id: Annotated[UUID | None, Query(description="Only the events of this ticket")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """A live stream of the workspace's events (Server-Sent Events) for agent UIs: each message has
    the event type as `event`, the event as `data` and a cursor as `id`. A reconnecting client resumes
    after the last event it got (`Last-Event-ID`, or `after`); otherwise the stream starts now.
    Comments keep idle connections open through proxies. A browser's EventSource, which sends no
    Authorization header, authenticates with `?token=` (`POST /v1/events/stream-token`)."""
    app = request.app
    events = feed.stream(
        app.state.db,
        app.state.notifier,
        principal,
        start,
        parameters.types,
        ticket_id,
        app.state.settings.worker.poll_seconds,
    )
    async for cursor, event in events:
        yield ServerSentEvent(raw_data=feed.present(event).model_dump_json(), event=event.type, id=cursor)


async def mint_stream_token(
    request: Request, response: Response, principal: Viewer, credential: Credential
) -> StreamToken:
    """A short-lived token that opens the live stream, for a browser's EventSource (which cannot send
    an Authorization header): `GET /v1/events/stream?token=…`. It reads what the calling credential
    reads there and nothing else — every other operation refuses it (401) — and stops working at once
    when that credential is revoked (an API key) or deactivated (an agent). Ask for another to reconnect
    after it expired; the stream it opened stays open."""
    settings = request.app.state.settings
    token, expires_at = stream_tokens.mint(
        request.app.state.secret_box, principal, credential.token_secret_id, settings.stream_token_ttl_seconds
    )
    response.headers["Cache-Control"] = "no-store"
    return StreamToken(token=token, expires_at=expires_at)


router.add_api_route(
    "/stream-token",
    mint_stream_token,
    methods=["POST"],
    response_model=StreamToken,
    route_class_override=CredentialIssuingRoute,
)
