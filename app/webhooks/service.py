"""Webhook endpoints: configuration, secrets, the delivery log, test events and redelivery."""

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings
from app.errors import Conflict, NotFound
from app.kit.crypto import SecretBox
from app.kit.ids import new_id
from app.kit.outbound import checked_url
from app.kit.pagination import PageParams
from app.kit.signing import generate_secret
from app.kit.time import utcnow
from app.models import Webhook, WebhookDelivery
from app.models.enums import DeliveryStatus
from app.outbox import EventType, event_row, record
from app.webhooks.repository import DeliveryRepository, WebhookRepository
from app.webhooks.schemas import (
    AttemptOut,
    CallOut,
    WebhookCreate,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookUpdate,
)


async def get_webhook(
    session: AsyncSession, workspace_id: UUID, webhook_id: UUID, *, for_update: bool = False
) -> Webhook:
    return await WebhookRepository(session, workspace_id).get_or_404(webhook_id, for_update=for_update)


async def create_webhook(
    session: AsyncSession, workspace_id: UUID, data: WebhookCreate, settings: Settings, secret_box: SecretBox
) -> tuple[Webhook, str]:
    url = await checked_url(data.url, settings)
    secret = generate_secret()
    webhook = Webhook(
        id=new_id(),
        url=url,
        description=data.description,
        event_types=data.event_types,
        active=data.active,
        secret_encrypted=secret_box.encrypt(secret),
    )
    return await WebhookRepository(session, workspace_id).add(webhook), secret


async def update_webhook(
    session: AsyncSession, workspace_id: UUID, webhook: Webhook, data: WebhookUpdate, settings: Settings
) -> Webhook:
    values = data.changes()
    if "url" in values and values["url"] != webhook.url:
        await checked_url(values["url"], settings)
    if values.get("active") and not webhook.active:
        values.update(disabled_reason=None, failing_since=None)
    return await WebhookRepository(session, workspace_id).update(webhook, values)


async def delete_webhook(session: AsyncSession, workspace_id: UUID, webhook: Webhook) -> None:
    await WebhookRepository(session, workspace_id).delete(webhook)


async def rotate_secret(
    session: AsyncSession, workspace_id: UUID, webhook: Webhook, settings: Settings, secret_box: SecretBox
) -> tuple[Webhook, str]:
    """A new secret; the previous one keeps signing beside it for the grace period."""
    secret = generate_secret()
    values = {
        "secret_encrypted": secret_box.encrypt(secret),
        "previous_secret_encrypted": webhook.secret_encrypted,
        "previous_secret_expires_at": utcnow() + timedelta(hours=settings.webhook.secret_grace_hours),
    }
    return await WebhookRepository(session, workspace_id).update(webhook, values), secret


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    return WebhookOut.model_validate(webhook).model_dump(mode="json")


async def send_test(session: AsyncSession, principal: Principal, webhook: Webhook) -> WebhookDelivery:
    """A `webhook.test` event delivered to this endpoint only."""
    if not webhook.active:
        raise Conflict("The webhook is disabled; activate it first", code="webhook_disabled")
    event = event_row(principal, EventType.webhook_test, webhook.id, {"webhook": webhook_json(webhook)})
    await record(session, principal, [event])
    delivery = WebhookDelivery(
        id=new_id(), webhook_id=webhook.id, event_id=event["id"], next_attempt_at=utcnow()
    )
    return await DeliveryRepository(session, principal.workspace_id).add(delivery)


async def redeliver(
    session: AsyncSession, workspace_id: UUID, webhook: Webhook, delivery_id: UUID
) -> WebhookDelivery:
    """Send the delivery's event (or call_url request) again now, whatever became of it."""
    if not webhook.active:
        raise Conflict("The webhook is disabled; activate it first", code="webhook_disabled")
    repo = DeliveryRepository(session, workspace_id)
    delivery = await repo.of_webhook(webhook.id, delivery_id, for_update=True)
    if delivery is None:
        raise NotFound("Delivery")
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = utcnow()
    delivery.completed_at = None
    delivery.locked_until = None
    await session.flush()
    return delivery


async def deliveries_page(
    session: AsyncSession, workspace_id: UUID, webhook: Webhook, page: PageParams
) -> tuple[list[WebhookDeliveryOut], str | None]:
    repo = DeliveryRepository(session, workspace_id)
    deliveries, next_cursor = await repo.page(webhook.id, page)
    return await describe_deliveries(repo, deliveries), next_cursor


async def describe_deliveries(
    repo: DeliveryRepository, deliveries: list[WebhookDelivery]
) -> list[WebhookDeliveryOut]:
    """Deliveries with their event type (or call_url request) and every attempt, read in two queries for
    the whole page."""
    types = await repo.event_types([delivery.event_id for delivery in deliveries])
    attempts: dict[UUID, list[AttemptOut]] = {delivery.id: [] for delivery in deliveries}
    for attempt in await repo.attempts_of(list(attempts)):
        attempts[attempt.delivery_id].append(AttemptOut.model_validate(attempt))
    return [
        WebhookDeliveryOut(
            id=delivery.id,
            message_id=str(delivery.event_id or delivery.id),
            event_id=delivery.event_id,
            event_type=types.get(delivery.event_id) if delivery.event_id else None,
            call=_call(delivery),
            status=delivery.status,
            attempt_count=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            completed_at=delivery.completed_at,
            attempts=attempts[delivery.id],
        )
        for delivery in deliveries
    ]


def _call(delivery: WebhookDelivery) -> CallOut | None:
    if delivery.body is None:
        return None
    return CallOut(
        actor_type=delivery.actor_type,
        actor_id=delivery.actor_id,
        ticket_id=delivery.ticket_id,
        body=delivery.body,
    )
