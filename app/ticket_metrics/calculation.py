"""A ticket's metrics, worked out from the change about to be written and the ticket in hand.

Nothing is read from the database: the ticket's row carries what the next change needs (since when
its status kind holds, since when a customer waits for a reply), and the metrics go into the change's
own statement. Each time is counted twice: in calendar seconds, and in business seconds of the
ticket's calendar, which stay null when there is none (or when the ticket's past is not known in
business time, for tickets older than the metrics).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from app.calendars.business_time import Calendar, business_seconds_between
from app.models import Ticket
from app.models.enums import CommentAuthor, StatusKind
from app.rules.snapshot import Rules
from app.tickets.changes import columns_of

RESOLVED = (StatusKind.solved, StatusKind.closed)
# Whose turn it is while the ticket is in a status of this kind: the agent waits for the customer in
# pending; the customer waits for the service in new, open and on-hold (solved and closed count for none).
AGENT_WAITS = frozenset({StatusKind.pending})
REQUESTER_WAITS = frozenset({StatusKind.new, StatusKind.open, StatusKind.on_hold})


def calendar_for(rules: Rules, sla_policy_id: UUID | None) -> Calendar | None:
    """The SLA policy's calendar when the ticket has one, else the workspace's default (its first)."""
    policy = rules.policies.get(sla_policy_id) if sla_policy_id is not None else None
    if policy is not None and policy.calendar_id is not None and policy.calendar_id in rules.calendars:
        return rules.calendars[policy.calendar_id]
    return rules.default_calendar


def _seconds(start: datetime, end: datetime) -> int:
    return max(round((end - start).total_seconds()), 0)


def _business(calendar: Calendar | None, start: datetime, end: datetime) -> int | None:
    return None if calendar is None else round(business_seconds_between(calendar, start, end))


def _plus(total: int | None, more: int | None) -> int | None:
    """A business total stays unknown once a part of it is."""
    return None if total is None or more is None else total + more


def at_creation(values: Mapping[str, Any], now: datetime, calendar: Calendar | None) -> dict[str, Any]:
    """The metrics a new ticket starts with (its counters start at 0 in the database)."""
    business_zero = None if calendar is None else 0
    resolved = values["status_kind"] in RESOLVED
    return {
        "status_kind_changed_at": now,
        "awaiting_reply_since": None if resolved else now,
        "first_reply_seconds": None,
        "first_reply_business_seconds": None,
        "next_reply_business_seconds": business_zero,
        "resolution_seconds": 0 if resolved else None,
        "resolution_business_seconds": business_zero if resolved else None,
        "agent_wait_business_seconds": business_zero,
        "requester_wait_business_seconds": business_zero,
    }


def on_change(
    ticket: Ticket, changed: Mapping[str, Any], now: datetime, calendar: Calendar | None
) -> dict[str, Any]:
    """The metric columns that change with `changed` (a change about to be written to `ticket`)."""
    metrics: dict[str, Any] = {}
    old_kind: StatusKind = ticket.status_kind
    new_kind: StatusKind = changed.get("status_kind", old_kind)
    if new_kind != old_kind:
        metrics |= _status_moved(ticket, old_kind, new_kind, now, calendar)
    if "last_public_comment_at" in changed:
        metrics |= _public_comment(ticket, changed.get("last_public_comment_by"), now, calendar)
    return metrics


def _status_moved(
    ticket: Ticket, old: StatusKind, new: StatusKind, now: datetime, calendar: Calendar | None
) -> dict[str, Any]:
    metrics: dict[str, Any] = {"status_kind_changed_at": now}
    since = ticket.status_kind_changed_at
    if since is not None:
        for kinds, name in ((AGENT_WAITS, "agent_wait"), (REQUESTER_WAITS, "requester_wait")):
            if old in kinds:
                metrics[f"{name}_seconds"] = getattr(ticket, f"{name}_seconds") + _seconds(since, now)
                metrics[f"{name}_business_seconds"] = _plus(
                    getattr(ticket, f"{name}_business_seconds"), _business(calendar, since, now)
                )
    if new in RESOLVED and old not in RESOLVED:
        # Created to last solved: each solve counts from the creation again.
        metrics["resolution_seconds"] = _seconds(ticket.created_at, now)
        metrics["resolution_business_seconds"] = _business(calendar, ticket.created_at, now)
        metrics["awaiting_reply_since"] = None
    elif old in RESOLVED and new not in RESOLVED:
        # Unresolved again: no resolution time until the next solve.
        metrics |= {"reopens": ticket.reopens + 1, "resolution_seconds": None}
        metrics["resolution_business_seconds"] = None
    return metrics


def _public_comment(
    ticket: Ticket, author: CommentAuthor | None, now: datetime, calendar: Calendar | None
) -> dict[str, Any]:
    if author is CommentAuthor.contact:
        # The first unanswered message is where the customer's wait starts.
        return {} if ticket.awaiting_reply_since is not None else {"awaiting_reply_since": now}
    if author is not CommentAuthor.agent:
        return {}
    metrics: dict[str, Any] = {"agent_replies": ticket.agent_replies + 1, "awaiting_reply_since": None}
    since = ticket.awaiting_reply_since
    if since is None:
        return metrics  # a second reply to the same message, or one nobody asked for: no reply time
    seconds, business = _seconds(since, now), _business(calendar, since, now)
    if ticket.first_reply_seconds is None and ticket.agent_replies == 0:
        metrics |= {"first_reply_seconds": seconds, "first_reply_business_seconds": business}
    else:
        metrics |= {
            "next_reply_count": ticket.next_reply_count + 1,
            "next_reply_seconds": ticket.next_reply_seconds + seconds,
            "next_reply_business_seconds": _plus(ticket.next_reply_business_seconds, business),
        }
    return metrics


def current(ticket: Ticket, now: datetime, calendar: Calendar | None) -> dict[str, Any]:
    """The ticket's metrics as of `now`: the waits with the status period still running."""
    values = columns_of(ticket)
    since = ticket.status_kind_changed_at
    if since is not None and ticket.deleted_at is None:
        for kinds, name in ((AGENT_WAITS, "agent_wait"), (REQUESTER_WAITS, "requester_wait")):
            if ticket.status_kind in kinds:
                values[f"{name}_seconds"] += _seconds(since, now)
                values[f"{name}_business_seconds"] = _plus(
                    values[f"{name}_business_seconds"], _business(calendar, since, now)
                )
    return values
