"""Conditions name ids of the workspace; one that names anything else is refused when it is stored."""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.categories.repository import CategoryRepository
from app.contacts.repository import ContactRepository
from app.errors import Unprocessable
from app.groups.repository import GroupRepository
from app.kit.repository import ScopedRepository
from app.sla.repository import CalendarRepository
from app.statuses.repository import StatusRepository

_REPOSITORIES: dict[str, type[ScopedRepository[Any]]] = {
    "group_id": GroupRepository,
    "assignee_id": AgentRepository,
    "status_id": StatusRepository,
    "requester_id": ContactRepository,
    "category_id": CategoryRepository,
    "business_hours": CalendarRepository,
}


async def check_condition_references(
    session: AsyncSession, workspace_id: UUID, conditions: dict[str, Any], *, field: str = "conditions"
) -> None:
    for part in ("all", "any"):
        for position, condition in enumerate(conditions.get(part, [])):
            repository = _REPOSITORIES.get(condition["field"])
            value = condition.get("value")
            if repository is None or value is None:
                continue
            repo = repository(session, workspace_id)
            for named in value if isinstance(value, list) else [value]:
                if not await repo.exists(UUID(named)):
                    where = f"{field}.{part}.{position}.value"
                    raise Unprocessable(
                        f"{where}: no such {repo.resource.lower()}", field=where, code="unknown_reference"
                    )
