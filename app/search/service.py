"""Search across a workspace: tickets (their conversation included), comments, contacts, organizations."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import Forbidden, Unprocessable
from app.kit.pagination import PageParams
from app.kit.search import TextQuery, highlight, parse_query
from app.models import Comment, Contact, Organization, Ticket
from app.models.enums import Permission, Scope
from app.search.repository import (
    NEWEST_COMMENTS,
    NEWEST_CONTACTS,
    NEWEST_ORGANIZATIONS,
    NEWEST_TICKETS,
    SearchRepository,
)
from app.search.schemas import SearchHit, SearchType, TagCountOut


class SearchService:
    def __init__(self, session: AsyncSession, principal: Principal, phone_region: str) -> None:
        self.principal = principal
        self.phone_region = phone_region
        self.repo = SearchRepository(session, principal)

    async def search(self, q: str, type: SearchType, page: PageParams) -> tuple[list[SearchHit], str | None]:
        query = parse_query(q, self.phone_region)
        if not query.terms:
            raise Unprocessable("q: give at least one word to look for", field="q", code="invalid_query")
        if type in ("contacts", "organizations"):
            self._check_contacts_access()
        await self.repo.plan_serially()
        if type == "tickets":
            tiers, walked = await self.repo.ticket_tiers(query)
            found, cursor = await self.repo.tiered(tiers, NEWEST_TICKETS, page.cursor, page.limit, walked)
            return await self._ticket_hits(found, query), cursor
        if type == "comments":
            found, cursor = await self.repo.tiered(
                self.repo.comment_tiers(query), NEWEST_COMMENTS, page.cursor, page.limit
            )
            return await self._comment_hits(found, query), cursor
        if type == "contacts":
            found, cursor = await self.repo.tiered(
                self.repo.contact_tiers(query), NEWEST_CONTACTS, page.cursor, page.limit
            )
            return [_contact_hit(tier, contact, query) for tier, contact in found], cursor
        found, cursor = await self.repo.tiered(
            self.repo.organization_tiers(query), NEWEST_ORGANIZATIONS, page.cursor, page.limit
        )
        return [_organization_hit(tier, organization, query) for tier, organization in found], cursor

    async def tags(self, prefix: str, limit: int) -> list[TagCountOut]:
        return [
            TagCountOut(tag=tag, tickets=tickets)
            for tag, tickets in await self.repo.tag_counts(prefix, limit)
        ]

    def _check_contacts_access(self) -> None:
        """Contacts and organizations are found as their own API lists them: with its scope and permission."""
        permissions = self.principal.permissions
        if permissions is not None and Permission.contacts_access not in permissions:
            raise Forbidden(
                "The agent's role lacks the contacts.access permission",
                code="insufficient_permission",
                extra={"permission": Permission.contacts_access.value},
            )
        if not self.principal.may(Scope.contacts_read):
            raise Forbidden(
                "This API key lacks the contacts:read scope",
                code="insufficient_scope",
                extra={"scope": Scope.contacts_read.value},
            )

    async def _ticket_hits(self, found: list[tuple[int, Ticket]], query: TextQuery) -> list[SearchHit]:
        marks = _marks(query)
        in_text = {ticket.id: _where_in_ticket(ticket, marks) for _, ticket in found}
        comments = await self.repo.latest_matching_comments(
            [ticket_id for ticket_id, where in in_text.items() if where is None], query
        )
        hits = []
        for tier, ticket in found:
            matched_in, comment_id, excerpt = in_text[ticket.id] or (None, None, None)
            if matched_in is None:
                comment = comments.get(ticket.id)
                if comment is not None:
                    matched_in, comment_id, excerpt = "comment", comment.id, highlight(comment.body, marks)
                else:
                    matched_in = "number" if ticket.number == query.number else "requester"
            hits.append(
                SearchHit(
                    type="tickets",
                    id=ticket.id,
                    ticket_id=ticket.id,
                    number=ticket.number,
                    title=ticket.subject,
                    status_kind=ticket.status_kind,
                    matched_in=matched_in,
                    comment_id=comment_id,
                    highlight=excerpt,
                    exact=tier == 0,
                    updated_at=ticket.updated_at,
                )
            )
        return hits

    async def _comment_hits(self, found: list[tuple[int, Comment]], query: TextQuery) -> list[SearchHit]:
        tickets = await self.repo.tickets_by_id(list({comment.ticket_id for _, comment in found}))
        marks = _marks(query)
        return [
            SearchHit(
                type="comments",
                id=comment.id,
                ticket_id=comment.ticket_id,
                number=tickets[comment.ticket_id].number,
                title=tickets[comment.ticket_id].subject,
                public=comment.public,
                matched_in="comment",
                comment_id=comment.id,
                highlight=highlight(comment.body, marks),
                exact=tier == 0,
                updated_at=comment.created_at,
            )
            for tier, comment in found
        ]


def _marks(query: TextQuery) -> list[str]:
    """What to highlight: the phrase of all the words, else each word."""
    return [query.phrase, *query.terms]


def _where_in_ticket(ticket: Ticket, marks: list[str]) -> tuple[Any, None, str] | None:
    for name, text in (("subject", ticket.subject), ("description", ticket.description)):
        excerpt = highlight(text, marks) if text else None
        if excerpt is not None:
            return name, None, excerpt
    return None


def _contact_hit(tier: int, contact: Contact, query: TextQuery) -> SearchHit:
    marks = _marks(query)
    matched_in, excerpt = "name", None
    for name, text in (("name", contact.name), ("email", contact.email), ("phone", contact.phone)):
        excerpt = highlight(text, marks) if text else None
        if excerpt is not None:
            matched_in = name
            break
    return SearchHit(
        type="contacts",
        id=contact.id,
        title=contact.name,
        matched_in=matched_in,
        highlight=excerpt,
        exact=tier == 0,
        updated_at=contact.updated_at,
    )


def _organization_hit(tier: int, organization: Organization, query: TextQuery) -> SearchHit:
    return SearchHit(
        type="organizations",
        id=organization.id,
        title=organization.name,
        matched_in="name",
        highlight=highlight(organization.name, _marks(query)),
        exact=tier == 0,
        updated_at=organization.updated_at,
    )
