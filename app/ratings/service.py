"""Satisfaction ratings: the customer rates each solve of a ticket once, and may change the rating for
a while; the latest rating is kept on the ticket too, for lists and filters."""

from datetime import datetime, timedelta
from uuid import UUID

from app.errors import Conflict
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.models import Ticket, TicketRating
from app.outbox import EventType, event_row
from app.ratings.repository import RatingRepository
from app.ratings.schemas import RatingIn, RatingOut
from app.tickets.events import ticket_json
from app.tickets.service import TicketService
from app.tickets.writes import record_events

# How long after it was first given a rating may be changed.
CHANGEABLE_FOR = timedelta(days=7)


def rating_json(rating: TicketRating) -> dict[str, object]:
    return RatingOut.model_validate(rating).model_dump(mode="json")


def changeable_until(rating: TicketRating) -> datetime:
    return rating.created_at + CHANGEABLE_FOR


class RatingService:
    def __init__(self, tickets: TicketService) -> None:
        self.tickets = tickets
        self.repo = RatingRepository(tickets.session, tickets.workspace_id)

    async def current(self, ticket: Ticket) -> TicketRating | None:
        """The rating of the ticket's latest solve, if it is solved (or closed) and rated."""
        if ticket.solved_at is None:
            return None
        return await self.repo.of_solve(ticket.id, ticket.solved_at)

    async def page(self, ticket_id: UUID, page: PageParams) -> tuple[list[TicketRating], str | None]:
        await self.tickets.get(ticket_id)
        return await self.repo.page(ticket_id, page)

    async def rate(self, ticket: Ticket, data: RatingIn, now: datetime) -> tuple[TicketRating, Ticket]:
        """Rate the ticket's latest solve, or change its rating within CHANGEABLE_FOR; `ticket` is locked.
        Writes the rating on the ticket (with its history and ticket.updated) and `ticket.rated`."""
        if ticket.solved_at is None:
            raise Conflict("Only a solved ticket can be rated", code="ticket_not_solved")
        rating = await self.repo.of_solve(ticket.id, ticket.solved_at)
        if rating is None:
            rating = TicketRating(
                id=new_id(), ticket_id=ticket.id, solved_at=ticket.solved_at, created_at=now, updated_at=now
            )
            self._fill(rating, data, now)
            await self.repo.add(rating)
        elif now >= changeable_until(rating):
            raise Conflict(
                "This rating can no longer be changed",
                code="rating_locked",
                extra={"changeable_until": changeable_until(rating).isoformat()},
            )
        else:
            self._fill(rating, data, now)
            await self.tickets.session.flush()
        rated = {"rating_score": rating.score, "rating_good": rating.good, "rated_at": now}
        updated = await self.tickets.apply_changes(ticket, rated)
        event = event_row(
            self.tickets.principal,
            EventType.ticket_rated,
            ticket.id,
            {"ticket": ticket_json(updated), "rating": rating_json(rating)},
        )
        await record_events(self.tickets.session, self.tickets.principal, [event])
        return rating, updated

    @staticmethod
    def _fill(rating: TicketRating, data: RatingIn, now: datetime) -> None:
        rating.score = data.score
        rating.good = data.is_good
        rating.comment = data.comment
        rating.updated_at = now
