"""What an adapter's `profile` gets and answers: a customer's name, asked of the channel's provider."""

import unicodedata
from dataclasses import dataclass
from typing import Any

import httpx

from app.channels.adapters.sending import SecretsSaver
from app.kit.outbound import OutboundPolicy, Resolver, system_resolve
from app.models import MessagingChannel

# As long as a contact's name may be.
MAX_NAME = 200


@dataclass(frozen=True)
class Profile:
    name: str


@dataclass(frozen=True)
class NotFetched:
    """Why there is no profile this time; the worker tries again later."""

    error: str


@dataclass(frozen=True)
class ProfileRequest:
    channel: MessagingChannel
    secrets: dict[str, str]
    # The customer's id on the channel: a Messenger PSID, a Zalo user id.
    identity: str
    client: httpx.AsyncClient
    timeout: float
    policy: OutboundPolicy
    save_secrets: SecretsSaver
    resolve: Resolver = system_resolve


def profile_named(name: Any, provider: str) -> Profile | NotFetched:
    """The profile with the name the provider gave, as a contact's name is kept (one line, NFC, no control
    characters, at most MAX_NAME characters); NotFetched when it gave none."""
    text = "".join(char for char in str(name or "") if char.isprintable() or char.isspace())
    cleaned = unicodedata.normalize("NFC", " ".join(text.split()))[:MAX_NAME].rstrip()
    return Profile(cleaned) if cleaned else NotFetched(f"{provider}'s profile of the customer has no name")
