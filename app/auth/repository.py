from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy import bindparam, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset, SortColumn
from app.kit.plain import PlainStatement
from app.kit.repository import ScopedRepository
from app.models import Agent, AgentRole, AgentTokenSecret, ApiKey
from app.models.enums import Permission, Role, Scope

LAST_USED_RESOLUTION_SECONDS = 60


_KEY_MATCH = select(ApiKey.workspace_id, ApiKey.id, ApiKey.role, ApiKey.scopes, ApiKey.last_used_at).where(
    ApiKey.revoked_at.is_(None)
)
# Plain statements: they run on every request.
_KEY_BY_HASH = PlainStatement(_KEY_MATCH.where(ApiKey.key_hash == bindparam("key_hash")))
_KEY_BY_ID = PlainStatement(
    _KEY_MATCH.where(ApiKey.workspace_id == bindparam("workspace_id"), ApiKey.id == bindparam("key_id"))
)


@dataclass(frozen=True, slots=True)
class KeyMatch:
    workspace_id: UUID
    id: UUID
    role: Role
    scopes: frozenset[Scope] | None
    last_used_at: datetime | None


async def find_api_key_by_hash(session: AsyncSession, key_hash: bytes) -> KeyMatch | None:
    """Across workspaces: the key itself says which workspace it belongs to."""
    return _key_match(await _KEY_BY_HASH.fetchrow(session, {"key_hash": key_hash}))


async def find_api_key(session: AsyncSession, workspace_id: UUID, key_id: UUID) -> KeyMatch | None:
    """The workspace's key `key_id`, unless it was revoked."""
    return _key_match(await _KEY_BY_ID.fetchrow(session, {"workspace_id": workspace_id, "key_id": key_id}))


def _key_match(row: asyncpg.Record | None) -> KeyMatch | None:
    if row is None:
        return None
    scopes = None if row["scopes"] is None else frozenset(Scope(scope) for scope in row["scopes"])
    return KeyMatch(row["workspace_id"], row["id"], Role(row["role"]), scopes, row["last_used_at"])


async def record_api_key_use(session: AsyncSession, key: KeyMatch) -> None:
    """Move `last_used_at` at most once a minute, so busy keys do not write on every request.

    Meant for a transaction of its own: a request that holds the key's row never makes the key's
    other requests wait, since they skip a row another is stamping.
    """
    stale = (
        select(ApiKey.workspace_id, ApiKey.id)
        .where(
            ApiKey.workspace_id == key.workspace_id,
            ApiKey.id == key.id,
            or_(
                ApiKey.last_used_at.is_(None),
                ApiKey.last_used_at
                < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, LAST_USED_RESOLUTION_SECONDS),
            ),
        )
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        update(ApiKey)
        .where(tuple_(ApiKey.workspace_id, ApiKey.id).in_(stale))
        .values(last_used_at=func.now())
    )


async def find_token_secret(session: AsyncSession, secret_id: UUID) -> AgentTokenSecret | None:
    statement = select(AgentTokenSecret).where(
        AgentTokenSecret.id == secret_id,
        or_(AgentTokenSecret.expires_at.is_(None), AgentTokenSecret.expires_at > func.now()),
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def role_permissions(session: AsyncSession, workspace_id: UUID, role_id: UUID) -> frozenset[Permission]:
    statement = select(AgentRole.permissions).where(
        AgentRole.workspace_id == workspace_id, AgentRole.id == role_id
    )
    return frozenset(Permission(value) for value in await session.scalar(statement) or ())


async def find_agent(session: AsyncSession, workspace_id: UUID, agent_id: UUID) -> Agent | None:
    statement = select(Agent).where(Agent.workspace_id == workspace_id, Agent.id == agent_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def find_agent_by_external_id(
    session: AsyncSession, workspace_id: UUID, external_id: str
) -> Agent | None:
    statement = select(Agent).where(Agent.workspace_id == workspace_id, Agent.external_id == external_id)
    return (await session.execute(statement)).scalar_one_or_none()


BY_CREATION = Keyset("created_at", [SortColumn(ApiKey.created_at), SortColumn(ApiKey.id)])


class ApiKeyRepository(ScopedRepository[ApiKey]):
    model = ApiKey
    resource = "API key"

    def list_statement(self, include_revoked: bool):
        statement = self.select()
        return statement if include_revoked else statement.where(ApiKey.revoked_at.is_(None))


class TokenSecretRepository(ScopedRepository[AgentTokenSecret]):
    model = AgentTokenSecret

    async def current(self) -> AgentTokenSecret | None:
        statement = self.select().where(AgentTokenSecret.expires_at.is_(None))
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def retire(self, secret: AgentTokenSecret, at: datetime) -> None:
        await self.update(secret, {"expires_at": at})
