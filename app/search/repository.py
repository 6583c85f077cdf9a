"""Every query of search: the matches of one tier at a time, newest first, and what tickets matched in."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    CompoundSelect,
    Select,
    Uuid,
    and_,
    any_,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import BadRequest
from app.kit.pagination import Keyset, SortColumn, decode_cursor, encode_cursor
from app.kit.search import TextQuery, like_pattern
from app.models import Comment, Contact, Organization, TagCount, Ticket, tag_count_changes
from app.tickets.repository import RARE_ROWS, TicketRepository

NEWEST_TICKETS = Keyset(
    "tickets", [SortColumn(Ticket.updated_at, descending=True), SortColumn(Ticket.id, descending=True)]
)
# How many tickets a page of a walked tier of search reads at most (see SearchRepository.tiered).
WALK_TICKETS = 1_000
# How many candidates a tier looked up by index may have; past that it is walked.
LOOKED_UP_IDS = 20_000
NEWEST_COMMENTS = Keyset("comments", [SortColumn(Comment.id, descending=True)])
NEWEST_CONTACTS = Keyset(
    "contacts", [SortColumn(Contact.updated_at, descending=True), SortColumn(Contact.id, descending=True)]
)
NEWEST_ORGANIZATIONS = Keyset(
    "organizations",
    [SortColumn(Organization.updated_at, descending=True), SortColumn(Organization.id, descending=True)],
)
# Each search reads three tiers in turn: the query as typed (when typed with accents; otherwise only what
# names a ticket or a contact); its words side by side, accents aside; all its words anywhere.


def _exact(query: TextQuery) -> str:
    return like_pattern(query.typed)


def _not(condition: Any) -> Any:
    """Not in a tier before: false, or unknown where a NULL column made the condition so."""
    return condition.is_not(true())


def _all_terms(column: Any, query: TextQuery) -> Any:
    return and_(*(column.like(like_pattern(term)) for term in query.terms))


class SearchRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.workspace_id = principal.workspace_id
        self.tickets = TicketRepository(session, principal.workspace_id)

    async def plan_serially(self) -> None:
        """No parallel workers for the rest of the transaction. Each statement of a search reads by index
        or walks a bounded window, a few thousand rows at most; starting workers for one costs more than
        they save, and PostgreSQL plans them where an estimate is far off (the requester branch of the
        candidates when few tickets have a requester: a rare phrase's candidates among a million tickets
        took 23 to 26 ms with two workers, 6 ms without)."""
        await self.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))

    async def tiered(
        self,
        tiers: Sequence[Select[Any]],
        keyset: Keyset,
        cursor: str | None,
        limit: int,
        walked: frozenset[int] = frozenset(),
    ) -> tuple[list[tuple[int, Any]], str | None]:
        """The page of matches: each tier newest first by its index, the next tier only once one is
        exhausted, so no page sorts all matches; the cursor says the tier and where in it.

        A tier in `walked` (of tickets, its matches too many to look up by index) is read at most
        WALK_TICKETS tickets a page: when they hold fewer matches than the page wants, the page ends
        there, shorter (even empty), with a cursor from the last ticket read. A sparse tier so takes a
        few short requests, never one that reads every ticket of the workspace."""
        start, inner = 0, None
        if cursor is not None:
            start, inner = decode_cursor(cursor, f"search:{keyset.name}", 2)
            if type(start) is not int or not 0 <= start < len(tiers) or not isinstance(inner, str | None):
                raise BadRequest("The cursor is not valid", field="cursor", code="invalid_cursor")
        found: list[tuple[int, Any]] = []
        for tier in range(start, len(tiers)):
            after = inner if tier == start else None
            statement = tiers[tier]
            walk_end = await self._walk_end(keyset, after) if tier in walked else None
            if walk_end is not None:
                statement = statement.where(keyset.through(walk_end))
            wanted = limit - len(found)
            if wanted == 0:
                more = walk_end is not None or await self.session.scalar(select(exists(statement)))
                return found, encode_cursor(f"search:{keyset.name}", [tier, None]) if more else None
            rows = (await self.session.execute(keyset.apply(statement, after, wanted))).scalars().all()
            page, following = keyset.page(rows, wanted)
            found.extend((tier, row) for row in page)
            if following is None and walk_end is not None:
                following = keyset.cursor(walk_end)
            if following is not None:
                return found, encode_cursor(f"search:{keyset.name}", [tier, following])
        return found, None

    async def _walk_end(self, keyset: Keyset, after: str | None) -> list[Any] | None:
        """Where a walk from `after` ends after WALK_TICKETS of the workspace's tickets (read from the
        index in the walk's order alone), or None when fewer are left."""
        columns = [column.attribute for column in keyset.columns]
        statement = keyset.apply(select(*columns).where(Ticket.workspace_id == self.workspace_id), after, 0)
        row = (await self.session.execute(statement.offset(WALK_TICKETS - 1))).first()
        return None if row is None else list(row)

    async def ticket_tiers(self, query: TextQuery) -> tuple[list[Select[Any]], frozenset[int]]:
        """The three tiers of tickets, and which of them are walked. A tier with few matches (fewer than
        RARE_ROWS, counted by index and no further) is looked up by index; a dense one is walked newest
        first by the index on `updated_at`, checking each ticket, and a page comes after a few hundred of
        them."""
        principal = self.principal
        visible = self.tickets.visible(principal).where(Ticket.deleted_at.is_(None))
        phrase_pattern = like_pattern(query.phrase)
        exact_pattern = _exact(query)
        exact = self.tickets.naming(query)
        if query.accented:
            exact = or_(exact, self.tickets.containing(principal, phrase_pattern, exact=exact_pattern))
        adjacent = self.tickets.containing(principal, phrase_pattern)
        # One term found in the text is found side by side: what is left are the requester's matches.
        if len(query.terms) > 1:
            anywhere = self.tickets.matching(principal, query)
        else:
            anywhere = self.tickets.requester_holding(query)
        tiers = [visible.where(exact), visible.where(adjacent, _not(exact))]
        before = and_(_not(adjacent), _not(exact))
        # A tier whose matches are few is looked up by index; a dense one is walked newest first. The
        # exact matches are among those of the phrase, so they are counted only when the phrase is common.
        # A tier that only names tickets or contacts (a number, an email, a phone) is looked up by index.
        walked = set()
        among_phrase = None
        if await self.tickets.rows_holding(query.phrase) < RARE_ROWS:
            among_phrase = await self._among(self.tickets.candidates(principal, query, query.phrase))
        if among_phrase is not None:
            tiers[0] = tiers[0].where(among_phrase)
            tiers[1] = tiers[1].where(among_phrase)
            # A ticket among none of the phrase's candidates is in neither tier before, told by its id
            # alone: only the candidates have their comments read again.
            before = or_(not_(among_phrase), before)
        else:
            walked.add(1)
            if query.accented:
                exact_ids = self.tickets.candidates(principal, query, query.phrase, exact=exact_pattern)
                exact_found = None
                if await self.tickets.estimated_rows(select(exact_ids.subquery())) < RARE_ROWS:
                    exact_found = await self._among(exact_ids)
                if exact_found is not None:
                    tiers[0] = tiers[0].where(exact_found)
                else:
                    walked.add(0)
        tiers.append(visible.where(anywhere, before))
        rare_term = await self.tickets.rare_term(query) if len(query.terms) > 1 else None
        rare = None
        if rare_term is not None:
            rare = await self._among(self.tickets.candidates(principal, query, rare_term))
        if rare is not None:
            tiers[2] = tiers[2].where(rare)
        elif len(query.terms) > 1:
            walked.add(2)
        return tiers, frozenset(walked)

    async def _among(self, candidates: CompoundSelect) -> Any | None:
        """The condition that a ticket is one of the candidates, whose ids are read first (by index), or
        None when there are more than LOOKED_UP_IDS: their tier is walked instead. With the ids in hand,
        PostgreSQL looks the tier's tickets up by their key; with the candidates as a subquery, it may
        instead walk the workspace's tickets expecting to meet one soon, and read all of them when the
        tier holds none."""
        found = candidates.subquery()
        ids = (await self.session.scalars(select(found.c.id).distinct().limit(LOOKED_UP_IDS + 1))).all()
        if len(ids) > LOOKED_UP_IDS:
            return None
        return Ticket.id == any_(literal(list(ids), ARRAY(Uuid)))

    def comment_tiers(self, query: TextQuery) -> list[Select[Any]]:
        visible_tickets = (
            self.tickets.visible(self.principal)
            .where(Ticket.deleted_at.is_(None), Ticket.id == Comment.ticket_id)
            .with_only_columns(literal(1))
        )
        base = select(Comment).where(Comment.workspace_id == self.workspace_id, exists(visible_tickets))
        if not self.principal.sees_internal_notes:
            base = base.where(Comment.public)
        adjacent = Comment.search_text.like(like_pattern(query.phrase))
        exact = and_(adjacent, Comment.body.ilike(_exact(query))) if query.accented else false()
        return [
            base.where(exact),
            base.where(adjacent, _not(exact)),
            base.where(_all_terms(Comment.search_text, query), _not(adjacent)),
        ]

    def contact_tiers(self, query: TextQuery) -> list[Select[Any]]:
        base = select(Contact).where(Contact.workspace_id == self.workspace_id)
        adjacent = Contact.search_text.like(like_pattern(query.phrase))
        named = [Contact.name.ilike(_exact(query))]
        for column, value in ((Contact.email, query.email), (Contact.phone, query.phone)):
            if value is not None:
                named.append(column == value)
        if query.reference is not None:
            named.append(Contact.external_id == query.reference)
        exact = or_(*named)
        return [
            base.where(exact),
            base.where(adjacent, _not(exact)),
            base.where(_all_terms(Contact.search_text, query), _not(adjacent), _not(exact)),
        ]

    def organization_tiers(self, query: TextQuery) -> list[Select[Any]]:
        base = select(Organization).where(Organization.workspace_id == self.workspace_id)
        adjacent = Organization.search_text.like(like_pattern(query.phrase))
        exact = Organization.name.ilike(_exact(query))
        return [
            base.where(exact),
            base.where(adjacent, _not(exact)),
            base.where(_all_terms(Organization.search_text, query), _not(adjacent), _not(exact)),
        ]

    async def latest_matching_comments(
        self, ticket_ids: Sequence[UUID], query: TextQuery
    ) -> dict[UUID, Comment]:
        """For each ticket, its newest comment the caller may read holding the phrase, else one term."""
        if not ticket_ids:
            return {}
        patterns = [like_pattern(query.phrase), *(like_pattern(term) for term in query.terms)]
        statement = (
            select(Comment)
            .where(
                Comment.workspace_id == self.workspace_id,
                Comment.ticket_id.in_(ticket_ids),
                or_(*(Comment.search_text.like(pattern) for pattern in patterns)),
            )
            .order_by(
                Comment.ticket_id,
                Comment.search_text.like(patterns[0]).desc(),
                Comment.id.desc(),
            )
            .ext(distinct_on(Comment.ticket_id))
        )
        if not self.principal.sees_internal_notes:
            statement = statement.where(Comment.public)
        return {comment.ticket_id: comment for comment in (await self.session.execute(statement)).scalars()}

    async def tickets_by_id(self, ticket_ids: Sequence[UUID]) -> dict[UUID, Ticket]:
        if not ticket_ids:
            return {}
        statement = select(Ticket).where(Ticket.workspace_id == self.workspace_id, Ticket.id.in_(ticket_ids))
        return {ticket.id: ticket for ticket in (await self.session.execute(statement)).scalars()}

    async def tag_counts(self, prefix: str, limit: int) -> list[tuple[str, int]]:
        """The workspace's most used tags whose folded form starts with `prefix` folded. For a restricted
        agent, counted over the tickets they may see; for everyone else, read from the maintained counts."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        starts = func.helpdesk_fold(escaped) + "%"
        if self.principal.restricted:
            visible = self.tickets.visible(self.principal).where(Ticket.deleted_at.is_(None)).subquery()
            unnested = func.unnest(visible.c.tags).table_valued("tag").render_derived()
            count = func.count().label("tickets")
            statement = (
                select(unnested.c.tag, count)
                .select_from(visible.join(unnested, literal(True)))
                .where(func.helpdesk_fold(unnested.c.tag).like(starts))
                .group_by(unnested.c.tag)
            )
        else:
            # The counts folded in, and the changes not folded in yet.
            counted = select(TagCount.tag, TagCount.tickets).where(
                TagCount.workspace_id == self.workspace_id, TagCount.tag_key.like(starts)
            )
            changes = tag_count_changes.c
            pending = select(changes.tag, changes.delta).where(
                changes.workspace_id == self.workspace_id, func.helpdesk_fold(changes.tag).like(starts)
            )
            both = counted.union_all(pending).subquery()
            count = func.sum(both.c.tickets).label("tickets")
            statement = select(both.c.tag, count).group_by(both.c.tag).having(count > 0)
        statement = statement.order_by(count.desc(), statement.selected_columns[0]).limit(limit)
        return [(tag, int(tickets)) for tag, tickets in (await self.session.execute(statement)).all()]
