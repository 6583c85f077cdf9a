from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.custom_fields.repository import CustomFieldRepository
from app.custom_fields.schemas import CustomFieldCreate, CustomFieldUpdate
from app.custom_fields.validation import check_pattern
from app.errors import Conflict, Unprocessable
from app.kit.ids import new_id
from app.models import CustomFieldDefinition
from app.models.enums import CustomFieldType

_WITH_OPTIONS = {CustomFieldType.dropdown, CustomFieldType.multiselect}


async def get_custom_field(
    session: AsyncSession, workspace_id: UUID, field_id: UUID, *, for_update: bool = False
) -> CustomFieldDefinition:
    return await CustomFieldRepository(session, workspace_id).get_or_404(field_id, for_update=for_update)


async def create_custom_field(
    session: AsyncSession, workspace_id: UUID, data: CustomFieldCreate
) -> CustomFieldDefinition:
    values = data.model_dump()
    await _check_shape(data.type, values["options"], values["pattern"])
    return await CustomFieldRepository(session, workspace_id).add(
        CustomFieldDefinition(id=new_id(), **values)
    )


async def update_custom_field(
    session: AsyncSession, workspace_id: UUID, definition: CustomFieldDefinition, data: CustomFieldUpdate
) -> CustomFieldDefinition:
    values = data.changes()
    if "options" in values or "pattern" in values:
        await _check_shape(
            definition.type,
            values.get("options", definition.options),
            values.get("pattern", definition.pattern),
        )
    return await CustomFieldRepository(session, workspace_id).update(definition, values)


async def delete_custom_field(
    session: AsyncSession, workspace_id: UUID, definition: CustomFieldDefinition
) -> None:
    repo = CustomFieldRepository(session, workspace_id)
    if await repo.has_values(definition.entity, definition.key):
        raise Conflict(
            f"Some {definition.entity.value}s have a value for {definition.key!r}: "
            "deactivate the field instead, or remove those values first",
            code="custom_field_in_use",
        )
    await repo.delete(definition)


async def _check_shape(type_: CustomFieldType, options: list[dict[str, Any]], pattern: str | None) -> None:
    """Options belong to choice fields and a pattern to regex fields, each where it is needed."""
    if type_ in _WITH_OPTIONS and not options:
        raise Unprocessable(f"A {type_.value} field needs at least one option", field="options")
    if type_ not in _WITH_OPTIONS and options:
        raise Unprocessable(f"A {type_.value} field has no options", field="options")
    if type_ is CustomFieldType.regex:
        if pattern is None:
            raise Unprocessable("A regex field needs a pattern", field="pattern")
        await check_pattern(pattern)
    elif pattern is not None:
        raise Unprocessable(f"A {type_.value} field has no pattern", field="pattern")
