"""Triggers as admins set them up, checked before they are stored so that they can run."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.categories.repository import CategoryRepository
from app.config import Settings
from app.custom_fields.validation import load_definitions, validate_custom_fields
from app.errors import Unprocessable
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.macros.repository import MacroRepository
from app.macros.service import check_action_references
from app.models import Trigger
from app.models.enums import CustomFieldEntity
from app.notifications.actions import check_notify_action
from app.notifications.schemas import NotifyAction
from app.rules.references import check_condition_references
from app.triggers.repository import BY_POSITION, TriggerRepository
from app.triggers.schemas import (
    AddCommentAction,
    SetCategoryAction,
    SetCustomFieldsAction,
    TriggerAction,
    TriggerCreate,
    TriggerUpdate,
)
from app.webhooks.calls import check_call_url
from app.webhooks.schemas import CallUrlAction


async def get_trigger(
    session: AsyncSession, workspace_id: UUID, trigger_id: UUID, *, for_update: bool = False
) -> Trigger:
    return await TriggerRepository(session, workspace_id).get_or_404(trigger_id, for_update=for_update)


async def list_triggers(
    session: AsyncSession,
    workspace_id: UUID,
    page: PageParams,
    *,
    active: bool | None = None,
    event: str | None = None,
) -> tuple[list[Trigger], str | None]:
    repo = TriggerRepository(session, workspace_id)
    return await repo.paginate(repo.filtered(active=active, event=event), BY_POSITION, page)


async def create_trigger(
    session: AsyncSession, workspace_id: UUID, data: TriggerCreate, settings: Settings
) -> Trigger:
    await check_condition_references(session, workspace_id, data.conditions.model_dump(mode="json"))
    await check_actions(session, workspace_id, data.actions, settings)
    trigger = Trigger(id=new_id(), **data.model_dump(mode="json"))
    return await TriggerRepository(session, workspace_id).add(trigger)


async def update_trigger(
    session: AsyncSession, workspace_id: UUID, trigger: Trigger, data: TriggerUpdate, settings: Settings
) -> Trigger:
    sent = data.model_dump(mode="json")
    values = {name: sent[name] for name in data.model_fields_set}
    if "conditions" in values:
        await check_condition_references(session, workspace_id, values["conditions"])
    if "actions" in values:
        await check_actions(session, workspace_id, data.actions, settings)
    return await TriggerRepository(session, workspace_id).update(trigger, values)


async def delete_trigger(session: AsyncSession, workspace_id: UUID, trigger: Trigger) -> None:
    await TriggerRepository(session, workspace_id).delete(trigger)


async def check_actions(
    session: AsyncSession, workspace_id: UUID, actions: Sequence[TriggerAction], settings: Settings
) -> None:
    """Everything the actions name must be of the workspace, so that running them can succeed."""
    await check_action_references(session, workspace_id, None, actions)
    for position, action in enumerate(actions):
        field = f"actions.{position}"
        if isinstance(action, SetCategoryAction) and action.category_id is not None:
            if not await CategoryRepository(session, workspace_id).exists(action.category_id):
                raise Unprocessable(
                    f"{field}.category_id: no such category",
                    field=f"{field}.category_id",
                    code="unknown_reference",
                )
        elif isinstance(action, SetCustomFieldsAction):
            definitions = await load_definitions(session, workspace_id, CustomFieldEntity.ticket)
            try:
                validate_custom_fields(definitions, action.custom_fields, current={})
            except Unprocessable as error:
                error.field = f"{field}.{error.field}"
                error.detail = f"{field}.{error.detail}"
                raise
        elif isinstance(action, AddCommentAction):
            macro = await MacroRepository(session, workspace_id).get(action.macro_id)
            if macro is None:
                raise Unprocessable(
                    f"{field}.macro_id: no such macro", field=f"{field}.macro_id", code="unknown_reference"
                )
            if not macro.body.strip():
                raise Unprocessable(
                    f"{field}.macro_id: the macro has no body to add", field=f"{field}.macro_id"
                )
        elif isinstance(action, NotifyAction):
            await check_notify_action(session, workspace_id, action, field)
        elif isinstance(action, CallUrlAction):
            await check_call_url(session, workspace_id, action, settings, field=field)
