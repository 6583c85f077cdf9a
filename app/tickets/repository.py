"""Every query on tickets and their history. Hot writes use single statements, not the ORM's unit of work."""

import functools
import operator
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    Insert,
    Numeric,
    Select,
    Text,
    Update,
    and_,
    bindparam,
    case,
    cast,
    collate,
    column,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, REGCLASS, array
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased, make_transient_to_detached

from app.auth.principal import Principal
from app.categories.repository import subtree_ids
from app.kit.ids import new_id
from app.kit.json_form import to_json
from app.kit.pagination import Keyset, PageParams, SortColumn
from app.kit.plain import PlainStatement
from app.kit.repository import ScopedRepository
from app.kit.search import TextQuery, like_pattern
from app.kit.wakeups import EVENTS_CHANNEL, wake_after_commit
from app.models import (
    Category,
    CategoryWatcher,
    Comment,
    Contact,
    ContactIdentity,
    Event,
    GroupMember,
    Ticket,
    TicketHistory,
    TicketLink,
)
from app.models.comment import MISSED_CALL
from app.models.enums import CustomFieldType, IdentityKind, LinkKind, StatusKind
from app.models.ticket import METRIC_COUNTERS
from app.models.workspace import ticket_number_sequence
from app.tickets.filters import CustomFieldFilter, GroupsOf, TicketFilters, sortable_moment

SORTS = {
    "created_at": Keyset("created_at", [SortColumn(Ticket.created_at), SortColumn(Ticket.id)]),
    "-created_at": Keyset(
        "-created_at",
        [SortColumn(Ticket.created_at, descending=True), SortColumn(Ticket.id, descending=True)],
    ),
    "updated_at": Keyset("updated_at", [SortColumn(Ticket.updated_at), SortColumn(Ticket.id)]),
    "-updated_at": Keyset(
        "-updated_at",
        [SortColumn(Ticket.updated_at, descending=True), SortColumn(Ticket.id, descending=True)],
    ),
    "priority": Keyset("priority", [SortColumn(Ticket.priority), SortColumn(Ticket.id)]),
    "-priority": Keyset(
        "-priority", [SortColumn(Ticket.priority, descending=True), SortColumn(Ticket.id, descending=True)]
    ),
    "due_at": Keyset("due_at", [SortColumn(Ticket.due_at, nullable=True), SortColumn(Ticket.id)]),
    "-due_at": Keyset(
        "-due_at",
        [SortColumn(Ticket.due_at, descending=True, nullable=True), SortColumn(Ticket.id, descending=True)],
    ),
    "sla_due_at": Keyset("sla_due_at", [SortColumn(Ticket.sla_due_at, nullable=True), SortColumn(Ticket.id)]),
    "-sla_due_at": Keyset(
        "-sla_due_at",
        [
            SortColumn(Ticket.sla_due_at, descending=True, nullable=True),
            SortColumn(Ticket.id, descending=True),
        ],
    ),
}
# The shapes a stored value must have before it is read as a number or compared as a date: a row
# holding anything else (values are checked when written, but a cast error would fail the whole list)
# simply does not match.
_DECIMAL_TEXT = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATETIME_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"
_COMPARISONS = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def custom_field_condition(condition: CustomFieldFilter) -> Any:
    """Equality (and `in`) by containment, which the GIN index on `custom_fields` answers; bounds on
    the value read as a number, or as text that sorts in time order, only from values of that shape."""
    key = condition.key
    if condition.operator in ("eq", "in"):
        multiple = condition.type is CustomFieldType.multiselect
        return or_(
            *(
                Ticket.custom_fields.contains({key: [value] if multiple else value})
                for value in condition.values
            )
        )
    value, stored = condition.values[0], Ticket.custom_fields[key]
    as_text = stored.astext
    if condition.type in (CustomFieldType.integer, CustomFieldType.decimal):
        read = case(
            (func.jsonb_typeof(stored) == "number", cast(stored, Numeric)),
            (as_text.regexp_match(_DECIMAL_TEXT), cast(as_text, Numeric)),
        )
        bound: Any = Decimal(str(value))
    elif condition.type is CustomFieldType.date:
        read = collate(case((as_text.regexp_match(_DATE_TEXT), as_text)), "C")
        bound = value
    else:
        moment = func.rpad(
            func.left(as_text, 19) + "." + func.coalesce(func.substring(as_text, r"\.([0-9]+)"), ""), 26, "0"
        )
        read = collate(case((as_text.regexp_match(_DATETIME_TEXT), moment)), "C")
        bound = sortable_moment(value)
    return _COMPARISONS[condition.operator](read, bound)


