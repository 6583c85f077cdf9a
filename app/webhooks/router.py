from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from app.api.deps import Admin, Session
from app.api.routing import UnitOfWorkRoute
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.webhooks import service
from app.webhooks.repository import BY_CREATION, DeliveryRepository, WebhookRepository
from app.webhooks.schemas import (
    WebhookCreate,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/v1/webhooks", tags=["Webhooks"], route_class=UnitOfWorkRoute)


def _with_secret(webhook, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret.model_validate({**service.webhook_json(webhook), "secret": secret})


@router.get("", response_model=Page[WebhookOut])
async def list_webhooks(session: Session, principal: Admin, page: PageQuery) -> Page[WebhookOut]:
    repo = WebhookRepository(session, principal.workspace_id)
    items, next_cursor = await repo.paginate(repo.select(), BY_CREATION, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post("", response_model=WebhookWithSecret, status_code=status.HTTP_201_CREATED)
async def create_webhook(
    data: WebhookCreate, request: Request, session: Session, principal: Admin, response: Response
) -> WebhookWithSecret:
    """Subscribe an endpoint to events. Its signing secret is in this response only."""
    app_state = request.app.state
    webhook, secret = await service.create_webhook(
        session, principal.workspace_id, data, app_state.settings, app_state.secret_box
    )
    set_etag(response, webhook.version)
    return _with_secret(webhook, secret)


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: UUID, session: Session, principal: Admin, response: Response):
    webhook = await service.get_webhook(session, principal.workspace_id, webhook_id)
    set_etag(response, webhook.version)
    return webhook


@router.patch("/{webhook_id}", response_model=WebhookOut)
async def update_webhook(
    webhook_id: UUID,
    data: WebhookUpdate,
    request: Request,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    webhook = await service.get_webhook(session, principal.workspace_id, webhook_id, for_update=True)
    check_if_match(if_match, webhook.version)
    updated = await service.update_webhook(
        session, principal.workspace_id, webhook, data, request.app.state.settings
    )
    set_etag(response, updated.version)
    return updated


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(
    webhook_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    """Stop delivering to the endpoint at once; its delivery log goes with it."""
    webhook = await service.get_webhook(session, principal.workspace_id, webhook_id, for_update=True)
    check_if_match(if_match, webhook.version)
    await service.delete_webhook(session, principal.workspace_id, webhook)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret)
async def rotate_webhook_secret(
    webhook_id: UUID, request: Request, session: Session, principal: Admin
) -> WebhookWithSecret:
    """A new signing secret, shown once; the previous one keeps signing beside it for 24 hours."""
    app_state = request.app.state
    webhook = await service.get_webhook(session, principal.workspace_id, webhook_id, for_update=True)
    rotated, secret = await service.rotate_secret(
        session, principal.workspace_id, webhook, app_state.settings, app_state.secret_box
    )
    return _with_secret(rotated, secret)


@router.post("/{webhook_id}/test", response_model=WebhookDeliveryOut, status_code=status.HTTP_202_ACCEPTED)
async def test_webhook(webhook_id: UUID, session: Session, principal: Admin) -> WebhookDeliveryOut:
    """Send a `webhook.test` event to this endpoint; follow it in the delivery log."""
    webhook = await service.get_webhook(session, principal.workspace_id, webhook_id)
    delivery = await service.send_test(session, principal, webhook)
    [described] = await service.describe_deliveries(
        DeliveryRepository(session, principal.workspace_id), [delivery]
    )
    return described


@router.get("/{webhook_id}/deliveries", response_model=Page[WebhookDeliveryOut])
async def list_webhook_deliveries(
    webhook_id: UUID, session: Session, principal: Admin, page: PageQuery
) -> Page[WebhookDeliveryOut]:
    """The delivery log, newest first: each delivery with every attempt (time, status code, duration,
    the first 2 KB of the response, error). Kept as long as events (HELPDESK_EVENT_RETENTION_DAYS), rules'
    call_url requests too."""
    webhook = await service.get_webhook(session, principal.workspace_id, webhook_id)
    items, next_cursor = await service.deliveries_page(session, principal.workspace_id, webhook, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=WebhookDeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
)
async def redeliver_webhook_delivery(
    webhook_id: UUID, delivery_id: UUID, session: Session, principal: Admin
) -> WebhookDeliveryOut:
    """Send the delivery's event or call_url request again now (with the same `webhook-id`)."""
    webhook = await service.get_webhook(session, principal.workspace_id, webhook_id)
    delivery = await service.redeliver(session, principal.workspace_id, webhook, delivery_id)
    [described] = await service.describe_deliveries(
        DeliveryRepository(session, principal.workspace_id), [delivery]
    )
    return described
