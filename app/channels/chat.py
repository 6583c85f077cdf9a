"""Chat and API channels: messages and call records posted by web chat widgets, contact-center
software and CRMs; replies go back to the channel's callback URL as Standard Webhooks requests."""

import json
from typing import Any

import httpx

from app.attachments.schemas import AttachmentOut
from app.channels.incoming import Incoming, RemoteFile
from app.channels.schemas import CallIn, MessageIn
from app.channels.sending import NotSent, Reply, Sent, call_provider, json_of
from app.kit.signing import signature_header
from app.models import InboundMessage, MessagingChannel
from app.models.enums import Channel, ChannelKind, CommentAuthor, IdentityKind

MESSAGE = "message"
CALL = "call"
# Answers that say "try again later"; any other 4xx will not change by retrying.
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
_IDENTITY_KINDS = {ChannelKind.chat: IdentityKind.chat, ChannelKind.api: IdentityKind.external}
_ORIGINS = {ChannelKind.chat: Channel.chat, ChannelKind.api: Channel.api}


def incoming(channel: MessagingChannel, inbound: InboundMessage) -> Incoming:
    if inbound.kind == CALL:
        return _call(CallIn.model_validate(inbound.payload))
    message = MessageIn.model_validate(inbound.payload)
    contact = message.contact
    conversation = message.conversation_id or f"contact:{contact.id}"
    return Incoming(
        conversation=conversation,
        identity_kind=_IDENTITY_KINDS[channel.kind],
        identity=contact.id,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        body=message.text,
        html=message.html,
        origin=_ORIGINS[channel.kind],
        address={"conversation_id": message.conversation_id, "contact_id": contact.id},
        remote_files=tuple(
            RemoteFile(str(file.url), filename=file.filename) for file in message.attachments if file.url
        ),
        upload_tokens=tuple(file.upload_token for file in message.attachments if file.upload_token),
    )


def _call(call: CallIn) -> Incoming:
    """A call becomes a public comment: the customer's when they called, the agent's when they did."""
    inbound = call.direction == "inbound"
    return Incoming(
        conversation=f"phone:{call.caller}",
        identity_kind=IdentityKind.phone,
        identity=call.caller,
        name=call.contact_name,
        phone=call.caller,
        body=_call_summary(call),
        origin=Channel.phone,
        author=CommentAuthor.contact if inbound or call.agent_id is None else CommentAuthor.agent,
        agent_id=None if inbound else call.agent_id,
        address={"phone": call.caller},
    )


def _call_summary(call: CallIn) -> str:
    who = f"from {call.caller}" if call.direction == "inbound" else f"to {call.caller}"
    lines = [f"{call.direction.capitalize()} call {who}, {'answered' if call.answered else 'missed'}"]
    lines[0] += f", started {call.started_at.isoformat()}"
    if call.duration_seconds is not None:
        minutes, seconds = divmod(call.duration_seconds, 60)
        lines[0] += f", {minutes} min {seconds} s"
    if call.recording_url is not None:
        lines.append(f"Recording: {call.recording_url}")
    if call.note:
        lines.extend(["", call.note])
    return "\n".join(lines)


async def send(reply: Reply) -> Sent | NotSent:
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