HISTORY_ORDER = Keyset("history", [SortColumn(TicketHistory.id)])
CHILDREN_ORDER = Keyset("number", [SortColumn(Ticket.number), SortColumn(Ticket.id)])
LINK_ORDER = Keyset("link", [SortColumn(TicketLink.id)])
# Under this many rows holding a term (as estimated), search looks its matches up first rather than
# walking tickets.
RARE_ROWS = 2000
UNRESOLVED_KINDS = (StatusKind.new, StatusKind.open, StatusKind.pending, StatusKind.on_hold)

TICKET_COLUMNS = Ticket.__table__.c
# What a new ticket does not have yet.
UNSET_AT_CREATION = (
    "deleted_at", "first_response_at", "last_public_comment_at", "last_public_comment_by", "merged_into_id",
    "last_customer_reply_at", "last_agent_reply_at", "rating_score", "rating_good", "rated_at",
)  # fmt: skip
# The columns a new ticket gets from the service; the database fills in the rest.
_CREATED_COLUMNS = [
    column.name
    for column in TICKET_COLUMNS
    if column.name not in {"workspace_id", "number", "version", *UNSET_AT_CREATION, *METRIC_COUNTERS}
    and column.computed is None
]
_EVENT_COLUMNS = ["id", "type", "occurred_at", "actor_type", "actor_id"]


_SCOPE_WORKSPACE = bindparam("scope_workspace_id", type_=TICKET_COLUMNS.workspace_id.type)
_HISTORY_COLUMNS = ["id", "ticket_id", "change_id", "occurred_at", "actor_type", "actor_id", "field"]


def _history_insert() -> Insert:
    """The history rows of the `history` parameter (JSON), inserted in the scope's workspace."""
    recordset = (
        func.jsonb_to_recordset(bindparam("history", type_=JSONB))
        .table_valued(
            *(column(name, TicketHistory.__table__.c[name].type) for name in _HISTORY_COLUMNS),
            column("old_value", JSONB),
            column("new_value", JSONB),
        )
        .render_derived(name="history_rows", with_types=True)
    )
    # Tables rather than entities: these are plain statements, not the ORM's bulk inserts.
    return insert(TicketHistory.__table__).from_select(
        ["workspace_id", *_HISTORY_COLUMNS, "old_value", "new_value"],
        select(
            _SCOPE_WORKSPACE,
            *(recordset.c[name] for name in _HISTORY_COLUMNS),
            recordset.c.old_value,
            recordset.c.new_value,
        ),
    )


def _events_insert() -> Insert:
    """The events of the `events` parameter (JSON), inserted in the scope's workspace."""
    names = [*_EVENT_COLUMNS, "subject_id"]
    recordset = (
        func.jsonb_to_recordset(bindparam("events", type_=JSONB))
        .table_valued(*(column(name, Event.__table__.c[name].type) for name in names), column("data", JSONB))
        .render_derived(name="event_rows", with_types=True)
    )
    return insert(Event.__table__).from_select(
        ["workspace_id", *names, "data"],
        select(_SCOPE_WORKSPACE, *(recordset.c[name] for name in names), recordset.c.data),
    )


def _insert_numbered() -> Insert:
    """One round trip for a new ticket: its history, its event, the next number of the workspace, the row.

    The number comes from the workspace's sequence: `nextval` takes no lock that another creation
    waits for, and a creation that rolls back afterwards leaves a gap in the numbers.
    """
    workspace_id = _SCOPE_WORKSPACE
    history = _history_insert()
    # A parameter, so that one prepared statement serves every workspace. Taken once, in a CTE, for
    # the ticket and its event alike.
    sequence = cast(bindparam("number_sequence", type_=Text), REGCLASS)
    number = select(func.nextval(sequence).label("value")).cte("number")
    # The event carries the ticket as the API shows it; only its number is known here.
    event = insert(Event.__table__).from_select(
        ["workspace_id", "subject_id", *_EVENT_COLUMNS, "data"],
        select(
            workspace_id,
            bindparam("id", type_=TICKET_COLUMNS.id.type),
            *(bindparam(f"event_{name}", type_=Event.__table__.c[name].type) for name in _EVENT_COLUMNS),
            func.jsonb_set(
                bindparam("event_data", type_=JSONB),
                literal(["ticket", "number"], ARRAY(Text)),
                func.to_jsonb(number.c.value),
            ),
        ),
    )
    values = select(
        workspace_id,
        *(bindparam(name, type_=TICKET_COLUMNS[name].type) for name in _CREATED_COLUMNS),
        number.c.value,
    )
    return (
        insert(Ticket.__table__)
        .from_select(["workspace_id", *_CREATED_COLUMNS, "number"], values)
        .returning(*TICKET_COLUMNS)
        .add_cte(history.cte("history"))
        .add_cte(event.cte("event"))
    )


