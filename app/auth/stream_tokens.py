"""Stream tokens: short-lived credentials that open the live event stream and nothing else.

A browser's EventSource cannot send an Authorization header, so a page asks for one of these with its
credential and puts it in the stream's URL. The token is an HS256 JWT under a key derived from the
service's secret key (never stored), naming the workspace, the credential it was made from and the role
it had; the credential is read again when the stream opens, so a revoked key or a deactivated agent
opens nothing, and the stream shows what the credential would see.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import jwt

from app.auth.principal import Principal
from app.errors import Unauthorized
from app.kit.crypto import SecretBox
from app.kit.time import utcnow
from app.models.enums import ActorType, Role

PREFIX = "hdst_"
# The key's purpose and the token's audience: nothing else the service signs is a stream token.
PURPOSE = "helpdesk:events.stream"


@dataclass(frozen=True)
class StreamGrant:
    """What a valid stream token says: whose credential made it, and the role it had then."""

    workspace_id: UUID
    actor_type: ActorType
    actor_id: UUID
    role: Role
    # The agent-token secret that signed the agent token it was made from.
    token_secret_id: UUID | None


def looks_like_stream_token(token: str) -> bool:
    return token.startswith(PREFIX)


def mint(
    secret_box: SecretBox, principal: Principal, token_secret_id: UUID | None, ttl_seconds: int
) -> tuple[str, datetime]:
    """A token for `principal`'s stream and when it expires (to the second, as the token says)."""
    now = utcnow().replace(microsecond=0)
    expires_at = now + timedelta(seconds=ttl_seconds)
    claims = {
        "aud": PURPOSE,
        "ws": str(principal.workspace_id),
        "sub": f"{principal.actor_type.value}:{principal.actor_id}",
        "role": principal.role.value,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    if token_secret_id is not None:
        claims["sec"] = str(token_secret_id)
    return PREFIX + jwt.encode(claims, secret_box.derive_key(PURPOSE), algorithm="HS256"), expires_at


def read(secret_box: SecretBox, token: str) -> StreamGrant:
    """The grant of a token this service made and that has not expired; otherwise a 401."""
    if not looks_like_stream_token(token):
        raise Unauthorized("The stream token is not valid")
    try:
        claims = jwt.decode(
            token.removeprefix(PREFIX),
            secret_box.derive_key(PURPOSE),
            algorithms=["HS256"],
            audience=PURPOSE,
            options={"require": ["exp", "ws", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The stream token has expired: ask for another") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("The stream token is not valid") from exc
    # Only this service signs with the key: claims that do not parse are a bug of its own.
    actor_type, _, actor_id = claims["sub"].partition(":")
    return StreamGrant(
        workspace_id=UUID(claims["ws"]),
        actor_type=ActorType(actor_type),
        actor_id=UUID(actor_id),
        role=Role(claims["role"]),
        token_secret_id=UUID(claims["sec"]) if "sec" in claims else None,
    )
