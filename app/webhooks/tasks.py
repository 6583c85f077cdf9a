"""The webhook operations the worker runs: fan events out to endpoints, claim what is due, send it and
record the outcome.

Each is a plain function over ids and sessions, one transaction per step, so tests call them
directly with a clock of their own.
"""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from app.auth.principal import Principal
from app.config import Settings
from app.db import Database
from app.events.feed import present
from app.kit import metrics
from app.kit.crypto import SecretBox
from app.kit.ids import new_id
from app.kit.outbound import OutboundPolicy, UnsafeDestination, safe_post
from app.kit.retry import RetrySchedule
from app.kit.signing import signature_header
from app.models import Event, Webhook
from app.models.enums import ActorType, DeliveryStatus, Role
from app.outbox import EventType, event_row, record
from app.webhooks.repository import (
    DeliveryRepository,
    WebhookRepository,
    active_webhooks,
    add_attempts,
    add_deliveries,
    end_failing_runs,
    events_after,
    fail_pending_deliveries,
    lease_deliveries,
    lock_dispatch_cursor,
    lock_due_deliveries,
    mark_succeeded,
    release_deliveries,
    rows_by_key,
)
from app.webhooks.service import webhook_json

# The waits after failed attempts (Standard Webhooks' suggestion: about 3 days in all), ±10 %; an
# endpoint's Retry-After puts the next attempt off up to a day.
RETRY_SCHEDULE = RetrySchedule(
    delays=(
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=14),
        timedelta(hours=20),
        timedelta(hours=24),
    ),
    jitter=0.1,
    max_retry_after=timedelta(hours=24),
)
RESPONSE_EXCERPT_BYTES = 2048
# Events delivered to one endpoint explicitly, never fanned out.
_NOT_FANNED_OUT = (EventType.webhook_test.value,)


# Meant for one agent each: an endpoint receives them when it names them, not with "*".
_NAMED_ONLY = (EventType.notification_created.value,)


def _subscribed(webhook: Webhook, event_type: str) -> bool:
    if event_type in webhook.event_types:
        return True
    return "*" in webhook.event_types and event_type not in _NAMED_ONLY


async def dispatch_events(db: Database, now: datetime, limit: int = 500) -> int:
    """Fan the next committed events out to the endpoints subscribed to them; the number handled.

    One worker at a time holds the cursor (others skip it), so each event is fanned out once.
    """
    async with db.sessionmaker() as session, session.begin():
        cursor = await lock_dispatch_cursor(session)
        if cursor is None:
            return 0
        events = await events_after(session, cursor, limit)
        if not events:
            return 0
        webhooks = await active_webhooks(session, {event.workspace_id for event in events})
        by_workspace: dict[UUID, list[Webhook]] = {}
        for webhook in webhooks:
            by_workspace.setdefault(webhook.workspace_id, []).append(webhook)
        deliveries = [
            {
                "workspace_id": event.workspace_id,
                "id": new_id(),
                "webhook_id": webhook.id,
                "event_id": event.id,
                "next_attempt_at": now,
            }
            for event in events
            if event.type not in _NOT_FANNED_OUT
            for webhook in by_workspace.get(event.workspace_id, [])
            if _subscribed(webhook, event.type)
        ]
        if deliveries:
            await add_deliveries(session, deliveries)
        cursor.transaction_id, cursor.event_id = events[-1].transaction_id, events[-1].id
        return len(events)


@dataclass(frozen=True)
class Claim:
    """A delivery a worker holds, with what sending it needs."""

    workspace_id: UUID
    delivery_id: UUID
    webhook_id: UUID
    url: str
    secrets: list[str]
    # Standard Webhooks' `webhook-id`: the same on every attempt, for receivers to deduplicate on.
    message_id: str
    body: str
    failed_attempts: int
    leased_until: datetime