# Plain statements: every ticket creation runs them.
_INSERT_NUMBERED = PlainStatement(_insert_numbered())

_INSERT_HISTORY = insert(TicketHistory.__table__)


@functools.lru_cache(maxsize=512)
def _update_of(columns: frozenset[str]) -> Update:
    """An update of these columns, built once per set: tickets change a few fields at a time, in a few
    combinations, and building the statement costs more than running it."""
    return (
        update(Ticket)
        .where(Ticket.workspace_id == bindparam("scope_workspace_id"), Ticket.id == bindparam("scope_id"))
        .values(
            {
                **{name: bindparam(f"new_{name}") for name in sorted(columns)},
                "version": Ticket.version + 1,
                "updated_at": func.now(),
            }
        )
        .returning(Ticket)
        .execution_options(populate_existing=True)
    )


@functools.lru_cache(maxsize=512)
def _held_write_of(columns: frozenset[str]) -> Update:
    """One round trip for the changes held back on a ticket: its columns (the version and the time of
    the last change among them, already known), its history and its events."""
    return (
        update(Ticket.__table__)
        .where(Ticket.workspace_id == _SCOPE_WORKSPACE, Ticket.id == bindparam("scope_id"))
        .values({name: bindparam(f"new_{name}") for name in sorted({*columns, "version", "updated_at"})})
        .add_cte(_history_insert().cte("history"))
        .add_cte(_events_insert().cte("events"))
    )


