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
from collections.abc import Awaitable, Callable
from typing import Any

from app.channels.incoming import Incoming, ProviderEvent, RemoteFile
from app.channels.sending import NotSent, Reply, Sent, call_provider, json_of
from app.models import InboundMessage, MessagingChannel
from app.models.enums import Channel, IdentityKind

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


def stored_event(body: dict[str, Any]) -> ProviderEvent | None:
    """The event to keep: a customer's message, a follow or an unfollow; None for the rest."""
    name = str(body.get("event_name", ""))
    if name.startswith("user_send_"):
        msg_id = (body.get("message") or {}).get("msg_id")
        return ProviderEvent(str(msg_id), MESSAGE, body) if msg_id else None
    if name in (FOLLOW, UNFOLLOW):
        follower = (body.get("follower") or {}).get("id")
        return ProviderEvent(f"{name}:{follower}:{body.get('timestamp')}", name, body) if follower else None
    return None


def incoming(channel: MessagingChannel, inbound: InboundMessage) -> Incoming:
    event, kind = inbound.payload, inbound.kind
    if kind in (FOLLOW, UNFOLLOW):
        user_id = str(event["follower"]["id"])
        return Incoming(
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
    for attachment in message.get("attachments") or []:
        payload = attachment.get("payload") or {}
        kind_name = attachment.get("type", "file")
        if kind_name in FILE_KINDS and payload.get("url"):
            files += (RemoteFile(str(payload["url"]), kind_name, payload.get("name")),)
        elif kind_name == "location" and payload.get("coordinates"):
            where = payload["coordinates"]
            lines.append(f"[location] {where.get('latitude')}, {where.get('longitude')}")
        else:
            # A sticker or a shared link: nothing to keep, what it is stays readable.
            detail = " ".join(str(part) for part in (payload.get("name"), payload.get("url")) if part)
            lines.append(f"[{kind_name}] {detail}".rstrip())
    return Incoming(
        conversation=user_id,
        identity_kind=IdentityKind.zalo,
        identity=user_id,
        body="\n".join(lines),
        origin=Channel.zalo,
        address={"user_id": user_id, "following": True},
        remote_files=files,
    )


async def send(reply: Reply) -> Sent | NotSent:
    """The customer-service message API; an expired access token is refreshed once, then retried."""
    if reply.conversation.address.get("following") is False:
        return NotSent("the customer unfollowed the Official Account", True)
    token = reply.secrets.get("access_token", "")
    outcome = await _send_text(reply, token)
    if outcome is not EXPIRED:
        return outcome
    secrets = await reply.save_secrets(_refresher(reply, expired=token))
    if secrets.get("access_token") in (None, token):
        return NotSent("the Zalo access token expired and could not be refreshed", False)
    retried = await _send_text(reply, secrets["access_token"])
    if retried is EXPIRED:
        return NotSent("the refreshed Zalo access token was refused as expired", False)
    return retried


async def _send_text(reply: Reply, token: str) -> Sent | NotSent:
    url = f"{str(reply.channel.settings['api_base_url']).rstrip('/')}/v3.0/oa/message/cs"
    text = reply.comment.body
    sent_id = None
    for start in range(0, len(text), MAX_TEXT):
        body = {
            "recipient": {"user_id": reply.conversation.address["user_id"]},
            "message": {"text": text[start : start + MAX_TEXT]},
        }
        answer = await call_provider(reply, url, json_body=body, headers={"access_token": token})
        if isinstance(answer, NotSent):
            return answer
        if answer.status_code >= 500 or answer.status_code == 429:
            return NotSent(f"Zalo answered HTTP {answer.status_code}", False)
        found = json_of(answer)
        error = found.get("error")
        if error == TOKEN_EXPIRED:
            return EXPIRED
        if answer.status_code != 200 or error != 0:
            refused = f"Zalo refused the message (error {error}: {found.get('message', '')})"
            return NotSent(refused[:1000], True)
        sent_id = (found.get("data") or {}).get("message_id")
    return Sent(str(sent_id)) if sent_id else NotSent("Zalo answered without a message id", False)


def _refresher(reply: Reply, *, expired: str) -> Callable[[dict[str, str]], Awaitable[dict[str, str]]]:
    async def refresh(current: dict[str, str]) -> dict[str, str]:
        if current.get("access_token") != expired:
            return current  # another worker refreshed it meanwhile: its pair is the one to use
        url = f"{str(reply.channel.settings['oauth_base_url']).rstrip('/')}/v4/oa/access_token"
        answer = await call_provider(
            reply,
            url,
            form={
                "refresh_token": current.get("refresh_token", ""),
                "app_id": str(reply.channel.settings["app_id"]),
                "grant_type": "refresh_token",
            },
            headers={"secret_key": current.get("app_secret", "")},
        )
        found = {} if isinstance(answer, NotSent) else json_of(answer)
        if not found.get("access_token") or not found.get("refresh_token"):
            logger.warning("refreshing the Zalo access token of channel %s failed", reply.channel.id)
            return current
        return {**current, "access_token": found["access_token"], "refresh_token": found["refresh_token"]}

    return refresh
