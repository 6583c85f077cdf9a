"""Facebook Messenger: Page webhooks in (signed with the app secret), replies out by the Send API.

Meta retries an event until it gets a 200 and unsubscribes an endpoint that keeps failing, so events are
checked, stored and answered at once; threading happens after. Echoes (what the Page itself sent, from
here or from Meta's own inbox), deliveries and reads are not customer messages and are not stored.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from app.channels.adapters.base import ChannelAdapter, ReplyWindow
from app.channels.adapters.messages import ParsedMessage, ProviderEvent, RemoteFile
from app.channels.adapters.profiles import NotFetched, Profile, ProfileRequest, profile_named
from app.channels.adapters.sending import (
    NotSent,
    Reply,
    Sent,
    ask_provider,
    call_provider,
    file_bytes,
    json_of,
)
from app.channels.schemas import MessengerSecrets, MessengerSettings
from app.errors import Forbidden
from app.kit.crypto import secret_matches
from app.kit.texts import content_name, text
from app.models import Attachment, Conversation, InboundMessage, MessagingChannel
from app.models.enums import Channel, ChannelKind, IdentityKind, Locale

MESSAGE = "message"
POSTBACK = "postback"
# Attachments whose payload URL is a file to keep (Meta's CDN links expire).
FILE_KINDS = frozenset({"image", "video", "audio", "file"})
RESPONSE_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
MAX_TEXT = 2000
# The Send API's limit for a file, whatever its type.
MAX_FILE_BYTES = 25 * 1024 * 1024
# Graph API error codes that pass with time; the others will not change by retrying.
_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 613})
_REASONS = {
    190: "the Page access token is invalid or expired",
    551: "the person is not available on Messenger",
    10: "the app lacks the permission to send this message",
    200: "the app lacks the permission to send this message",
    230: "the app lacks the permission to send this message",
    100: "the Send API refused a parameter",
}


def signature_matches(app_secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").lower())


def check_handshake(channel: MessagingChannel, mode: str | None, verify_token: str | None) -> None:
    """Meta's subscription check: the verify token must be the channel's."""
    if (
        mode != "subscribe"
        or verify_token is None
        or not secret_matches(channel.secret_hashes.get("verify_token"), verify_token)
    ):
        raise Forbidden("The verify token is wrong", code="bad_verify_token")


def customer_events(body: dict[str, Any], page_id: str) -> list[ProviderEvent]:
    """The customer messages and postbacks of a webhook POST: every entry, every messaging event. Each
    is for the Page of its entry, when its recipient is that Page too; an event for another Page than
    `page_id` is foreign."""
    events = []
    for entry in body.get("entry") or []:
        page = str(entry.get("id")) if isinstance(entry, dict) and entry.get("id") is not None else None
        for event in entry.get("messaging") or [] if isinstance(entry, dict) else []:
            if not isinstance(event, dict):
                continue
            recipient = (event.get("recipient") or {}).get("id")
            account = page if recipient is not None and str(recipient) == page else None
            foreign = None if account == page_id else f"Page {account or '(unclear)'}, not the channel's"
            message, postback = event.get("message"), event.get("postback")
            if isinstance(message, dict) and message.get("mid") and not message.get("is_echo"):
                events.append(ProviderEvent(str(message["mid"]), MESSAGE, event, foreign))
            elif isinstance(postback, dict):
                sender = (event.get("sender") or {}).get("id")
                key = postback.get("mid") or f"postback:{sender}:{event.get('timestamp')}"
                events.append(ProviderEvent(str(key), POSTBACK, event, foreign))
    return events


def parse(inbound: InboundMessage, locale: Locale) -> ParsedMessage:
    event = inbound.payload
    psid = str(event["sender"]["id"])
    if inbound.kind == POSTBACK:
        postback = event["postback"]
        body = postback.get("title") or postback.get("payload") or text(locale, "postback")
        files: tuple[RemoteFile, ...] = ()
        carries = None
    else:
        message = event["message"]
        lines = [message["text"]] if message.get("text") else []
        files = ()
        attachments = message.get("attachments") or []
        for attachment in attachments:
            kind, url = attachment.get("type", "file"), (attachment.get("payload") or {}).get("url")
            if kind in FILE_KINDS and url:
                files += (RemoteFile(str(url), kind),)
            else:
                # A shared link, a location, a template: nothing to download, what it is stays readable.
                what = content_name(locale, kind) or kind
                detail = url or attachment.get("title") or ""
                lines.append(text(locale, "content_line", what=what, detail=detail).rstrip())
        body = "\n".join(lines)
        carries = None if message.get("text") or not attachments else attachments[0].get("type", "file")
    return ParsedMessage(
        conversation=psid,
        identity_kind=IdentityKind.messenger,
        identity=psid,
        body=body,
        origin=Channel.messenger,
        address={"psid": psid},
        remote_files=files,
        carries=carries,
        sent_at=_sent_at(event.get("timestamp")),
    )


def _sent_at(millis: Any) -> datetime | None:
    """Meta's time of the event (milliseconds since the epoch), if it is one."""
    if not isinstance(millis, int) or isinstance(millis, bool):
        return None
    try:
        return datetime.fromtimestamp(millis / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def window_end(channel: MessagingChannel, last_inbound_at: datetime | None) -> datetime | None:
    """Until when the Page may still answer the customer."""
    if last_inbound_at is None:
        return None
    approved = channel.settings.get("human_agent_approved", False)
    return last_inbound_at + (HUMAN_AGENT_WINDOW if approved else RESPONSE_WINDOW)


def _graph_url(channel: MessagingChannel, node: str) -> str:
    settings = channel.settings
    return f"{str(settings['graph_base_url']).rstrip('/')}/{settings['graph_api_version']}/{node}"


async def _send(reply: Reply) -> Sent | NotSent:
    """The Send API: RESPONSE within 24 h of the customer's last message; HUMAN_AGENT (up to 7 days) only
    when the channel says Meta approved it; never another tag. The text goes first, then each file as a
    message of its own, uploaded in the same request."""
    channel, conversation = reply.channel, reply.conversation
    last = conversation.last_inbound_at
    until = window_end(channel, last)
    if last is None or until is None or reply.now >= until:
        closed = until.isoformat() if until else "before any customer message"
        return NotSent(f"the Messenger reply window closed ({closed}); the customer has to write first", True)
    # Refused before anything goes: the customer would otherwise get the text without the file.
    for attachment in reply.attachments:
        if attachment.size > MAX_FILE_BYTES:
            return NotSent(
                f'the file "{attachment.filename}" takes {attachment.size} bytes, more than the '
                f"{MAX_FILE_BYTES} bytes Messenger carries in a message",
                True,
            )
    tag = (
        {} if reply.now < last + RESPONSE_WINDOW else {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    )
    url = _graph_url(channel, f"{channel.settings['page_id']}/messages")
    token = reply.secrets.get("page_access_token", "")
    recipient = {"id": conversation.address["psid"]}
    sent_id = None
    text = reply.comment.body
    for start in range(0, len(text), MAX_TEXT):
        body = {
            "recipient": recipient,
            "messaging_type": "RESPONSE",
            "message": {"text": text[start : start + MAX_TEXT]},
            **tag,
        }
        outcome = await _post(reply, url, token, json_body=body)
        if isinstance(outcome, NotSent):
            return outcome
        sent_id = outcome
    for attachment in reply.attachments:
        data = await file_bytes(reply, attachment)
        if isinstance(data, NotSent):
            return data
        message = {"attachment": {"type": _attachment_type(attachment), "payload": {"is_reusable": False}}}
        fields = {
            "recipient": json.dumps(recipient),
            "messaging_type": "RESPONSE",
            "message": json.dumps(message),
            **tag,
        }
        filedata = (attachment.filename, data, attachment.content_type)
        outcome = await _post(reply, url, token, form=fields, files={"filedata": filedata})
        if isinstance(outcome, NotSent):
            return outcome
        sent_id = outcome
    return Sent(str(sent_id)) if sent_id else NotSent("the Send API answered without a message id", False)


def _attachment_type(attachment: Attachment) -> str:
    kind = attachment.content_type.partition("/")[0]
    return kind if kind in ("image", "video", "audio") else "file"


async def _post(reply: Reply, url: str, token: str, **body: Any) -> str | NotSent | None:
    """One Send API call; the id of the message it sent, if the answer gave it."""
    answer = await call_provider(reply, url, params={"access_token": token}, **body)
    if isinstance(answer, NotSent):
        return answer
    if not answer.is_success:
        return _failure(answer)
    return json_of(answer).get("message_id")


def _failure(answer: httpx.Response) -> NotSent:
    error = json_of(answer).get("error") or {}
    code = error.get("code")
    reason = _REASONS.get(code, "the Send API refused the message")
    detail = f"{reason} (HTTP {answer.status_code}, code {code}: {error.get('message', answer.text[:200])})"
    transient = code in _TRANSIENT_CODES or answer.status_code >= 500 or answer.status_code == 429
    return NotSent(detail[:1000], not transient)


async def _profile(request: ProfileRequest) -> Profile | NotFetched:
    """The User Profile API. Meta's `name` is in the order the person's locale writes it (family name
    first in Vietnamese), so it is taken when given; else the first and last names."""
    answer = await ask_provider(
        request,
        _graph_url(request.channel, quote(request.identity, safe="")),
        params={
            "fields": "first_name,last_name,name",
            "access_token": request.secrets.get("page_access_token", ""),
        },
    )
    if isinstance(answer, NotSent):
        return NotFetched(answer.error)
    found = json_of(answer)
    if not answer.is_success:
        error = found.get("error") or {}
        detail = error.get("message", answer.text[:200])
        return NotFetched(
            f"the Graph API refused the profile (HTTP {answer.status_code}, code {error.get('code')}: "
            f"{detail})"[:1000]
        )
    parts = (found.get("first_name"), found.get("last_name"))
    return profile_named(found.get("name") or " ".join(str(part) for part in parts if part), "Messenger")


class MessengerAdapter(ChannelAdapter):
    kind = ChannelKind.messenger
    settings_model = MessengerSettings
    secrets_model = MessengerSecrets
    required_secrets = ("app_secret", "verify_token", "page_access_token")
    claims = {"claimed_account_id": "page_id"}
    fetches_profiles = True

    def verify(self, secrets: Mapping[str, str], body: bytes, headers: Mapping[str, str]) -> bool:
        return signature_matches(secrets.get("app_secret", ""), body, headers.get("x-hub-signature-256"))

    def events(self, channel: MessagingChannel, payload: dict[str, Any]) -> list[ProviderEvent]:
        if payload.get("object") != "page":
            return []
        return customer_events(payload, str(channel.settings["page_id"]))

    def parse(self, channel: MessagingChannel, inbound: InboundMessage, locale: Locale) -> ParsedMessage:
        return parse(inbound, locale)

    def reply_window(
        self, channel: MessagingChannel, conversation: Conversation, now: datetime
    ) -> ReplyWindow:
        until = window_end(channel, conversation.last_inbound_at)
        if until is None or now >= until:
            return ReplyWindow(until, "Messenger's reply window closed: the customer has to write first")
        return ReplyWindow(until)

    async def send(self, reply: Reply) -> Sent | NotSent:
        return await _send(reply)

    async def profile(self, request: ProfileRequest) -> Profile | NotFetched:
        return await _profile(request)
