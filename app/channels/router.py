from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile, status
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.contract import download
from app.api.deps import Admin, Session
from app.api.routing import ProviderRoute, UnitOfWorkRoute
from app.attachments.router import StorageDep
from app.attachments.schemas import UploadOut
from app.attachments.service import store_files
from app.channels import intake, service
from app.channels.adapters.mail.adapter import check_mailgun
from app.channels.adapters.messenger import check_handshake
from app.channels.schemas import (
    Accepted,
    CallIn,
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    InboundOut,
    MessageIn,
    Received,
)
from app.config import Settings
from app.errors import NotFound
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.kit.time import utcnow
from app.models import MessagingChannel
from app.models.enums import ChannelKind, InboundState

router = APIRouter(prefix="/v1/channels", tags=["Channels"], route_class=UnitOfWorkRoute)
receiving = APIRouter(prefix="/v1/channels", tags=["Channels: inbound"], route_class=ProviderRoute)


class MailRoute(ProviderRoute):
    """Raw mail, as large as the email settings allow."""

    def max_body_bytes(self, settings: Settings) -> int:
        return settings.email.max_message_bytes


mailing = APIRouter(prefix="/v1/channels", tags=["Channels: inbound"], route_class=MailRoute)
channel_token = HTTPBearer(auto_error=False, description="The channel's `token` secret")


@router.get("", response_model=Page[ChannelOut])
async def list_channels(
    request: Request,
    session: Session,
    principal: Admin,
    page: PageQuery,
    kind: ChannelKind | None = None,
    active: bool | None = None,
) -> Page[ChannelOut]:
    """The channels of the workspace, by name."""
    items, next_cursor = await service.list_channels(
        session, principal.workspace_id, page, kind=kind, active=active
    )
    box = request.app.state.secret_box
    return Page(items=[service.present(item, box) for item in items], next_cursor=next_cursor)


@router.post("", response_model=ChannelOut, status_code=status.HTTP_201_CREATED)
async def create_channel(
    data: ChannelCreate, request: Request, session: Session, principal: Admin, response: Response
) -> ChannelOut:
    """A channel whose messages become tickets. Its callers post to `inbound_urls` with
    `Authorization: Bearer <secrets.token>`. Secrets are write-only."""
    state = request.app.state
    created = await service.create_channel(
        session, principal.workspace_id, data, state.settings, state.secret_box
    )
    set_etag(response, created.version)
    return service.present(created, state.secret_box)


@router.get("/{channel_id}", response_model=ChannelOut)
async def get_channel(
    channel_id: UUID, request: Request, session: Session, principal: Admin, response: Response
) -> ChannelOut:
    found = await service.get_channel(session, principal.workspace_id, channel_id)
    set_etag(response, found.version)
    return service.present(found, request.app.state.secret_box)


