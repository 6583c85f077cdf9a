"""The call_url action of rules: a request with a JSON body rendered for a ticket, to one of the
workspace's webhook endpoints, signed with its secret.

The request is a delivery of its own, written in the transaction of the change that ran the rule; the
worker sends it after commit as it sends events (claims, retries, the delivery log, redelivery, the
checks against internal addresses). Any rule that acts on a ticket (a trigger, an automation) runs it.
"""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings
from app.errors import Unprocessable
from app.kit.ids import new_id
from app.kit.time import utcnow
from app.macros.capacity import AUTOMATION_WAIT_SECONDS, REQUEST_WAIT_SECONDS, render_capacity
from app.macros.rendering import SAMPLE_PLACEHOLDERS, Placeholders, render_json, substitutes_only
from app.macros.service import MacroService
from app.models import Comment, Ticket, WebhookDelivery
from app.models.enums import DeliveryStatus
from app.webhooks.repository import DeliveryRepository, WebhookRepository, add_attempts
from app.webhooks.schemas import CallUrlAction

NOT_SENT_DISABLED = "not sent: the endpoint is disabled"
# What a body reads besides a macro's placeholders: `comment.*`, the comment added by the change that
# ran the rule (empty strings when it added none); `public` is "true" or "false".
COMMENT_PLACEHOLDERS = ("id", "body", "public", "author")
SAMPLE_COMMENT = {
    "id": "00000000-0000-7000-8000-000000000001",
    "body": "Dạ em đã kiểm tra, đơn hàng đang được giao ạ.",
    "public": "true",
    "author": "agent",
}


async def check_call_url(
    session: AsyncSession, workspace_id: UUID, action: CallUrlAction, settings: Settings, *, field: str
) -> None:
    """The endpoint is the workspace's and the body renders (tried on sample data), or a 422 naming
    `{field}.webhook_id` or the string of `{field}.body` at fault."""
    if not await WebhookRepository(session, workspace_id).exists(action.webhook_id):
        raise Unprocessable(
            f"{field}.webhook_id: no such webhook", field=f"{field}.webhook_id", code="unknown_reference"
        )
    try:
        sample = {**SAMPLE_PLACEHOLDERS, "comment": SAMPLE_COMMENT}
        await _render(settings, workspace_id, REQUEST_WAIT_SECONDS, action.body, sample)
    except Unprocessable as error:
        error.field = f"{field}.{error.field}"
        error.detail = f"{field}.{error.detail}"
        raise


async def run_call_url(
    session: AsyncSession,
    settings: Settings,
    actor: Principal,
    ticket: Ticket,
    action: CallUrlAction,
    *,
    comment: Comment | None = None,
) -> WebhookDelivery:
    """Write the action's request for the ticket (and the comment the change added, if any), to be sent
    once the change commits; the delivery.

    The endpoint deleted since the rule was saved, or a body that does not render for this ticket: a
    422, which fails the rule. A disabled endpoint: the request is logged as failed without being sent,
    to be redelivered once the endpoint is active again.
    """
    webhook = await WebhookRepository(session, actor.workspace_id).get(action.webhook_id)
    if webhook is None:
        raise Unprocessable("the webhook of a call_url action was deleted", field="actions")
    context = await MacroService(session, actor, settings).placeholders_for(ticket)
    context["comment"] = _comment_placeholders(comment)
    body = await _render(settings, actor.workspace_id, AUTOMATION_WAIT_SECONDS, action.body, context)
    now = utcnow()
    delivery = WebhookDelivery(
        id=new_id(),
        webhook_id=webhook.id,
        body=body,
        ticket_id=ticket.id,
        actor_type=actor.actor_type,
        actor_id=actor.actor_id,
        next_attempt_at=now,
    )
    if not webhook.active:
        delivery.status, delivery.attempts = DeliveryStatus.failed, 1
        delivery.next_attempt_at, delivery.completed_at = None, now
    delivery = await DeliveryRepository(session, actor.workspace_id).add(delivery)
    if not webhook.active:
        not_sent = {
            "workspace_id": actor.workspace_id,
            "id": new_id(),
            "delivery_id": delivery.id,
            "attempted_at": now,
            "status_code": None,
            "duration_ms": 0,
            "response_body": None,
            "error": NOT_SENT_DISABLED,
        }
        await add_attempts(session, [not_sent])
    return delivery


def _comment_placeholders(comment: Comment | None) -> dict[str, str]:
    if comment is None:
        return dict.fromkeys(COMMENT_PLACEHOLDERS, "")
    return {
        "id": str(comment.id),
        "body": comment.body,
        "public": "true" if comment.public else "false",
        "author": comment.author_type.value,
    }


async def _render(
    settings: Settings, workspace_id: UUID, wait_seconds: float, template: Any, context: Placeholders
) -> str:
    """The body, rendered here when its strings only hold placeholders, else in a render process."""
    if substitutes_only(template):
        return render_json(template, context)
    renders = render_capacity(settings.macro)
    return await renders.run(workspace_id, wait_seconds, render_json, template, context)