async def claim_due(
    db: Database,
    secret_box: SecretBox,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    room: dict[UUID, int] | None = None,
    per_endpoint: int,
) -> list[Claim]:
    """Take due deliveries for a while (`lease`); a worker that dies loses them when it ends.

    At most `per_endpoint` per endpoint are taken, fewer where `room` says this worker already
    holds some, so that one slow endpoint never fills the worker.
    """
    room = room or {}
    async with db.sessionmaker() as session, session.begin():
        taken: Counter[UUID] = Counter()
        picked = []
        for row in await lock_due_deliveries(session, now, limit=limit, per_endpoint=per_endpoint):
            if taken[row.webhook_id] < room.get(row.webhook_id, per_endpoint):
                taken[row.webhook_id] += 1
                picked.append(row)
        if not picked:
            return []
        leased_until = now + lease
        await lease_deliveries(session, [(row.workspace_id, row.id) for row in picked], leased_until)
        webhooks = await rows_by_key(session, Webhook, {(row.workspace_id, row.webhook_id) for row in picked})
        event_keys = {(row.workspace_id, row.event_id) for row in picked if row.event_id is not None}
        events = await rows_by_key(session, Event, event_keys) if event_keys else {}
    return [
        _claim(
            row,
            webhooks[(row.workspace_id, row.webhook_id)],
            events.get((row.workspace_id, row.event_id)),
            secret_box,
            now,
            leased_until,
        )
        for row in picked
    ]


