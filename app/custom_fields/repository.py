from sqlalchemy import exists, select

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Contact, CustomFieldDefinition, Ticket
from app.models.enums import CustomFieldEntity

BY_POSITION = Keyset(
    "position", [SortColumn(CustomFieldDefinition.position), SortColumn(CustomFieldDefinition.id)]
)

_HOLDERS = {CustomFieldEntity.ticket: Ticket, CustomFieldEntity.contact: Contact}


class CustomFieldRepository(ScopedRepository[CustomFieldDefinition]):
    model = CustomFieldDefinition
    resource = "Custom field"

    async def has_values(self, entity: CustomFieldEntity, key: str) -> bool:
        """Whether any ticket or contact (as `entity` says) of the workspace has a value for `key`."""
        holder = _HOLDERS[entity]
        statement = select(
            exists().where(holder.workspace_id == self.workspace_id, holder.custom_fields.has_key(key))
        )
        return bool(await self.session.scalar(statement))
