"""A contact's list of their own tickets, without an account: they give their email address, a link is
sent to it, and the link, used once and soon, gives a session that lists their tickets.

Whether the address belongs to a contact is never told: the request is answered the same way either
way, and only a contact's address is sent a link. The link's token is made by the worker as it sends
the mail (app/portal/tasks.py), so that no token is ever stored but as its hash; the session's token is
stored as its hash too.
"""

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.contacts.repository import IdentityRepository
from app.customer_links.service import issue_link, link_url
from app.errors import NotFound
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.time import utcnow
from app.kit.tokens import new_token, read_token
from app.models import PortalToken, Ticket
from app.models.enums import IdentityKind, PortalTokenKind
from app.portal.repository import PortalTokenRepository
from app.portal.schemas import MyTicketLinkOut, MyTicketOut, PortalSessionOut
from app.portal.service import customer_principal

ACCESS_PATH = "/my/"


def access_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url}{ACCESS_PATH}{token}"


class AccessService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def request(self, workspace_id: UUID, email: str, *, now: datetime | None = None) -> None:
        """Queue a link to the contact with this (normalised) address, if the workspace has one; the
        worker sends it through the workspace's email channel."""
        contact_id = await IdentityRepository(self.session, workspace_id).owner(IdentityKind.email, email)
        if contact_id is None:
            return
        moment = now or utcnow()
        await PortalTokenRepository(self.session, workspace_id).add(
            PortalToken(
                id=new_id(),
                contact_id=contact_id,
                kind=PortalTokenKind.magic_link,
                created_at=moment,
                expires_at=moment + timedelta(minutes=self.settings.portal.access_link_minutes),
                next_attempt_at=moment,
            )
        )

    async def open_session(self, token: str, *, now: datetime | None = None) -> PortalSessionOut:
        """A session for the link's contact; the link is then used up. NotFound for a link unknown,
        used, or expired (all alike)."""
        read = read_token(token)
        if read is None:
            raise NotFound("Link")
        workspace_id, token_hash = read
        moment = now or utcnow()
        repo = PortalTokenRepository(self.session, workspace_id)
        contact_id = await repo.use_access_link(token_hash, moment)
        if contact_id is None:
            raise NotFound("Link")
        session_token = new_token(workspace_id)
        expires_at = moment + timedelta(minutes=self.settings.portal.session_minutes)
        await repo.add(
            PortalToken(
                id=new_id(),
                contact_id=contact_id,
                kind=PortalTokenKind.session,
                token_hash=read_token(session_token)[1],  # type: ignore[index]
                created_at=moment,
                expires_at=expires_at,
            )
        )
        return PortalSessionOut(session_token=session_token, expires_at=expires_at)

    async def tickets(
        self, session_token: str, page: PageParams, *, now: datetime | None = None
    ) -> tuple[list[MyTicketOut], str | None]:
        """The session's contact's tickets, newest first."""
        repo, contact_id = await self._session(session_token, now)
        tickets, next_cursor = await repo.tickets_page(contact_id, page)
        return [_my_ticket(ticket) for ticket in tickets], next_cursor

    async def open_ticket(
        self, session_token: str, number: int, *, now: datetime | None = None
    ) -> MyTicketLinkOut:
        """A new token of the link of one of the session's contact's tickets, to open it with."""
        repo, contact_id = await self._session(session_token, now)
        ticket = await repo.ticket_of(contact_id, number, for_update=True)
        if ticket is None:
            raise NotFound("Ticket")
        principal = customer_principal(ticket.workspace_id, contact_id)
        token = await issue_link(self.session, self.settings.portal, principal, ticket, replace=False)
        return MyTicketLinkOut(url=link_url(self.settings.portal, token), token=token)

    async def _session(self, session_token: str, now: datetime | None) -> tuple[PortalTokenRepository, UUID]:
        read = read_token(session_token)
        if read is None:
            raise NotFound("Session")
        workspace_id, token_hash = read
        repo = PortalTokenRepository(self.session, workspace_id)
        contact_id = await repo.session_contact(token_hash, now or utcnow())
        if contact_id is None:
            raise NotFound("Session")
        return repo, contact_id


def _my_ticket(ticket: Ticket) -> MyTicketOut:
    return MyTicketOut(
        number=ticket.number,
        subject=ticket.subject,
        status_kind=ticket.status_kind,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
    )
