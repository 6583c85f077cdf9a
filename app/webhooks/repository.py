from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select

from app.kit.pagination import Keyset, PageParams, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Event, Webhook, WebhookAttempt, WebhookDelivery

BY_CREATION = Keyset("created_at", [SortColumn(Webhook.created_at), SortColumn(Webhook.id)])
NEWEST_DELIVERIES = Keyset("-id", [SortColumn(WebhookDelivery.id, descending=True)])


class WebhookRepository(ScopedRepository[Webhook]):
    model = Webhook
    resource = "Webhook"


class DeliveryRepository(ScopedRepository[WebhookDelivery]):
    model = WebhookDelivery
    resource = "Delivery"

    async def of_webhook(
        self, webhook_id: UUID, delivery_id: UUID, *, for_update: bool = False
    ) -> WebhookDelivery | None:
        statement = self.select().where(
            WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.id == delivery_id
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, webhook_id: UUID, page: PageParams) -> tuple[list[WebhookDelivery], str | None]:
        statement = self.select().where(WebhookDelivery.webhook_id == webhook_id)
        return await self.paginate(statement, NEWEST_DELIVERIES, page)

    async def event_types(self, event_ids: Sequence[UUID]) -> dict[UUID, str]:
        if not event_ids:
            return {}
        statement = select(Event.id, Event.type).where(
            Event.workspace_id == self.workspace_id, Event.id.in_(event_ids)
        )
        return {
            event_id: event_type for event_id, event_type in (await self.session.execute(statement)).all()
        }

    async def attempts_of(self, delivery_ids: Sequence[UUID]) -> list[WebhookAttempt]:
        if not delivery_ids:
            return []
        statement = (
            select(WebhookAttempt)
            .where(
                WebhookAttempt.workspace_id == self.workspace_id, WebhookAttempt.delivery_id.in_(delivery_ids)
            )
            .order_by(WebhookAttempt.attempted_at)
        )
        return list((await self.session.execute(statement)).scalars())
