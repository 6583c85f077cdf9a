from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CustomerLink, Ticket


class CustomerLinkRepository:
    """The tokens of tickets' customer links; every statement names the workspace."""

    def __init__(self, session: AsyncSession, workspace_id: UUID) -> None:
        self.session = session
        self.workspace_id = workspace_id

    async def add(self, link: CustomerLink) -> None:
        link.workspace_id = self.workspace_id
        self.session.add(link)
        await self.session.flush()

    async def delete_of_ticket(self, ticket_id: UUID) -> int:
        """Every token of the ticket's link; how many there were."""
        result = await self.session.execute(
            delete(CustomerLink).where(
                CustomerLink.workspace_id == self.workspace_id, CustomerLink.ticket_id == ticket_id
            )
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]

    async def ticket_of(
        self, token_hash: str, *, for_update: bool = False
    ) -> tuple[CustomerLink, Ticket] | None:
        """The token stored as `token_hash`, with its ticket."""
        statement = (
            select(CustomerLink, Ticket)
            .join(
                Ticket,
                (Ticket.workspace_id == CustomerLink.workspace_id) & (Ticket.id == CustomerLink.ticket_id),
            )
            .where(CustomerLink.workspace_id == self.workspace_id, CustomerLink.token_hash == token_hash)
        )
        if for_update:
            statement = statement.with_for_update(of=Ticket)
        row = (await self.session.execute(statement)).first()
        return None if row is None else (row[0], row[1])
