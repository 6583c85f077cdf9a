"""Authentication of API keys and agent tokens, and the management of both."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository, stream_tokens
from app.auth.keys import (
    generate_api_key,
    generate_token_secret,
    hash_api_key,
    looks_like_api_key,
    visible_prefix,
)
from app.auth.principal import Principal
from app.auth.repository import ApiKeyRepository, KeyMatch, TokenSecretRepository
from app.config import Settings
from app.errors import Unauthorized, Unprocessable
from app.kit.crypto import SecretBox
from app.kit.ids import new_id
from app.kit.schemas import storable
from app.kit.time import utcnow
from app.models import Agent, AgentTokenSecret, ApiKey
from app.models.enums import ActorType, Role, Scope

TOKEN_LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    # An API key whose `last_used_at` is due to move; the caller records it apart from its own work.
    stale_key: KeyMatch | None = None
    # The agent-token secret that signed the caller's agent token: a stream token made from it lives
    # no longer than the secret does.
    token_secret_id: UUID | None = None


async def authenticate(
    session: AsyncSession, token: str, settings: Settings, secret_box: SecretBox
) -> Authenticated:
    if looks_like_api_key(token):
        return await _authenticate_api_key(session, token)
    if stream_tokens.looks_like_stream_token(token):
        raise Unauthorized("A stream token opens GET /v1/events/stream only, as its `token` parameter")
    return await _authenticate_agent_token(session, token, settings, secret_box)


async def _authenticate_api_key(session: AsyncSession, token: str) -> Authenticated:
    key = await repository.find_api_key_by_hash(session, hash_api_key(token))
    if key is None:
        raise Unauthorized("The API key is not valid or has been revoked")
    return _key_authenticated(key, key.role)


def _key_authenticated(key: KeyMatch, role: Role) -> Authenticated:
    stale = key.last_used_at is None or utcnow() - key.last_used_at > timedelta(
        seconds=repository.LAST_USED_RESOLUTION_SECONDS
    )
    principal = Principal(
        workspace_id=key.workspace_id,
        role=role,
        actor_type=ActorType.api_key,
        actor_id=key.id,
        scopes=key.scopes,
    )
    return Authenticated(principal, key if stale else None)


async def _authenticate_agent_token(
    session: AsyncSession, token: str, settings: Settings, secret_box: SecretBox
) -> Authenticated:
    invalid = Unauthorized("The agent token is not valid")
    try:
        secret_id = UUID(str(jwt.get_unverified_header(token).get("kid")))
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise invalid from exc
    secret = await repository.find_token_secret(session, secret_id)
    plaintext = secret_box.decrypt(secret.secret_encrypted) if secret else None
    if secret is None or plaintext is None:
        raise invalid
    try:
        claims = jwt.decode(
            token,
            plaintext,
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "role"]},
            leeway=TOKEN_LEEWAY_SECONDS,
        )
        claimed_role = Role(claims["role"])
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise Unauthorized(f"The agent token is not valid: {exc}") from exc
    # The library reads a numeric string as `exp` too; the claims must be what RFC 7519 says they are.
    if isinstance(claims["exp"], bool) or not isinstance(claims["exp"], int | float):
        raise Unauthorized("The agent token is not valid: exp must be a number")
    if not isinstance(claims["sub"], str) or not storable(claims["sub"]):
        raise Unauthorized("The agent token is not valid: sub must be an agent's external id")
    max_ttl = timedelta(minutes=settings.agent_token_max_ttl_minutes)
    if claims["exp"] - utcnow().timestamp() > max_ttl.total_seconds() + TOKEN_LEEWAY_SECONDS:
        raise Unauthorized(f"Agent tokens may live at most {settings.agent_token_max_ttl_minutes} minutes")
    agent = await repository.find_agent_by_external_id(session, secret.workspace_id, str(claims["sub"]))
    if agent is None or not agent.active:
        raise Unauthorized("The agent token names no active agent of this workspace")
    return Authenticated(await _agent_principal(session, agent, claimed_role), token_secret_id=secret.id)


async def _agent_principal(session: AsyncSession, agent: Agent, claimed_role: Role) -> Principal:
    # A token never grants more than the agent's own role; one that claims less leaves their custom
    # role aside.
    role = min(claimed_role, agent.role, key=lambda candidate: candidate.rank)
    permissions = None
    if agent.custom_role_id is not None and role is agent.role:
        permissions = await repository.role_permissions(session, agent.workspace_id, agent.custom_role_id)
    return Principal(
        workspace_id=agent.workspace_id,
        role=role,
        actor_type=ActorType.agent,
        actor_id=agent.id,
        agent_id=agent.id,
        ticket_access=agent.ticket_access,
        permissions=permissions,
    )


async def authenticate_stream_token(
    session: AsyncSession, token: str, secret_box: SecretBox
) -> Authenticated:
    """The caller of a stream token: the credential it was made from, as that credential is now (never
    with more than the role the token had), refused (401) once the key is revoked, the agent
    deactivated or the secret that signed the agent's token retired."""
    grant = stream_tokens.read(secret_box, token)
    if grant.actor_type is ActorType.api_key:
        key = await repository.find_api_key(session, grant.workspace_id, grant.actor_id)
        if key is None:
            raise Unauthorized("The API key the stream token was made from has been revoked")
        return _key_authenticated(key, min(grant.role, key.role, key=lambda candidate: candidate.rank))
    if grant.token_secret_id is not None:
        secret = await repository.find_token_secret(session, grant.token_secret_id)
        if secret is None or secret.workspace_id != grant.workspace_id:
            raise Unauthorized("The agent-token secret the stream token was made under has been retired")
    agent = await repository.find_agent(session, grant.workspace_id, grant.actor_id)
    if agent is None or not agent.active:
        raise Unauthorized("The stream token names no active agent of this workspace")
    return Authenticated(
        await _agent_principal(session, agent, grant.role), token_secret_id=grant.token_secret_id
    )


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str