class TicketRepository(ScopedRepository[Ticket]):
    model = Ticket
    resource = "Ticket"

    def visible(self, principal: Principal) -> Select[tuple[Ticket]]:
        """The tickets the caller may see: all of them, or a restricted agent's share of them."""
        statement = self.select()
        if not principal.restricted:
            return statement
        agent_id = principal.agent_id
        groups = self._groups_of(agent_id)
        # A watcher of a category watches its sub-categories too.
        watched = (
            select(CategoryWatcher.category_id.label("id"))
            .where(CategoryWatcher.workspace_id == self.workspace_id, CategoryWatcher.agent_id == agent_id)
            .cte(recursive=True)
        )
        child = aliased(Category)
        watched = watched.union(
            select(child.id).where(child.workspace_id == self.workspace_id, child.parent_id == watched.c.id)
        )
        return statement.where(
            or_(
                Ticket.group_id.in_(groups),
                Ticket.category_id.in_(select(watched.c.id)),
                Ticket.assignee_id == agent_id,
                Ticket.followers.contains([agent_id]),
            )
        )

    def _groups_of(self, agent_id: UUID | None) -> Select[tuple[UUID]]:
        return select(GroupMember.group_id).where(
            GroupMember.workspace_id == self.workspace_id, GroupMember.agent_id == agent_id
        )

    async def get_visible(
        self, principal: Principal, ticket_id: UUID, *, for_update: bool = False
    ) -> Ticket | None:
        if not principal.restricted:
            return await self.get(ticket_id, for_update=for_update)
        statement = self.visible(principal).where(Ticket.id == ticket_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def lock_visible(self, principal: Principal, ticket_ids: Sequence[UUID]) -> list[Ticket]:
        """Lock in id order, so that two bulk changes over the same tickets cannot deadlock."""
        statement = (
            self.visible(principal).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.id).with_for_update()
        )
        return list((await self.session.execute(statement)).scalars())

    async def by_number(self, number: int, *, for_update: bool = False) -> Ticket | None:
        statement = self.select().where(Ticket.number == number)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def surviving(self, ticket: Ticket | None) -> Ticket | None:
        """The ticket, or for a merged one the ticket it was merged into (locked)."""
        while ticket is not None and ticket.merged_into_id is not None:
            ticket = await self.get(ticket.merged_into_id, for_update=True)
        return ticket

    async def insert_numbered(
        self, values: dict[str, Any], history: Sequence[dict[str, Any]], event: dict[str, Any]
    ) -> dict[str, Any]:
        """Insert the ticket, numbered, its history and its event in one statement."""
        parameters = {name: values.get(name) for name in _CREATED_COLUMNS}
        parameters["scope_workspace_id"] = self.workspace_id
        parameters["number_sequence"] = ticket_number_sequence(self.workspace_id)
        parameters["history"] = [to_json(row) for row in history]
        parameters.update({f"event_{name}": event[name] for name in [*_EVENT_COLUMNS, "data"]})
        row = await _INSERT_NUMBERED.fetchrow(self.session, parameters)
        wake_after_commit(self.session, EVENTS_CHANNEL)
        return dict(row)

    def adopt(self, row: dict[str, Any]) -> Ticket:
        """The ticket this transaction just inserted (and so holds locked), as the session's own, without
        reading it back."""
        ticket = Ticket(**row)
        make_transient_to_detached(ticket)
        self.session.add(ticket)
        return ticket

    async def update_values(self, ticket: Ticket, values: dict[str, Any]) -> Ticket:
        statement = _update_of(frozenset(values))
        parameters = {f"new_{name}": value for name, value in values.items()}
        parameters.update(scope_workspace_id=self.workspace_id, scope_id=ticket.id)
        return (await self.session.execute(statement, parameters)).scalar_one()

    async def write_held(
        self,
        ticket_id: UUID,
        values: dict[str, Any],
        history: Sequence[dict[str, Any]],
        events: Sequence[dict[str, Any]],
    ) -> None:
        """Set the ticket's columns, `version` and `updated_at` among them, as given, and insert the
        history and the events (of any ticket), in one statement."""
        parameters: dict[str, Any] = {f"new_{name}": value for name, value in values.items()}
        parameters.update(
            scope_workspace_id=self.workspace_id,
            scope_id=ticket_id,
            history=[to_json(row) for row in history],
            events=[to_json(row) for row in events],
        )
        await self.session.execute(_held_write_of(frozenset(values)), parameters)
        if events:
            wake_after_commit(self.session, EVENTS_CHANNEL)

    async def add_history(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(
                _INSERT_HISTORY, [{**row, "workspace_id": self.workspace_id} for row in rows]
            )

    async def add_link(self, ticket_id: UUID, linked_ticket_id: UUID, kind: LinkKind) -> TicketLink | None:
        """The link, or None if it existed already."""
        inserted = await self.session.execute(
            pg_insert(TicketLink)
            .values(
                workspace_id=self.workspace_id,
                id=new_id(),
                ticket_id=ticket_id,
                linked_ticket_id=linked_ticket_id,
                kind=kind,
            )
            .on_conflict_do_nothing()
            .returning(TicketLink)
        )
        return inserted.scalar_one_or_none()

    async def links_page(self, ticket_id: UUID, page: PageParams) -> tuple[list[TicketLink], str | None]:
        """Links from and to the ticket, oldest first."""
        statement = select(TicketLink).where(
            TicketLink.workspace_id == self.workspace_id,
            or_(TicketLink.ticket_id == ticket_id, TicketLink.linked_ticket_id == ticket_id),
        )
        return await self.paginate(statement, LINK_ORDER, page)

    async def remove_link(self, ticket_id: UUID, link_id: UUID) -> bool:
        removed = await self.session.execute(
            delete(TicketLink)
            .where(
                TicketLink.workspace_id == self.workspace_id,
                TicketLink.id == link_id,
                or_(TicketLink.ticket_id == ticket_id, TicketLink.linked_ticket_id == ticket_id),
            )
            .returning(TicketLink.id)
        )
        return removed.first() is not None

    async def history_page(self, ticket_id: UUID, page: PageParams) -> tuple[list[TicketHistory], str | None]:
        statement = select(TicketHistory).where(
            TicketHistory.workspace_id == self.workspace_id, TicketHistory.ticket_id == ticket_id
        )
        return await self.paginate(statement, HISTORY_ORDER, page)

    async def ancestor_ids(self, ticket_id: UUID) -> list[UUID]:
        """The ticket and its ancestors, walking up `parent_id`."""
        chain = (
            select(Ticket.id, Ticket.parent_id)
            .where(Ticket.workspace_id == self.workspace_id, Ticket.id == ticket_id)
            .cte("chain", recursive=True)
        )
        parent = aliased(Ticket)
        chain = chain.union(
            select(parent.id, parent.parent_id).where(
                parent.workspace_id == self.workspace_id, parent.id == chain.c.parent_id
            )
        )
        return list((await self.session.execute(select(chain.c.id))).scalars())

    async def count_unresolved_children(self, ticket_id: UUID) -> int:
        statement = select(func.count()).where(
            Ticket.workspace_id == self.workspace_id,
            Ticket.parent_id == ticket_id,
            Ticket.deleted_at.is_(None),
            Ticket.status_kind.in_(UNRESOLVED_KINDS),
        )
        return int(await self.session.scalar(statement) or 0)

    async def children_by_kind(self, ticket_id: UUID) -> dict[StatusKind, int]:
        statement = (
            select(Ticket.status_kind, func.count())
            .where(
                Ticket.workspace_id == self.workspace_id,
                Ticket.parent_id == ticket_id,
                Ticket.deleted_at.is_(None),
            )
            .group_by(Ticket.status_kind)
        )
        return {kind: count for kind, count in (await self.session.execute(statement)).all()}

    async def children_page(self, principal: Principal, ticket_id: UUID, page: PageParams):
        statement = self.visible(principal).where(Ticket.parent_id == ticket_id, Ticket.deleted_at.is_(None))
        return await self.paginate(statement, CHILDREN_ORDER, page)

    def filtered(
        self, principal: Principal, filters: TicketFilters, *, rare_term: str | None = None
    ) -> Select[tuple[Ticket]]:
        statement = self.visible(principal)
        statement = statement.where(*self._conditions(principal, filters))
        if filters.text is not None and rare_term is not None:
            statement = statement.where(Ticket.id.in_(self.candidates(principal, filters.text, rare_term)))
        return statement

    async def list_page(self, principal: Principal, filters: TicketFilters, sort: str, page: PageParams):
        rare_term = await self.rare_term(filters.text) if filters.text else None
        return await self.paginate(self.filtered(principal, filters, rare_term=rare_term), SORTS[sort], page)

    async def count(self, principal: Principal, filters: TicketFilters) -> int:
        statement = self.filtered(principal, filters).with_only_columns(func.count()).select_from(Ticket)
        return int(await self.session.scalar(statement) or 0)

    async def count_by(
        self, principal: Principal, filters: TicketFilters, column: Any
    ) -> list[tuple[Any, int]]:
        rare_term = await self.rare_term(filters.text) if filters.text else None
        matching = self.filtered(principal, filters, rare_term=rare_term).subquery()
        grouped = getattr(matching.c, column.key)
        statement = select(grouped, func.count()).group_by(grouped).order_by(func.count().desc(), grouped)
        return [(key, count) for key, count in (await self.session.execute(statement)).all()]

    def _conditions(self, principal: Principal, filters: TicketFilters) -> list[Any]:
        conditions: list[Any] = [
            Ticket.deleted_at.is_not(None) if filters.deleted else Ticket.deleted_at.is_(None)
        ]
        for attribute, values in (
            (Ticket.status_id, filters.status_id),
            (Ticket.status_kind, filters.status_kind),
            (Ticket.priority, filters.priority),
            (Ticket.type, filters.type),
            (Ticket.channel, filters.channel),
        ):
            if values:
                conditions.append(attribute.in_(values))
        if isinstance(filters.group_id, GroupsOf):
            conditions.append(Ticket.group_id.in_(self._groups_of(filters.group_id.agent_id)))
        for attribute, reference in (
            (Ticket.assignee_id, filters.assignee_id),
            (Ticket.group_id, None if isinstance(filters.group_id, GroupsOf) else filters.group_id),
            (Ticket.requester_id, filters.requester_id),
            (Ticket.parent_id, filters.parent_id),
        ):
            if reference is TicketFilters.NONE:
                conditions.append(attribute.is_(None))
            elif reference is not None:
                conditions.append(attribute == reference)
        if filters.category_id is not None:
            conditions.append(Ticket.category_id.in_(subtree_ids(self.workspace_id, filters.category_id)))
        if filters.tags:
            # Folded by the database as the tickets' keys are: `giao-hang` finds `giao-hàng`.
            conditions.append(Ticket.tag_keys.contains(func.helpdesk_tag_keys(array(filters.tags))))
        if filters.external_ref is not None:
            conditions.append(Ticket.external_refs.contains(filters.external_ref))
        if filters.organization_id is not None:
            # Through the requester (its organization may change), by two indexes: contacts by
            # organization, tickets by requester.
            members = select(Contact.id).where(
                Contact.workspace_id == self.workspace_id, Contact.organization_id == filters.organization_id
            )
            conditions.append(Ticket.requester_id.in_(members))
        if filters.cc is not None:
            conditions.append(Ticket.ccs.contains([filters.cc]))
        if filters.follower is TicketFilters.NONE:
            conditions.append(func.cardinality(Ticket.followers) == 0)
        elif filters.follower is not None:
            conditions.append(Ticket.followers.contains([filters.follower]))
        conditions.extend(custom_field_condition(condition) for condition in filters.custom_fields)
        if filters.sla_breached is not None:
            # `=`, not `IS`: the planner matches it to the partial index on breached tickets.
            conditions.append(Ticket.sla_breached == filters.sla_breached)
        if filters.solved_after is not None:
            conditions.append(Ticket.solved_at >= filters.solved_after)
        if filters.rating_good is not None:
            conditions.append(Ticket.rating_good.is_(filters.rating_good))
        if filters.rating_score is not None:
            conditions.append(Ticket.rating_score == filters.rating_score)
        if filters.rated is not None:
            conditions.append(Ticket.rated_at.is_not(None) if filters.rated else Ticket.rated_at.is_(None))
        if filters.has_missed_call is not None:
            # The partial index's own predicate, so that only the comments of missed calls are read.
            missed = exists().where(
                Comment.workspace_id == Ticket.workspace_id, Comment.ticket_id == Ticket.id, text(MISSED_CALL)
            )
            conditions.append(missed if filters.has_missed_call else ~missed)
        for attribute, after, before in (
            (Ticket.created_at, filters.created_after, filters.created_before),
            (Ticket.updated_at, filters.updated_after, filters.updated_before),
            (Ticket.sla_due_at, filters.sla_due_after, filters.sla_due_before),
            (
                Ticket.last_customer_reply_at,
                filters.last_customer_reply_after,
                filters.last_customer_reply_before,
            ),
            (Ticket.last_agent_reply_at, filters.last_agent_reply_after, filters.last_agent_reply_before),
        ):
            if after is not None:
                conditions.append(attribute >= after)
            if before is not None:
                conditions.append(attribute < before)
        if filters.text is not None:
            conditions.append(self.matching(principal, filters.text))
        return conditions

    def matching(self, principal: Principal, query: TextQuery) -> Any:
        """The tickets `q` finds: each term in the subject, the description or a comment the caller may
        read; or the requester's name, email or phone holding every term; or the ticket's number; or the
        contact an email address, a phone number or an external id names."""
        alternatives = [self.naming(query)]
        if query.terms:
            alternatives.append(
                and_(*(self.containing(principal, like_pattern(term)) for term in query.terms))
            )
            alternatives.append(self.requester_holding(query))
        return or_(*alternatives)

    def requester_holding(self, query: TextQuery) -> Any:
        """The ticket's requester's name, email or phone holds every term."""
        requesters = select(Contact.id).where(
            Contact.workspace_id == self.workspace_id,
            *(Contact.search_text.like(like_pattern(term)) for term in query.terms),
        )
        return Ticket.requester_id.in_(requesters)

    async def rare_term(self, query: TextQuery) -> str | None:
        """A term of the query that fewer than RARE_ROWS tickets and comments hold, by PostgreSQL's
        estimate, if one does: the longest first (the likeliest to be rare).

        A common term is served by walking the tickets in the list's order and checking each (a page
        comes after a few hundred); a rare one so would read every ticket for its few matches, so its
        matches are looked up in the trigram indexes first (`candidates`).
        """
        for term in sorted(query.terms, key=len, reverse=True):
            if await self.rows_holding(term) < RARE_ROWS:
                return term
        return None

    async def rows_holding(self, term: str) -> float:
        """How many tickets and comments hold the folded term, as PostgreSQL estimates it from its
        statistics of the columns: planning costs a fraction of a millisecond where counting by index
        reads every entry of a common trigram. Exactness does not matter: between a few and a few
        thousand rows, either way of reading serves a page quickly."""
        pattern = like_pattern(term)
        # One EXPLAIN for both: the rows of a UNION ALL are the sum of its branches'.
        return await self.estimated_rows(
            union_all(
                *(
                    select(literal(1)).where(
                        model.workspace_id == self.workspace_id, model.search_text.like(pattern)
                    )
                    for model in (Ticket, Comment)
                )
            )
        )

    async def estimated_rows(self, statement: Any) -> float:
        """The rows PostgreSQL expects `statement` to return."""
        return await PlainStatement(statement).estimated_rows(self.session, {})

    def candidates(
        self, principal: Principal, query: TextQuery, term: str, *, exact: str | None = None
    ) -> Any:
        """The ids of the tickets that may match: those holding `term` in their own text or in a comment
        the caller may read (with `exact`, also as written), those the query names, and those whose
        requester holds every term. Each branch is an index lookup."""
        pattern = like_pattern(term)
        in_ticket = Ticket.search_text.like(pattern)
        in_comment = [Comment.workspace_id == self.workspace_id, Comment.search_text.like(pattern)]
        if exact is not None:
            in_ticket = and_(in_ticket, or_(Ticket.subject.ilike(exact), Ticket.description.ilike(exact)))
            in_comment.append(Comment.body.ilike(exact))
        if not principal.sees_internal_notes:
            in_comment.append(Comment.public)
        # One branch per index: an OR across them would read every ticket of the workspace.
        alternatives = [in_ticket, *self._names(query)]
        if exact is None:
            alternatives.append(self.requester_holding(query))
        tickets = [
            select(Ticket.id).where(Ticket.workspace_id == self.workspace_id, alternative)
            for alternative in alternatives
        ]
        comments = select(Comment.ticket_id).where(*in_comment[:2])
        if len(in_comment) > 2:
            # Planned apart (OFFSET 0), so that the trigram index finds the rows the rest is checked on.
            found = select(Comment.ticket_id, Comment.body, Comment.public).where(*in_comment[:2]).offset(0)
            found = found.subquery()
            checks = [found.c.body.ilike(exact)] if exact is not None else []
            if not principal.sees_internal_notes:
                checks.append(found.c.public)
            comments = select(found.c.ticket_id).where(*checks)
        return union_all(*tickets, comments)

    def naming(self, query: TextQuery) -> Any:
        """The ticket the query's number names, and the tickets of the contact its email address, phone
        number or external id names (exact lookups, by unique indexes)."""
        alternatives = self._names(query)
        return or_(*alternatives) if alternatives else false()

    def _names(self, query: TextQuery) -> list[Any]:
        alternatives: list[Any] = []
        if query.number is not None:
            alternatives.append(Ticket.number == query.number)
        identities = [
            (kind, value)
            for kind, value in (
                (IdentityKind.email, query.email),
                (IdentityKind.phone, query.phone),
                (IdentityKind.external, query.reference),
            )
            if value is not None
        ]
        if identities:
            alternatives.append(
                Ticket.requester_id.in_(
                    select(ContactIdentity.contact_id).where(
                        ContactIdentity.workspace_id == self.workspace_id,
                        or_(
                            *(
                                and_(ContactIdentity.kind == kind, ContactIdentity.value == value)
                                for kind, value in identities
                            )
                        ),
                    )
                )
            )
        if query.reference is not None:
            alternatives.append(
                Ticket.requester_id.in_(
                    select(Contact.id).where(
                        Contact.workspace_id == self.workspace_id, Contact.external_id == query.reference
                    )
                )
            )
        return alternatives

    def containing(self, principal: Principal, pattern: str, *, exact: str | None = None) -> Any:
        """The ticket's subject or description, or a comment on it the caller may read, matches the LIKE
        `pattern` on the folded text; with `exact`, also the ILIKE `exact` on the text as written.
        Correlated, so that a walk of tickets newest first stops after a page of a common term."""
        in_ticket = Ticket.search_text.like(pattern)
        in_comment = [
            Comment.workspace_id == Ticket.workspace_id,
            Comment.ticket_id == Ticket.id,
            Comment.search_text.like(pattern),
        ]
        if exact is not None:
            in_ticket = and_(in_ticket, or_(Ticket.subject.ilike(exact), Ticket.description.ilike(exact)))
            in_comment.append(Comment.body.ilike(exact))
        if not principal.sees_internal_notes:
            in_comment.append(Comment.public)
        # OFFSET 0 keeps PostgreSQL from turning the check into a hash of every matching comment, built
        # before the first ticket is looked at.
        return or_(in_ticket, exists(select(literal(1)).where(*in_comment).offset(0)))
