"""Zalo Official Account: events in (signed with the OA secret key), customer-service messages out.

Zalo re-sends an event for hours when it gets no 200 within 2 s, then disables the webhook, so events
are checked, stored and answered at once; threading happens after. Only `user_send_*` events are
customer messages; `follow` and `unfollow` update the conversation; what the OA sent and delivery or
read receipts are not stored.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import httpx

from app.channels.adapters.base import ChannelAdapter, ReplyWindow
from app.channels.adapters.messages import ParsedMessage, ProviderEvent, RemoteFile
from app.channels.adapters.profiles import NotFetched, Profile, ProfileRequest, profile_named
from app.channels.adapters.sending import (
    NotSent,
    ProviderCall,
    Reply,
    Sent,
    ask_provider,
    call_provider,
    file_bytes,
    json_of,
)
from app.channels.schemas import ZaloSecrets, ZaloSettings
from app.kit.texts import content_name, text
from app.models import Attachment, Conversation, InboundMessage, MessagingChannel
from app.models.enums import Channel, ChannelKind, IdentityKind, Locale

logger = logging.getLogger(__name__)

MESSAGE = "message"
FOLLOW = "follow"
UNFOLLOW = "unfollow"
MAX_TEXT = 2000
# Attachments whose payload URL is a file to keep (Zalo's CDN links expire).
FILE_KINDS = frozenset({"image", "gif", "file", "audio", "video"})
TOKEN_EXPIRED = -216
# What sending with an expired access token comes to, before the token is refreshed.
EXPIRED = NotSent("the Zalo access token expired", False)


def signature_matches(oa_secret_key: str, body: bytes, header: str | None) -> bool:
    """`X-ZEvent-Signature: mac=<hex SHA-256(app_id + raw body + timestamp + OA secret key)>`, with
    `app_id` and `timestamp` read from the body."""
    if not header or not header.startswith("mac="):
        return False
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    if not isinstance(parsed, dict):
        return False
    app_id, timestamp = str(parsed.get("app_id", "")), str(parsed.get("timestamp", ""))
    expected = hashlib.sha256(
        app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()
    ).hexdigest()
    if hmac.compare_digest(expected, header.removeprefix("mac=").lower()):
        return True
    # Variants of the scheme circulate: say what was checked (never the key), so a mismatch can be traced.
    logger.warning(
        "Zalo signature mismatch: app_id=%s timestamp=%s body_bytes=%d", app_id, timestamp, len(body)
    )
    return False


def stored_event(body: dict[str, Any]) -> tuple[ProviderEvent, str | None] | None:
    """The event to keep (a customer's message, a follow or an unfollow; None for the rest) and the OA it
    is for: the recipient of a customer's message, `oa_id` of a follow."""
    name = str(body.get("event_name", ""))
    if name.startswith("user_send_"):
        msg_id = (body.get("message") or {}).get("msg_id")
        oa_id = (body.get("recipient") or {}).get("id")
        return (ProviderEvent(str(msg_id), MESSAGE, body), _text(oa_id)) if msg_id else None
    if name in (FOLLOW, UNFOLLOW):
        follower = (body.get("follower") or {}).get("id")
        key = f"{name}:{follower}:{body.get('timestamp')}"
        return (ProviderEvent(key, name, body), _text(body.get("oa_id"))) if follower else None
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse(inbound: InboundMessage, locale: Locale) -> ParsedMessage:
    event, kind = inbound.payload, inbound.kind
    if kind in (FOLLOW, UNFOLLOW):
        user_id = str(event["follower"]["id"])
        return ParsedMessage(
            conversation=user_id,
            identity_kind=IdentityKind.zalo,
            identity=user_id,
            body=None,
            origin=Channel.zalo,
            address={"user_id": user_id, "following": kind == FOLLOW},
        )
    user_id = str(event["sender"]["id"])
    message = event.get("message") or {}
    lines = [message["text"]] if message.get("text") else []
    files: tuple[RemoteFile, ...] = ()
    attachments = message.get("attachments") or []
    for attachment in attachments:
        payload = attachment.get("payload") or {}
        kind_name = attachment.get("type", "file")
        what = content_name(locale, kind_name) or kind_name
        if kind_name in FILE_KINDS and payload.get("url"):
            files += (RemoteFile(str(payload["url"]), kind_name, payload.get("name")),)
        elif kind_name == "location" and payload.get("coordinates"):
            where = payload["coordinates"]
            detail = f"{where.get('latitude')}, {where.get('longitude')}"
            lines.append(text(locale, "content_line", what=what, detail=detail))
        else:
            # A sticker or a shared link: nothing to keep, what it is stays readable.
            detail = " ".join(str(part) for part in (payload.get("name"), payload.get("url")) if part)
            lines.append(text(locale, "content_line", what=what, detail=detail).rstrip())
    return ParsedMessage(
        conversation=user_id,
        identity_kind=IdentityKind.zalo,
        identity=user_id,
        body="\n".join(lines),
        origin=Channel.zalo,
        address={"user_id": user_id, "following": True},
        remote_files=files,
        carries=None if message.get("text") or not attachments else attachments[0].get("type", "file"),
    )


async def _send(reply: Reply) -> Sent | NotSent:
    """Customer-service messages: the text, then each file uploaded and sent as a message of its own (an
    image or GIF with the text as its caption when it comes first and the text fits one message). An
    expired access token is refreshed once, and the reply goes on from the call that was refused."""
    if reply.conversation.address.get("following") is False:
        return NotSent("the customer unfollowed the Official Account", True)
    # Refused before anything goes: the customer would otherwise get the text without the file.
    for attachment in reply.attachments:
        refused = _cannot_carry(attachment)
        if refused is not None:
            return refused
    token = reply.secrets.get("access_token", "")
    refreshed = False
    sent: Sent | None = None
    for step in _steps(reply):
        outcome = await step(token)
        if outcome is EXPIRED and not refreshed:
            refreshed = True
            renewed = await _refreshed(reply, token)
            if renewed is None:
                return NotSent("the Zalo access token expired and could not be refreshed", False)
            token = renewed
            outcome = await step(token)
        if outcome is EXPIRED:
            return NotSent("the refreshed Zalo access token was refused as expired", False)
        if isinstance(outcome, NotSent):
            return outcome
        sent = outcome
    return sent or NotSent("the reply has neither text nor files to send", True)


@dataclass(frozen=True)
class _Upload:
    path: str
    max_bytes: int
    # The media template's type for an image or a GIF; None for a document, sent by its token.
    media_type: str | None


_IMAGE = _Upload("/v2.0/oa/upload/image", 1024 * 1024, "image")
_GIF = _Upload("/v2.0/oa/upload/gif", 5 * 1024 * 1024, "gif")
_DOCUMENT = _Upload("/v2.0/oa/upload/file", 5 * 1024 * 1024, None)
# By the type sniffed from the file's bytes: the only files the OA API takes.
_UPLOADS = {
    "image/jpeg": _IMAGE,
    "image/png": _IMAGE,
    "image/gif": _GIF,
    "application/pdf": _DOCUMENT,
    "application/msword": _DOCUMENT,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _DOCUMENT,
}

Step = Callable[[str], Awaitable[Sent | NotSent]]


def _cannot_carry(attachment: Attachment) -> NotSent | None:
    upload = _UPLOADS.get(attachment.content_type)
    if upload is None:
        return NotSent(
            f'the file "{attachment.filename}" ({attachment.content_type}) cannot be sent on Zalo, which '
            "takes only JPG and PNG images, GIFs, and PDF, DOC and DOCX documents",
            True,
        )
    if attachment.size > upload.max_bytes:
        return NotSent(
            f'the file "{attachment.filename}" takes {attachment.size} bytes, more than the '
            f"{upload.max_bytes} bytes Zalo takes for a file of its type ({attachment.content_type})",
            True,
        )
    return None


def _steps(reply: Reply) -> list[Step]:
    """The calls that send the reply, each given the access token to use."""
    text = reply.comment.body
    chunks = [text[start : start + MAX_TEXT] for start in range(0, len(text), MAX_TEXT)]
    files = reply.attachments
    caption = None
    # Each message counts against the OA's free quota: a short text rides with a picture.
    if len(chunks) == 1 and files and _UPLOADS[files[0].content_type].media_type:
        caption = chunks.pop()
    steps: list[Step] = [partial(_send_message, reply, {"text": chunk}) for chunk in chunks]
    for index, attachment in enumerate(files):
        steps.append(partial(_send_file, reply, attachment, caption if index == 0 else None))
    return steps


async def _send_message(reply: Reply, message: dict[str, Any], token: str) -> Sent | NotSent:
    url = f"{str(reply.channel.settings['api_base_url']).rstrip('/')}/v3.0/oa/message/cs"
    body = {"recipient": {"user_id": reply.conversation.address["user_id"]}, "message": message}
    answer = await call_provider(reply, url, json_body=body, headers={"access_token": token})
    found = _accepted(answer, "Zalo refused the message")
    if isinstance(found, NotSent):
        return found
    sent_id = (found.get("data") or {}).get("message_id")
    return Sent(str(sent_id)) if sent_id else NotSent("Zalo answered without a message id", False)


async def _send_file(reply: Reply, attachment: Attachment, caption: str | None, token: str) -> Sent | NotSent:
    """Upload the file, then send the message that shows it."""
    upload = _UPLOADS[attachment.content_type]
    data = await file_bytes(reply, attachment)
    if isinstance(data, NotSent):
        return data
    url = f"{str(reply.channel.settings['api_base_url']).rstrip('/')}{upload.path}"
    answer = await call_provider(
        reply,
        url,
        files={"file": (attachment.filename, data, attachment.content_type)},
        headers={"access_token": token},
    )
    found = _accepted(answer, f'Zalo refused the file "{attachment.filename}"')
    if isinstance(found, NotSent):
        return found
    uploaded = found.get("data") or {}
    if upload.media_type is None:
        reference = uploaded.get("token")
        message: dict[str, Any] = {"attachment": {"type": "file", "payload": {"token": reference}}}
    else:
        reference = uploaded.get("attachment_id")
        element = {"media_type": upload.media_type, "attachment_id": reference}
        payload = {"template_type": "media", "elements": [element]}
        message = {"attachment": {"type": "template", "payload": payload}}
        if caption:
            message = {"text": caption, **message}
    if not reference:
        return NotSent(f'Zalo answered the upload of "{attachment.filename}" without an id', False)
    return await _send_message(reply, message, token)


def _accepted(answer: httpx.Response | NotSent, refused: str) -> dict[str, Any] | NotSent:
    """The body of an answer that says success (HTTP 200 and `error: 0`), or what went wrong."""
    if isinstance(answer, NotSent):
        return answer
    if answer.status_code >= 500 or answer.status_code == 429:
        return NotSent(f"Zalo answered HTTP {answer.status_code}", False)
    found = json_of(answer)
    error = found.get("error")
    if error == TOKEN_EXPIRED:
        return EXPIRED
    if answer.status_code != 200 or error != 0:
        return NotSent(f"{refused} (error {error}: {found.get('message', '')})"[:1000], True)
    return found


async def _refreshed(call: ProviderCall, expired: str) -> str | None:
    """The access token to use instead of `expired`: refreshed, the new pair saved (or the one another
    worker saved meanwhile); None when it could not be refreshed."""
    secrets = await call.save_secrets(_refresher(call, expired=expired))
    token = secrets.get("access_token")
    return None if token in (None, expired) else token


def _refresher(call: ProviderCall, *, expired: str) -> Callable[[dict[str, str]], Awaitable[dict[str, str]]]:
    async def refresh(current: dict[str, str]) -> dict[str, str]:
        if current.get("access_token") != expired:
            return current  # another worker refreshed it meanwhile: its pair is the one to use
        url = f"{str(call.channel.settings['oauth_base_url']).rstrip('/')}/v4/oa/access_token"
        answer = await call_provider(
            call,
            url,
            form={
                "refresh_token": current.get("refresh_token", ""),
                "app_id": str(call.channel.settings["app_id"]),
                "grant_type": "refresh_token",
            },
            headers={"secret_key": current.get("app_secret", "")},
        )
        found = {} if isinstance(answer, NotSent) else json_of(answer)
        if not found.get("access_token") or not found.get("refresh_token"):
            logger.warning("refreshing the Zalo access token of channel %s failed", call.channel.id)
            return current
        return {**current, "access_token": found["access_token"], "refresh_token": found["refresh_token"]}

    return refresh


async def _profile(request: ProfileRequest) -> Profile | NotFetched:
    """The OA's user detail, by the customer's user id (a follower, or someone who wrote to the OA). An
    expired access token is refreshed once, as for a reply."""
    token = request.secrets.get("access_token", "")
    found = await _user_detail(request, token)
    if found is EXPIRED:
        renewed = await _refreshed(request, token)
        if renewed is None:
            return NotFetched("the Zalo access token expired and could not be refreshed")
        found = await _user_detail(request, renewed)
    if found is EXPIRED:
        return NotFetched("the refreshed Zalo access token was refused as expired")
    if isinstance(found, NotSent):
        return NotFetched(found.error)
    return profile_named((found.get("data") or {}).get("display_name"), "Zalo")


async def _user_detail(request: ProfileRequest, token: str) -> dict[str, Any] | NotSent:
    url = f"{str(request.channel.settings['api_base_url']).rstrip('/')}/v3.0/oa/user/detail"
    answer = await ask_provider(
        request,
        url,
        params={"data": json.dumps({"user_id": request.identity}, separators=(",", ":"))},
        headers={"access_token": token},
    )
    return _accepted(answer, "Zalo refused the user detail")


class ZaloAdapter(ChannelAdapter):
    kind = ChannelKind.zalo
    settings_model = ZaloSettings
    secrets_model = ZaloSecrets
    required_secrets = ("oa_secret_key", "app_secret", "access_token", "refresh_token")
    claims = {"claimed_account_id": "oa_id", "claimed_app_id": "app_id"}
    fetches_profiles = True

    def verify(self, secrets: Mapping[str, str], body: bytes, headers: Mapping[str, str]) -> bool:
        return signature_matches(secrets.get("oa_secret_key", ""), body, headers.get("x-zevent-signature"))

    def events(self, channel: MessagingChannel, payload: dict[str, Any]) -> list[ProviderEvent]:
        """The event, when it is one to keep; foreign when it is for another app, or another OA than the
        channel's (when the channel names its OA)."""
        found = stored_event(payload)
        if found is None:
            return []
        event, oa_id = found
        app_id, own_oa = str(payload.get("app_id")), channel.settings.get("oa_id")
        if app_id != str(channel.settings["app_id"]):
            return [replace(event, foreign=f"Zalo app {app_id}, not the channel's")]
        if own_oa is not None and oa_id is not None and oa_id != own_oa:
            return [replace(event, foreign=f"OA {oa_id}, not the channel's")]
        return [event]

    def parse(self, channel: MessagingChannel, inbound: InboundMessage, locale: Locale) -> ParsedMessage:
        return parse(inbound, locale)

    def reply_window(
        self, channel: MessagingChannel, conversation: Conversation, now: datetime
    ) -> ReplyWindow:
        if conversation.address.get("following") is False:
            return ReplyWindow(closed="the customer unfollowed the Official Account")
        return ReplyWindow()

    async def send(self, reply: Reply) -> Sent | NotSent:
        return await _send(reply)

    async def profile(self, request: ProfileRequest) -> Profile | NotFetched:
        return await _profile(request)
