"""What every adapter's `send` gets and answers, and the one way they call a provider."""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from app.attachments.storage import storage_for
from app.config import Settings
from app.kit.outbound import (
    OutboundPolicy,
    Resolver,
    UnsafeDestination,
    safe_api_get,
    safe_post,
    system_resolve,
)
from app.models import Attachment, Comment, Conversation, MessagingChannel, OutboundMessage, Ticket

# Replaces some of the channel's secrets (e.g. refreshed tokens) and commits; returns all of them.
SecretsSaver = Callable[[Callable[[dict[str, str]], Awaitable[dict[str, str]]]], Awaitable[dict[str, str]]]


class ProviderCall(Protocol):
    """What calling a channel's provider needs, for a reply or a customer's profile: the channel, its
    secrets and how to save changed ones, and the HTTP client with how its destinations are checked."""

    @property
    def channel(self) -> MessagingChannel: ...
    @property
    def secrets(self) -> dict[str, str]: ...
    @property
    def save_secrets(self) -> SecretsSaver: ...
    @property
    def client(self) -> httpx.AsyncClient: ...
    @property
    def timeout(self) -> float: ...
    @property
    def policy(self) -> OutboundPolicy: ...
    @property
    def resolve(self) -> Resolver: ...


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


@dataclass(frozen=True)
class NotSent:
    error: str
    # Retrying cannot help (the provider refused the message itself, or the window closed).
    permanent: bool


@dataclass(frozen=True)
class Suppressed:
    """Not sent on purpose, by a rule that stops mail loops (an automatic reply to automatic mail, a reply
    to the channel's own address or to a mail system): nothing failed, and nothing is tried again."""

    reason: str


@dataclass
class Reply:
    message: OutboundMessage
    channel: MessagingChannel
    secrets: dict[str, str]
    conversation: Conversation
    ticket: Ticket
    comment: Comment
    client: httpx.AsyncClient
    now: datetime
    timeout: float
    policy: OutboundPolicy
    save_secrets: SecretsSaver
    # The worker's settings: adapters find their limits, and where files are stored, in them.
    settings: Settings
    # The comment's files, oldest first, loaded once for every adapter; only the adapters that carry
    # the bytes (email, Messenger, Zalo) read them from storage, and only then.
    attachments: list[Attachment]
    # What the adapter's `context` found of the ticket's thread (e.g. the Message-IDs to refer to).
    context: dict[str, Any] = field(default_factory=dict)
    # How host names are looked up for `policy`: every call goes to an address checked by it.
    resolve: Resolver = system_resolve


async def call_provider(
    call: ProviderCall,
    url: str,
    *,
    json_body: Any = None,
    content: bytes | None = None,
    form: dict[str, str] | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response | NotSent:
    """POST to a provider (checked like every outbound request) JSON, `content` (JSON already encoded,
    e.g. signed), a form, or with `files` (field: name, bytes, type) multipart form data with the form's
    fields; a network failure is a NotSent."""
    content_type = "application/json"
    if files is not None:
        # The checked request is sent as bytes; httpx encodes multipart only while building a request,
        # and the URL plays no part in that.
        encoded = httpx.Request("POST", "/", data=form, files=files)
        content = encoded.read()
        content_type = encoded.headers["content-type"]
    elif form is not None:
        content = urlencode(form).encode()
        content_type = "application/x-www-form-urlencoded"
    elif content is None:
        content = json.dumps(json_body, ensure_ascii=False).encode()
    return await _answer(
        safe_post(
            call.client,
            _with_params(url, params),
            content=content,
            headers={"content-type": content_type, **(headers or {})},
            timeout=call.timeout,
            policy=call.policy,
            resolve=call.resolve,
        )
    )


async def ask_provider(
    call: ProviderCall,
    url: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response | NotSent:
    """GET from a provider's API, checked like every outbound request; a network failure is a NotSent."""
    return await _answer(
        safe_api_get(
            call.client,
            _with_params(url, params),
            headers=headers or {},
            timeout=call.timeout,
            policy=call.policy,
            resolve=call.resolve,
        )
    )


def _with_params(url: str, params: dict[str, str] | None) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}" if params else url


async def _answer(request: Awaitable[httpx.Response]) -> httpx.Response | NotSent:
    """The provider's answer, or why there is none."""
    try:
        return await request
    except UnsafeDestination as refused:
        return NotSent(f"the provider's URL may not be called: {refused}", True)
    except httpx.HTTPError as error:
        return NotSent(f"the provider could not be reached: {type(error).__name__} {error}"[:500], False)


async def file_bytes(reply: Reply, attachment: Attachment) -> bytes | NotSent:
    """The bytes of one of the reply's files, or why they cannot be had."""
    storage = storage_for(reply.settings)
    try:
        return b"".join([chunk async for chunk in await storage.open(attachment.storage_key)])
    except FileNotFoundError:
        return NotSent(f'the file "{attachment.filename}" is missing from storage', True)
    except OSError as error:
        return NotSent(f'the file "{attachment.filename}" could not be read: {error}'[:1000], False)


def json_of(answer: httpx.Response) -> dict[str, Any]:
    """A provider's JSON object answer; empty when it answered anything else."""
    try:
        found = answer.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