@router.patch("/{channel_id}", response_model=ChannelOut)
async def update_channel(
    channel_id: UUID,
    data: ChannelUpdate,
    request: Request,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
) -> ChannelOut:
    """`settings`, `defaults` and each secret sent replace the old; a secret sent as null is removed."""
    state = request.app.state
    found = await service.get_channel(session, principal.workspace_id, channel_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_channel(
        session, principal.workspace_id, found, data, state.settings, state.secret_box
    )
    set_etag(response, updated.version)
    return service.present(updated, state.secret_box)


@router.delete("/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(
    channel_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    """Only a channel no ticket came in on: deactivate the others (their tickets still reply through it)."""
    found = await service.get_channel(session, principal.workspace_id, channel_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_channel(session, principal.workspace_id, found)


@router.get("/{channel_id}/inbound", response_model=Page[InboundOut])
async def list_inbound(
    channel_id: UUID, session: Session, principal: Admin, page: PageQuery, state: InboundState | None = None
) -> Page[InboundOut]:
    """What the channel received, newest first: whether each was threaded, onto which ticket and
    comment, or why it was ignored or failed."""
    await service.get_channel(session, principal.workspace_id, channel_id)
    items, next_cursor = await service.list_inbound(session, principal.workspace_id, channel_id, page, state)
    return Page(items=[InboundOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.get("/{channel_id}/inbound/{inbound_id}", response_model=InboundOut)
async def get_inbound(channel_id: UUID, inbound_id: UUID, session: Session, principal: Admin) -> InboundOut:
    found = await service.get_inbound(session, principal.workspace_id, channel_id, inbound_id)
    return InboundOut.model_validate(found)


@router.get(
    "/{channel_id}/inbound/{inbound_id}/raw",
    response_class=Response,
    responses=download("message/rfc822", "The mail as it was received"),
)
async def get_inbound_raw(channel_id: UUID, inbound_id: UUID, session: Session, principal: Admin) -> Response:
    """The whole mail as it arrived (email channels), quoted text and all."""
    found = await service.get_inbound(session, principal.workspace_id, channel_id, inbound_id)
    if found.raw is None:
        raise NotFound("Raw message")
    return Response(found.raw, media_type="message/rfc822")


async def _chat_channel(
    channel_id: UUID,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(channel_token)],
) -> MessagingChannel:
    token = credentials.credentials if credentials is not None else None
    return await intake.receiving_channel(session, channel_id, token)


ChatChannel = Annotated[MessagingChannel, Depends(_chat_channel)]


@receiving.post("/{channel_id}/messages", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def receive_message(
    data: MessageIn, request: Request, session: Session, channel: ChatChannel
) -> Accepted:
    """A customer's message from a chat widget or the calling system, with the channel's token. It is
    stored and acknowledged at once; a worker puts it on the conversation's ticket, or opens one, moments
    later. A message sent again (same `message_id`) is acknowledged with `duplicate: true` and ignored."""
    return await intake.accept_message(session, channel, data, request.app.state.settings)


@receiving.post("/{channel_id}/uploads", response_model=Page[UploadOut], status_code=status.HTTP_201_CREATED)
async def upload_channel_files(
    request: Request,
    session: Session,
    channel: ChatChannel,
    storage: StorageDep,
    files: Annotated[list[UploadFile], File(description="One or more files (multipart/form-data)")],
) -> Page[UploadOut]:
    """Files for a customer's message to carry, with the channel's token: pass each one's `token` as an
    `upload_token` in the message's `attachments`. Limits and type sniffing are those of agents' uploads;
    an upload no message attaches is deleted after `HELPDESK_ATTACHMENT_UNATTACHED_TTL_HOURS`. The uploads
    come back in the order sent, all on one page."""
    settings = request.app.state.settings
    stored = await store_files(session, service.channel_principal(channel), storage, settings, files)
    return Page(items=[UploadOut.model_validate(attachment) for attachment in stored])


@receiving.post("/{channel_id}/calls", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def receive_call(data: CallIn, request: Request, session: Session, channel: ChatChannel) -> Accepted:
    """A call record from a switchboard: it goes on the caller's open ticket, or opens one, as a comment
    (the customer's for an inbound call, the agent's for an outbound one). Deduplicated on `call_id`."""
    region = request.app.state.settings.default_phone_region
    return await intake.accept_call(session, channel, data, region)


@receiving.get("/{channel_id}/messenger", response_class=PlainTextResponse)
async def verify_messenger(
    channel_id: UUID,
    session: Session,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=1000)] = None,
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=1000)] = "",
) -> PlainTextResponse:
    """Meta's verification handshake: answers `hub.challenge` when `hub.verify_token` is the channel's
    verify token, else 403."""
    channel = await intake.signed_channel(session, channel_id, ChannelKind.messenger)
    check_handshake(channel, mode, verify_token)
    return PlainTextResponse(challenge)


@receiving.post("/{channel_id}/messenger", response_model=Received)
async def receive_messenger(
    channel_id: UUID,
    request: Request,
    session: Session,
    # Declared for the API document: the channel's adapter reads it from the request.
    signature: Annotated[str | None, Header(alias="X-Hub-Signature-256")] = None,
) -> Received:
    """Page webhook events (`{"object": "page", "entry": [...]}`), signed with the app secret over the raw
    body (`X-Hub-Signature-256`); a missing or wrong signature is a 403 and nothing is stored. Customer
    messages and postbacks are stored once by `mid` and threaded by workers; echoes, deliveries and reads
    are acknowledged and dropped."""
    channel = await intake.signed_channel(session, channel_id, ChannelKind.messenger)
    body = await request.body()
    stored = await intake.accept_webhook(
        session, channel, body, request.headers, request.app.state.secret_box
    )
    return Received(stored=stored)


@receiving.post("/{channel_id}/zalo", response_model=Received)
async def receive_zalo(
    channel_id: UUID,
    request: Request,
    session: Session,
    # Declared for the API document: the channel's adapter reads it from the request.
    signature: Annotated[str | None, Header(alias="X-ZEvent-Signature")] = None,
) -> Received:
    """A Zalo OA event, signed per `X-ZEvent-Signature` (SHA-256 of app id, raw body, timestamp and the OA
    secret key); a missing or wrong signature is a 403 and nothing is stored. `user_send_*` messages are
    stored once by `msg_id` and threaded by workers, `follow` and `unfollow` update the conversation, the
    rest is acknowledged and dropped."""
    channel = await intake.signed_channel(session, channel_id, ChannelKind.zalo)
    body = await request.body()
    stored = await intake.accept_webhook(
        session, channel, body, request.headers, request.app.state.secret_box
    )
    return Received(stored=stored)


@mailing.post(
    "/{channel_id}/email",
    response_model=Accepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses={406: {"description": "The mail is for another channel's address (Mailgun does not retry)"}},
)
async def receive_email(
    channel_id: UUID,
    request: Request,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(channel_token)],
) -> Accepted:
    """A mail as received: the raw RFC 5322 message as the body (`Content-Type: message/rfc822`) with the
    channel's token as Bearer, or a Mailgun route's form (`body-mime`, with a URL ending in `mime`) signed
    with the channel's `mailgun_signing_key`; a route's mail whose `recipient` is another channel's
    address is refused with 406, which Mailgun does not retry. Stored once per Message-ID and threaded by
    workers."""
    state = request.app.state
    limit = state.settings.email.max_message_bytes
    if request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form")):
        channel = await intake.signed_channel(session, channel_id, ChannelKind.email)
        async with request.form(max_part_size=limit) as form:
            fields = {name: value for name, value in form.items() if isinstance(value, str)}
        check_mailgun(service.channel_secrets(channel, state.secret_box), fields, utcnow())
        await intake.check_recipient(session, channel, fields.get("recipient"))
        raw = fields.get("body-mime", "").encode()
    else:
        token = credentials.credentials if credentials is not None else None
        channel = await intake.receiving_channel(session, channel_id, token, kinds=(ChannelKind.email,))
        raw = await intake.read_limited(request, limit)
    return await intake.accept_mail(session, channel, raw)
