"""Automations as admins set them up: checked before they are stored so that they can run, and each
change has the workers work out the workspace's open tickets' next automation time again."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.automations.repository import BY_POSITION, AutomationRepository
from app.automations.schemas import AutomationCreate, AutomationUpdate
from app.config import Settings
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.models import Automation
from app.rules.references import check_condition_references
from app.triggers.service import check_actions


async def get_automation(
    session: AsyncSession, workspace_id: UUID, automation_id: UUID, *, for_update: bool = False
) -> Automation:
    return await AutomationRepository(session, workspace_id).get_or_404(automation_id, for_update=for_update)


async def list_automations(
    session: AsyncSession, workspace_id: UUID, page: PageParams, *, active: bool | None = None
) -> tuple[list[Automation], str | None]:
    repo = AutomationRepository(session, workspace_id)
    return await repo.paginate(repo.filtered(active=active), BY_POSITION, page)


async def create_automation(
    session: AsyncSession, workspace_id: UUID, data: AutomationCreate, settings: Settings
) -> Automation:
    await check_condition_references(session, workspace_id, data.conditions.model_dump(mode="json"))
    await check_actions(session, workspace_id, data.actions, settings)
    repo = AutomationRepository(session, workspace_id)
    created = await repo.add(Automation(id=new_id(), **data.model_dump(mode="json")))
    await repo.rescan_tickets()
    return created


async def update_automation(
    session: AsyncSession,
    workspace_id: UUID,
    automation: Automation,
    data: AutomationUpdate,
    settings: Settings,
) -> Automation:
    sent = data.model_dump(mode="json")
    values = {name: sent[name] for name in data.model_fields_set}
    if "conditions" in values:
        await check_condition_references(session, workspace_id, values["conditions"])
    if "actions" in values:
        await check_actions(session, workspace_id, data.actions, settings)
    repo = AutomationRepository(session, workspace_id)
    updated = await repo.update(automation, values)
    await repo.rescan_tickets()
    return updated


async def delete_automation(session: AsyncSession, workspace_id: UUID, automation: Automation) -> None:
    repo = AutomationRepository(session, workspace_id)
    await repo.delete(automation)
    await repo.rescan_tickets()
