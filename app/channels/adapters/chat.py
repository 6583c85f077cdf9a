"""Chat and API channels: messages and call records posted by web chat widgets, contact-center
software and CRMs; replies go back to the channel's callback URL as Standard Webhooks requests."""

import json
from typing import Any

import httpx

from app.attachments.schemas import AttachmentOut
from app.channels.adapters.base import ChannelAdapter
from app.channels.adapters.messages import ParsedMessage, RemoteFile
from app.channels.adapters.sending import NotSent, Reply, Sent, call_provider, json_of
from app.channels.schemas import CallIn, ChatSecrets, ChatSettings, InboundUrls, MessageIn
from app.comments.schemas import CallRecord
from app.kit.signing import signature_header
from app.models import InboundMessage, MessagingChannel
from app.models.enums import Channel, ChannelKind, CommentAuthor, IdentityKind, Locale

MESSAGE = "message"
CALL = "call"
# Answers that say "try again later"; any other 4xx will not change by retrying.
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


def _message(inbound: InboundMessage, identity_kind: IdentityKind, origin: Channel) -> ParsedMessage:
    message = MessageIn.model_validate(inbound.payload)
    contact = message.contact
    conversation = message.conversation_id or f"contact:{contact.id}"
    return ParsedMessage(
        conversation=conversation,
        identity_kind=identity_kind,
        identity=contact.id,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        body=message.text,
        html=message.html,
        origin=origin,
        address={"conversation_id": message.conversation_id, "contact_id": contact.id},
        remote_files=tuple(
            RemoteFile(str(file.url), filename=file.filename) for file in message.attachments if file.url
        ),
        upload_tokens=tuple(file.upload_token for file in message.attachments if file.upload_token),
    )


def _call(call: CallIn, channel: MessagingChannel) -> ParsedMessage:
    """A call becomes a public comment: the customer's when they called, the agent's when they did. The
    call is kept as data; its summary, the comment's body, is written by the pipeline, followed by the
    agent's note. The recording stays a link, and is downloaded too when the channel says so."""
    inbound = call.direction == "inbound"
    ours = call.callee or channel.settings.get("phone_number")
    recording = str(call.recording_url) if call.recording_url is not None else None
    record = CallRecord(
        direction=call.direction,
        from_=call.caller if inbound else ours,
        to=ours if inbound else call.caller,
        started_at=call.started_at,
        ended_at=call.ended_at,
        answered=call.answered,
        duration_seconds=call.duration_seconds,
        recording_url=recording,
        agent_id=call.agent_id,
        provider_call_id=call.call_id,
    )
    download = recording is not None and channel.settings.get("download_recordings", False)
    return ParsedMessage(
        conversation=f"phone:{call.caller}",
        identity_kind=IdentityKind.phone,
        identity=call.caller,
        name=call.contact_name,
        phone=call.caller,
        body=call.note or "",
        origin=Channel.call,
        author=CommentAuthor.contact if inbound or call.agent_id is None else CommentAuthor.agent,
        agent_id=None if inbound else call.agent_id,
        address={"phone": call.caller},
        remote_files=(RemoteFile(recording, "recording"),) if download and recording else (),
        call=record,
    )


async def _send(reply: Reply) -> Sent | NotSent:
    """POST the reply to the channel's callback URL, signed with its callback secret."""
    channel, conversation, comment = reply.channel, reply.conversation, reply.comment
    url = channel.settings.get("callback_url")
    secret = reply.secrets.get("callback_secret")
    if url is None or secret is None:
        return NotSent("the channel has no callback_url and callback_secret to send replies to", True)
    message_id = str(reply.message.id)
    body = {
        "type": "message.created",
        "timestamp": reply.now.isoformat(),
        "data": {
            "channel_id": str(channel.id),
            "conversation_id": conversation.address.get("conversation_id"),
            "contact_id": conversation.address.get("contact_id", conversation.address.get("phone")),
            "ticket": {"id": str(reply.ticket.id), "number": reply.ticket.number},
            "message": {
                "id": message_id,
                "comment_id": str(comment.id),
                "author": {"type": comment.author_type.value, "id": _text(comment.author_id)},
                "text": comment.body,
                "html": comment.html_body,
                "created_at": comment.created_at.isoformat(),
                # Links, not bytes: the receiver fetches each file from the API with its key.
                "attachments": [
                    AttachmentOut.model_validate(attachment).model_dump(mode="json")
                    for attachment in reply.attachments
                ],
            },
        },
    }
    signed = json.dumps(body, ensure_ascii=False)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(reply.now.timestamp())),
        "webhook-signature": signature_header([secret], message_id, reply.now, signed),
    }
    answer = await call_provider(reply, url, content=signed.encode(), headers=headers)
    if isinstance(answer, NotSent):
        return answer
    if answer.is_success:
        return Sent(_provider_id(answer) or message_id)
    error = f"the callback answered {answer.status_code}: {answer.text[:300]}"
    permanent = 400 <= answer.status_code < 500 and answer.status_code not in _TRANSIENT_STATUSES
    return NotSent(error, permanent)


def _provider_id(response: httpx.Response) -> str | None:
    """The receiver's id of the message, when it answers `{"message_id": ...}`."""
    found = json_of(response).get("message_id")
    return str(found)[:500] if found is not None else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class ChatAdapter(ChannelAdapter):
    """A web chat widget (`chat`), or contact-center software and CRMs (`api`): the same requests, the
    customer known by the widget's or the caller's own id."""

    settings_model = ChatSettings
    secrets_model = ChatSecrets
    required_secrets = ("token",)

    def __init__(self, kind: ChannelKind) -> None:
        self.kind = kind
        self.identity_kind = IdentityKind.chat if kind is ChannelKind.chat else IdentityKind.external
        self.origin = Channel.chat if kind is ChannelKind.chat else Channel.api

    def inbound_urls(self, channel: MessagingChannel) -> InboundUrls:
        base = f"/v1/channels/{channel.id}"
        return InboundUrls(messages=f"{base}/messages", calls=f"{base}/calls", uploads=f"{base}/uploads")

    def parse(self, channel: MessagingChannel, inbound: InboundMessage, locale: Locale) -> ParsedMessage:
        if inbound.kind == CALL:
            return _call(CallIn.model_validate(inbound.payload), channel)
        return _message(inbound, self.identity_kind, self.origin)

    def sends_replies(self, channel: MessagingChannel) -> bool:
        return channel.active and channel.settings.get("callback_url") is not None

    async def send(self, reply: Reply) -> Sent | NotSent:
        return await _send(reply)