def _claim(
    delivery: Any,
    webhook: Any,
    event: Any | None,
    secret_box: SecretBox,
    now: datetime,
    leased_until: datetime,
) -> Claim:
    """What sending needs: an event's envelope under the event's id, or a body of its own (a call_url
    request) under the delivery's id."""
    in_use = [secret_box.decrypt(webhook.secret_encrypted)]
    if webhook.previous_secret_encrypted is not None and (webhook.previous_secret_expires_at or now) > now:
        in_use.append(secret_box.decrypt(webhook.previous_secret_encrypted))
    if event is None:
        message_id, body = delivery.id, delivery.body
    else:
        envelope = {
            "type": event.type,
            "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "data": present(event).model_dump(mode="json"),
        }
        message_id, body = event.id, json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    return Claim(
        workspace_id=delivery.workspace_id,
        delivery_id=delivery.id,
        webhook_id=webhook.id,
        url=webhook.url,
        secrets=[secret for secret in in_use if secret is not None],
        message_id=str(message_id),
        body=body,
        failed_attempts=delivery.attempts,
        leased_until=leased_until,
    )


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    response_body: str | None
    error: str | None
    retry_after: timedelta | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(
    client: httpx.AsyncClient, claim: Claim, *, now: datetime, timeout_seconds: float, policy: OutboundPolicy
) -> Outcome:
    if not claim.secrets:
        # Never send unsigned: the secret was encrypted under another HELPDESK_SECRET_KEY.
        return Outcome(None, 0, None, "the signing secret cannot be read with this HELPDESK_SECRET_KEY", None)
    headers = {
        "content-type": "application/json",
        "user-agent": "helpdesk-webhooks/1.0",
        "webhook-id": claim.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature_header(claim.secrets, claim.message_id, now, claim.body),
    }
    started = time.perf_counter()
    try:
        # httpx's timeout applies to each phase; this bounds the whole request.
        async with asyncio.timeout(timeout_seconds):
            response = await safe_post(
                client,
                claim.url,
                content=claim.body.encode(),
                headers=headers,
                timeout=timeout_seconds,
                policy=policy,
            )
    except UnsafeDestination as refused:
        return Outcome(None, _elapsed_ms(started), None, f"refused: {refused}", None)
    except (httpx.TimeoutException, TimeoutError):
        return Outcome(None, _elapsed_ms(started), None, f"no response within {timeout_seconds:g} s", None)
    except httpx.HTTPError as error:
        return Outcome(None, _elapsed_ms(started), None, f"{type(error).__name__}: {error}"[:1000], None)
    excerpt = response.content[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")
    return Outcome(response.status_code, _elapsed_ms(started), excerpt, None, _retry_after(response))


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("retry-after", "")
    return timedelta(seconds=int(value)) if value.isdigit() else None


async def record_outcome(
    db: Database, claim: Claim, outcome: Outcome, settings: Settings, now: datetime
) -> bool:
    """The attempt in the log, the delivery's next step, and the endpoint's health, in one transaction.

    True when the endpoint is now disabled: what else was claimed for it must not be sent.
    """
    async with db.sessionmaker() as session, session.begin():
        if outcome.succeeded:
            await _record_successes(session, [(claim, outcome)], now)
            return False
        delivery = await DeliveryRepository(session, claim.workspace_id).get(
            claim.delivery_id, for_update=True
        )
        webhook = await WebhookRepository(session, claim.workspace_id).get(claim.webhook_id, for_update=True)
        if delivery is None or webhook is None:  # the endpoint was deleted meanwhile
            return True
        await add_attempts(session, [_attempt_row(claim, outcome, now)])
        delivery.attempts += 1
        delivery.locked_until = None
        disable_reason = None
        if outcome.status_code == 410:
            disable_reason = "The endpoint answered 410 Gone"
        else:
            webhook.failing_since = webhook.failing_since or now
            failing_for = now - webhook.failing_since
            if failing_for >= timedelta(days=settings.webhook.disable_after_days):
                disable_reason = f"Every delivery failed for {settings.webhook.disable_after_days:g} days"
        delay = None if disable_reason else RETRY_SCHEDULE.delay_after(delivery.attempts, outcome.retry_after)
        if delay is None:
            delivery.status, delivery.completed_at, delivery.next_attempt_at = (
                DeliveryStatus.failed,
                now,
                None,
            )
        else:
            delivery.next_attempt_at = now + delay
        if disable_reason and webhook.active:
            await _disable(session, webhook, disable_reason)
        # Counted as the attempt's outcome is decided: the request was made, whether or not this commits.
        outcome_label = "disabled" if disable_reason else "failed" if delay is None else "retried"
        metrics.WEBHOOK_DELIVERIES.labels(outcome_label).inc()
        return not webhook.active


async def record_successes(db: Database, done: Sequence[tuple[Claim, Outcome]], now: datetime) -> None:
    """Successful deliveries, many in one transaction: the common case, kept cheap."""
    async with db.sessionmaker() as session, session.begin():
        await _record_successes(session, done, now)


async def _record_successes(session: Any, done: Sequence[tuple[Claim, Outcome]], now: datetime) -> None:
    delivered = await mark_succeeded(
        session, [(claim.workspace_id, claim.delivery_id) for claim, _ in done], now
    )
    # Deliveries gone with their endpoint (deleted meanwhile) have no log to write to.
    logged = [(claim, outcome) for claim, outcome in done if claim.delivery_id in delivered]
    if logged:
        await add_attempts(session, [_attempt_row(claim, outcome, now) for claim, outcome in logged])
    # A success ends its endpoint's failing run.
    await end_failing_runs(session, {(claim.workspace_id, claim.webhook_id) for claim, _ in logged})
    metrics.WEBHOOK_DELIVERIES.labels("succeeded").inc(len(logged))


def _attempt_row(claim: Claim, outcome: Outcome, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": claim.workspace_id,
        "id": new_id(),
        "delivery_id": claim.delivery_id,
        "attempted_at": now,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "response_body": outcome.response_body,
        "error": outcome.error,
    }


async def _disable(session: Any, webhook: Webhook, reason: str) -> None:
    webhook.active = False
    webhook.disabled_reason = reason
    await fail_pending_deliveries(session, webhook)
    await session.flush()
    system = Principal(webhook.workspace_id, Role.admin, ActorType.system, webhook.id)
    data = {"webhook": webhook_json(webhook), "reason": reason}
    await record(session, system, [event_row(system, EventType.webhook_disabled, webhook.id, data)])


async def release(db: Database, claims: Sequence[Claim]) -> None:
    """Give back claims a stopping worker did not send, so that others send them at once."""
    if not claims:
        return
    async with db.sessionmaker() as session, session.begin():
        await release_deliveries(session, [(claim.workspace_id, claim.delivery_id) for claim in claims])
