"""Customer links: what opens one ticket's public thread to its customer, without an account.

A link is a bearer token (app/kit/tokens.py: 256 random bits), stored only as its SHA-256 and looked up
by it, so that the database never holds what opens a ticket. Because the token cannot be read back,
each public reply that carries the link (an email, a macro's `{{ ticket.customer_url }}`) carries a
token of its own; revoking the link deletes every token of the ticket at once, and issuing it again
leaves one new token. A link opens its ticket only while the ticket is neither deleted nor internal,
and until `HELPDESK_PORTAL_LINK_DAYS_AFTER_CLOSE` after it closed.
"""

import hmac
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PortalSettings
from app.customer_links.repository import CustomerLinkRepository
from app.errors import Conflict, Gone, NotFound
from app.kit.ids import new_id
from app.kit.time import utcnow
from app.kit.tokens import new_token, read_token
from app.models import CustomerLink, Ticket
from app.outbox import Actor

LINK_PATH = "/t/"


def link_url(settings: PortalSettings, token: str) -> str:
    """The page a customer opens the ticket at."""
    return f"{settings.public_base_url}{LINK_PATH}{token}"


def linkable(ticket: Ticket) -> bool:
    """Whether the ticket's customer may be given a link to it."""
    return ticket.deleted_at is None and not ticket.internal and ticket.requester_id is not None


def refuse_unlinkable(ticket: Ticket) -> None:
    """A ticket a customer may not be shown: deleted, opened for colleagues, or without a requester."""
    if ticket.deleted_at is not None:
        raise Conflict("The ticket is deleted; restore it first", code="ticket_deleted")
    if ticket.internal:
        raise Conflict("An internal ticket is never shown to a customer", code="ticket_internal")
    if ticket.requester_id is None:
        raise Conflict("The ticket has no requester to open it to", code="ticket_without_requester")


async def issue_link(
    session: AsyncSession, settings: PortalSettings, actor: Actor, ticket: Ticket, *, replace: bool
) -> str:
    """A new token of the ticket's link. `replace`: the tokens handed out before stop
    opening the ticket (a link issued again); otherwise they keep working (a reply carrying the link)."""
    refuse_unlinkable(ticket)
    repo = CustomerLinkRepository(session, ticket.workspace_id)
    if replace:
        await repo.delete_of_ticket(ticket.id)
    token = new_token(ticket.workspace_id)
    token_hash = read_token(token)[1]  # type: ignore[index]
    await repo.add(
        CustomerLink(
            id=new_id(),
            ticket_id=ticket.id,
            token_hash=token_hash,
            created_by_type=actor.actor_type,
            created_by_id=actor.actor_id,
            created_at=utcnow(),
        )
    )
    return token


async def revoke_link(session: AsyncSession, ticket: Ticket) -> None:
    """No token of the ticket's link opens it any more, from this transaction's commit on."""
    await CustomerLinkRepository(session, ticket.workspace_id).delete_of_ticket(ticket.id)


async def ticket_of_link(
    session: AsyncSession,
    settings: PortalSettings,
    token: str,
    *,
    for_update: bool = False,
    now: datetime | None = None,
) -> Ticket:
    """The ticket `token` opens. NotFound for a token unknown, revoked, of a deleted or internal ticket
    (all alike: nothing tells them apart); Gone once the link expired after the ticket closed."""
    read = read_token(token)
    if read is None:
        raise NotFound("Ticket")
    workspace_id, token_hash = read
    found = await CustomerLinkRepository(session, workspace_id).ticket_of(token_hash, for_update=for_update)
    # The index found the row by its hash; compared again in constant time all the same.
    if found is None or not hmac.compare_digest(found[0].token_hash, token_hash):
        raise NotFound("Ticket")
    ticket = found[1]
    if ticket.deleted_at is not None or ticket.internal:
        raise NotFound("Ticket")
    expires = link_expires_at(settings, ticket)
    if expires is not None and (now or utcnow()) >= expires:
        raise Gone("The link expired: ask for a new one", code="link_expired")
    return ticket


def link_expires_at(settings: PortalSettings, ticket: Ticket) -> datetime | None:
    """When the ticket's link stops opening it: a while after it closed; never while it is not closed."""
    if ticket.closed_at is None:
        return None
    return ticket.closed_at + timedelta(days=settings.link_days_after_close)