async def issue_api_key(
    session: AsyncSession,
    workspace_id: UUID,
    name: str,
    role: Role,
    scopes: Sequence[Scope] | None = None,
) -> IssuedKey:
    """A new key; with `scopes`, it may do only what they cover (each must be of use to its role)."""
    beyond = [scope for scope in scopes or () if scope.least_role.rank > role.rank]
    if beyond:
        raise Unprocessable(
            f"scopes: {beyond[0].value} needs the {beyond[0].least_role.value} role", field="scopes"
        )
    plaintext = generate_api_key()
    key = ApiKey(
        id=new_id(),
        name=name,
        role=role,
        scopes=None if scopes is None else sorted({scope.value for scope in scopes}),
        prefix=visible_prefix(plaintext),
        key_hash=hash_api_key(plaintext),
    )
    await ApiKeyRepository(session, workspace_id).add(key)
    return IssuedKey(key, plaintext)


async def revoke_api_key(session: AsyncSession, workspace_id: UUID, key_id: UUID) -> ApiKey:
    repo = ApiKeyRepository(session, workspace_id)
    key = await repo.get_or_404(key_id, for_update=True)
    if key.revoked_at is None:
        await repo.update(key, {"revoked_at": utcnow()})
    return key


@dataclass(frozen=True)
class IssuedSecret:
    secret: AgentTokenSecret
    plaintext: str
    previous_expires_at: datetime | None


async def rotate_token_secret(
    session: AsyncSession, workspace_id: UUID, settings: Settings, secret_box: SecretBox
) -> IssuedSecret:
    """A new signing secret; the previous one keeps verifying tokens for the grace period."""
    repo = TokenSecretRepository(session, workspace_id)
    current = await repo.current()
    previous_expires_at = None
    if current is not None:
        previous_expires_at = utcnow() + timedelta(minutes=settings.agent_token_secret_grace_minutes)
        await repo.retire(current, previous_expires_at)
    plaintext = generate_token_secret()
    secret = await repo.add(AgentTokenSecret(id=new_id(), secret_encrypted=secret_box.encrypt(plaintext)))
    return IssuedSecret(secret, plaintext, previous_expires_at)
