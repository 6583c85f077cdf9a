"""The query parameters that filter ticket lists and counts, parsed once for both."""

import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, get_args
from uuid import UUID

from fastapi import Depends, Query, Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import Session, current_principal
from app.auth.principal import Principal
from app.config import get_settings
from app.custom_fields.validation import load_definitions, stored_value
from app.errors import BadRequest
from app.kit.schemas import AwareDatetime, storable
from app.kit.search import TextQuery, parse_query
from app.kit.time import utcnow
from app.models import CustomFieldDefinition
from app.models.enums import Channel, CustomFieldEntity, CustomFieldType, Priority, StatusKind, TicketType

TicketSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "priority", "-priority", "due_at", "-due_at",
    "sla_due_at", "-sla_due_at",
]  # fmt: skip
TicketGroupBy = Literal[
    "status", "status_kind", "priority", "type", "assignee", "group", "category", "channel"
]

# `cf.<key>` compares for equality; `cf.<key>[<operator>]` applies the operator.
CUSTOM_FIELD_PARAMETER = re.compile(r"^cf\.([a-z][a-z0-9_]{0,63})(?:\[([a-z]+)\])?$")
RANGE_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
_TEXTUAL = frozenset({"eq", "in"})
_ORDERED = frozenset({"eq", *RANGE_OPERATORS})
# The operators each type of field takes.
CUSTOM_FIELD_OPERATORS: dict[CustomFieldType, frozenset[str]] = {
    CustomFieldType.text: _TEXTUAL,
    CustomFieldType.textarea: _TEXTUAL,
    CustomFieldType.regex: _TEXTUAL,
    CustomFieldType.dropdown: _TEXTUAL,
    CustomFieldType.multiselect: _TEXTUAL,
    CustomFieldType.checkbox: frozenset({"eq"}),
    CustomFieldType.integer: _ORDERED | {"in"},
    CustomFieldType.decimal: _ORDERED | {"in"},
    CustomFieldType.date: _ORDERED,
    CustomFieldType.datetime: _ORDERED,
}
CUSTOM_FIELD_FILTERS_HELP = (
    "Custom fields of tickets, by key: `cf.<key>=value` for equality (a multiselect field: has the option; "
    "a checkbox: `true` or `false`), `cf.<key>[in]=a,b` for any of the values (text, dropdown, multiselect, "
    "integer and decimal fields), and `cf.<key>[gte]`, `[gt]`, `[lte]`, `[lt]` for bounds of integer, "
    "decimal, date (`YYYY-MM-DD`) and date-time (RFC 3339) fields, e.g. "
    "`cf.amount[gte]=100000&cf.amount[lt]=500000`. An unknown key, an operator the field's type does not "
    "take or a value it could not hold is a 400 naming the parameter."
)
_INTEGER_TEXT = re.compile(r"^[+-]?[0-9]{1,19}$")
_MAX_CUSTOM_FIELD_FILTERS = 20
_MAX_IN_VALUES = 50


@dataclass(frozen=True)
class GroupsOf:
    """The groups an agent is a member of (`group=mine`)."""

    agent_id: UUID


@dataclass(frozen=True)
class CustomFieldFilter:
    """One condition on a custom field: its values in the form the field stores them."""

    key: str
    type: CustomFieldType
    operator: str
    values: tuple[Any, ...]


class _NoneMarker:
    def __repr__(self) -> str:
        return "none"


@dataclass(frozen=True)
class TicketFilters:
    NONE: ClassVar[_NoneMarker] = _NoneMarker()

    status_id: list[UUID] = field(default_factory=list)
    status_kind: list[StatusKind] = field(default_factory=list)
    priority: list[Priority] = field(default_factory=list)
    type: list[TicketType] = field(default_factory=list)
    channel: list[Channel] = field(default_factory=list)
    assignee_id: UUID | _NoneMarker | None = None
    group_id: UUID | _NoneMarker | GroupsOf | None = None
    requester_id: UUID | None = None
    parent_id: UUID | _NoneMarker | None = None
    category_id: UUID | None = None
    tags: list[str] = field(default_factory=list)
    external_ref: dict[str, str] | None = None
    organization_id: UUID | None = None
    cc: UUID | None = None
    follower: UUID | _NoneMarker | None = None
    last_customer_reply_after: datetime | None = None
    last_customer_reply_before: datetime | None = None
    last_agent_reply_after: datetime | None = None
    last_agent_reply_before: datetime | None = None
    custom_fields: tuple[CustomFieldFilter, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    sla_breached: bool | None = None
    solved_after: datetime | None = None
    has_missed_call: bool | None = None
    # The latest rating: good or bad, or its score.
    rating_good: bool | None = None
    rating_score: int | None = None
    rated: bool | None = None
    sla_due_after: datetime | None = None
    sla_due_before: datetime | None = None
    deleted: bool = False
    text: TextQuery | None = None


def _split(values: list[str] | None) -> list[str]:
    """Accept repeated parameters and comma-separated values alike."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _parse_list(name: str, values: list[str] | None, parse: Any) -> list[Any]:
    parsed = []
    for value in _split(values):
        try:
            parsed.append(parse(value))
        except ValueError as exc:
            raise BadRequest(
                f"{name}: {value!r} is not a valid value", field=name, code="invalid_filter"
            ) from exc
    return parsed


def _reference(name: str, value: str | None, me: UUID | None, *, allow_me: bool = False) -> Any:
    if value is None:
        return None
    if value == "none":
        return TicketFilters.NONE
    if value == "me" and allow_me:
        if me is None:
            raise BadRequest(
                f"{name}=me needs an agent token: this credential does not act as an agent",
                field=name,
                code="invalid_filter",
            )
        return me
    try:
        return UUID(value)
    except ValueError as exc:
        expected = "an id, `me` or `none`" if allow_me else "an id or `none`"
        raise BadRequest(f"{name} must be {expected}", field=name, code="invalid_filter") from exc


def _group(value: str | None, me: UUID | None) -> Any:
    if value != "mine":
        return _reference("group", value, me)
    if me is None:
        raise BadRequest(
            "group=mine needs an agent token: this credential does not act as an agent",
            field="group",
            code="invalid_filter",
        )
    return GroupsOf(me)


Multi = Annotated[list[str] | None, Query(max_length=50)]
Reference = Annotated[str | None, Query(max_length=64)]


def _custom_field_value(definition: CustomFieldDefinition, text: str) -> Any:
    """The stored form of a value given as text; ValueError says what the field expects."""
    if definition.type is CustomFieldType.checkbox:
        if text not in ("true", "false"):
            raise ValueError("must be true or false")
        return text == "true"
    if definition.type is CustomFieldType.integer:
        if not _INTEGER_TEXT.match(text):
            raise ValueError("must be an integer")
        return stored_value(definition, int(text))
    if definition.type is CustomFieldType.multiselect:
        return stored_value(definition, [text])[0]
    return stored_value(definition, text)


def _custom_field_filter(
    name: str, raw: str, definitions: Mapping[str, CustomFieldDefinition]
) -> CustomFieldFilter:
    matched = CUSTOM_FIELD_PARAMETER.match(name)
    if matched is None:
        raise BadRequest(
            f"{name}: custom field filters look like `cf.<key>` or `cf.<key>[<operator>]`",
            field=name,
            code="invalid_filter",
        )
    key, operator = matched.group(1), matched.group(2) or "eq"
    definition = definitions.get(key)
    if definition is None:
        raise BadRequest(
            f"{name}: there is no active ticket custom field with the key {key!r}",
            field=name,
            code="unknown_custom_field",
        )
    allowed = CUSTOM_FIELD_OPERATORS[definition.type]
    if operator not in allowed:
        raise BadRequest(
            f"{name}: a {definition.type.value} field takes {', '.join(sorted(allowed))}, not {operator}",
            field=name,
            code="invalid_filter",
        )
    texts = _split([raw]) if operator == "in" else [raw.strip()]
    if not texts or len(texts) > _MAX_IN_VALUES:
        raise BadRequest(
            f"{name}: give one value, or up to {_MAX_IN_VALUES} for `in`", field=name, code="invalid_filter"
        )
    values = []
    for text in texts:
        if not storable(text):
            raise BadRequest(
                f"{name}: the value must not contain NUL characters", field=name, code="invalid_filter"
            )
        try:
            values.append(_custom_field_value(definition, text))
        except ValueError as exc:
            raise BadRequest(f"{name}: the value {exc}", field=name, code="invalid_filter") from None
    return CustomFieldFilter(key, definition.type, operator, tuple(values))


async def _custom_field_filters(
    session: AsyncSession, workspace_id: UUID, parameters: Iterable[tuple[str, str]]
) -> tuple[CustomFieldFilter, ...]:
    given = [(name, value) for name, value in parameters if name.startswith("cf.")]
    if not given:
        return ()
    if len(given) > _MAX_CUSTOM_FIELD_FILTERS:
        raise BadRequest(
            f"At most {_MAX_CUSTOM_FIELD_FILTERS} custom field filters",
            field=given[0][0],
            code="invalid_filter",
        )
    definitions = await load_definitions(session, workspace_id, CustomFieldEntity.ticket)
    by_key = {definition.key: definition for definition in definitions}
    return tuple(_custom_field_filter(name, value, by_key) for name, value in given)


def sortable_moment(stored: str) -> str:
    """A stored date-time (`…T09:30:00.5Z`) as text that sorts in time order: the fraction padded to six
    digits (stored texts differ in length, and `Z` sorts after `.`). The database writes the same."""
    seconds, _, rest = stored.partition(".")
    fraction = rest.rstrip("Zz") if rest else ""
    return f"{seconds.rstrip('Zz')}.{fraction}".ljust(26, "0")[:26]


async def ticket_filters(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(current_principal)],
    status_id: Annotated[Multi, Query(description="Status ids (repeat or comma-separate)")] = None,
    status_kind: Annotated[Multi, Query(description="new, open, pending, on_hold, solved, closed")] = None,
    priority: Annotated[Multi, Query(description="urgent, high, normal, low")] = None,
    type: Annotated[Multi, Query(description="question, incident, problem, task")] = None,
    channel: Annotated[
        Multi, Query(description="Channel of origin: api, web, chat, email, messenger, zalo, call")
    ] = None,
    assignee: Annotated[Reference, Query(description="An agent id, `me` or `none`")] = None,
    group: Annotated[
        Reference, Query(description="A group id, `none`, or `mine` for the groups the calling agent is in")
    ] = None,
    requester_id: Annotated[UUID | None, Query()] = None,
    parent: Annotated[
        Reference, Query(description="A parent ticket id, or `none` for top-level tickets")
    ] = None,
    category_id: Annotated[UUID | None, Query(description="This category and its descendants")] = None,
    tag: Annotated[Multi, Query(description="Tickets carrying all these tags")] = None,
    external_ref: Annotated[
        str | None, Query(max_length=300, description="`system:id`, e.g. `crm:OPP-1042`")
    ] = None,
    organization_id: Annotated[UUID | None, Query(description="The requester's organization")] = None,
    cc: Annotated[UUID | None, Query(description="A contact copied on the ticket")] = None,
    follower: Annotated[
        Reference, Query(description="An agent id or `me` among the followers, or `none` for no follower")
    ] = None,
    last_customer_reply_after: Annotated[
        AwareDatetime | None, Query(description="The customer's last public reply is at or after this")
    ] = None,
    last_customer_reply_before: Annotated[
        AwareDatetime | None, Query(description="… and before this")
    ] = None,
    last_agent_reply_after: Annotated[
        AwareDatetime | None, Query(description="An agent's last public reply is at or after this")
    ] = None,
    last_agent_reply_before: Annotated[AwareDatetime | None, Query(description="… and before this")] = None,
    created_after: Annotated[AwareDatetime | None, Query()] = None,
    created_before: Annotated[AwareDatetime | None, Query()] = None,
    updated_after: Annotated[AwareDatetime | None, Query()] = None,
    updated_before: Annotated[AwareDatetime | None, Query()] = None,
    sla_breached: Annotated[
        bool | None, Query(description="true: a metric is overdue; false: none is (or no SLA applies)")
    ] = None,
    has_missed_call: Annotated[
        bool | None,
        Query(description="true: a call record on the ticket was not answered; false: none was (or no call)"),
    ] = None,
    rating: Annotated[
        str | None,
        Query(
            max_length=4,
            description="The customer's latest rating: `good` or `bad` (a score of 4 or 5 is good), or a "
            "score `1` to `5`",
        ),
    ] = None,
    rated: Annotated[
        bool | None, Query(description="true: the customer rated the ticket; false: never rated")
    ] = None,
    sla_due_after: Annotated[
        AwareDatetime | None, Query(description="The soonest SLA due time is at or after this")
    ] = None,
    solved_within_days: Annotated[
        int | None, Query(ge=1, le=366, description="Solved in the last this many days (a rolling window)")
    ] = None,
    sla_due_before: Annotated[AwareDatetime | None, Query(description="… and before this")] = None,
    deleted: Annotated[bool, Query(description="List deleted tickets instead")] = False,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Words to find in the subject, the description and the conversation (internal notes "
            "only for callers who may read them), or in the requester's name, email or phone; a quoted "
            '`"phrase"` must appear as typed, its words side by side; accents and case are ignored. '
            "`#123` or `123` also finds ticket 123; an email address, a phone number (any format) or "
            "an external id finds the tickets of the contact it names",
        ),
    ] = None,
) -> TicketFilters:
    """The filters of a request: its declared parameters, and its `cf.*` ones (which cannot be declared:
    their names are the workspace's own)."""
    declared = {name: value for name, value in locals().items() if name in FILTER_PARAMETERS}
    return await build_filters(
        session,
        principal,
        principal.agent_id,
        request.query_params.multi_items(),
        phone_region=request.app.state.settings.default_phone_region,
        **declared,
    )


async def build_filters(
    session: AsyncSession,
    principal: Principal,
    me: UUID | None,
    given: Iterable[tuple[str, str]],
    *,
    phone_region: str | None = None,
    **parameters: Any,
) -> TicketFilters:
    """The filters of the parameters, validated as the declared ones were; `me` is the agent `me` names;
    phone numbers in `q` are read in `phone_region` (the service's setting unless given)."""
    values = {name: None for name in FILTER_PARAMETERS} | {"deleted": False} | parameters
    custom_fields = await _custom_field_filters(session, principal.workspace_id, given)
    region = phone_region or get_settings().default_phone_region
    return _filters(me, custom_fields, region, **values)


def _filters(
    me: UUID | None,
    custom_fields: tuple[CustomFieldFilter, ...],
    phone_region: str,
    *,
    status_id: list[str] | None,
    status_kind: list[str] | None,
    priority: list[str] | None,
    type: list[str] | None,
    channel: list[str] | None,
    assignee: str | None,
    group: str | None,
    requester_id: UUID | None,
    parent: str | None,
    category_id: UUID | None,
    tag: list[str] | None,
    external_ref: str | None,
    organization_id: UUID | None,
    cc: UUID | None,
    follower: str | None,
    last_customer_reply_after: datetime | None,
    last_customer_reply_before: datetime | None,
    last_agent_reply_after: datetime | None,
    last_agent_reply_before: datetime | None,
    created_after: datetime | None,
    created_before: datetime | None,
    updated_after: datetime | None,
    updated_before: datetime | None,
    sla_breached: bool | None,
    has_missed_call: bool | None,
    rating: str | None,
    rated: bool | None,
    sla_due_after: datetime | None,
    sla_due_before: datetime | None,
    solved_within_days: int | None,
    deleted: bool,
    q: str | None,
) -> TicketFilters:
    reference = None
    if external_ref is not None:
        system, separator, value = external_ref.partition(":")
        if not separator or not system or not value:
            raise BadRequest(
                "external_ref must look like `system:id`", field="external_ref", code="invalid_filter"
            )
        reference = {system: value}
    return TicketFilters(
        status_id=_parse_list("status_id", status_id, UUID),
        status_kind=_parse_list("status_kind", status_kind, StatusKind),
        priority=_parse_list("priority", priority, Priority),
        type=_parse_list("type", type, TicketType),
        channel=_parse_list("channel", channel, Channel),
        assignee_id=_reference("assignee", assignee, me, allow_me=True),
        group_id=_group(group, me),
        requester_id=requester_id,
        parent_id=_reference("parent", parent, me),
        category_id=category_id,
        tags=[tag_value.lower() for tag_value in _split(tag)],
        external_ref=reference,
        organization_id=organization_id,
        cc=cc,
        follower=_reference("follower", follower, me, allow_me=True),
        last_customer_reply_after=last_customer_reply_after,
        last_customer_reply_before=last_customer_reply_before,
        last_agent_reply_after=last_agent_reply_after,
        last_agent_reply_before=last_agent_reply_before,
        custom_fields=custom_fields,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        updated_before=updated_before,
        sla_breached=sla_breached,
        solved_after=utcnow() - timedelta(days=solved_within_days) if solved_within_days else None,
        has_missed_call=has_missed_call,
        **_rating(rating),
        rated=rated,
        sla_due_after=sla_due_after,
        sla_due_before=sla_due_before,
        deleted=deleted,
        text=_text_query(q, phone_region),
    )


def _rating(value: str | None) -> dict[str, Any]:
    """`rating=good|bad|1..5` as the filter's fields."""
    if value is None:
        return {}
    if value in ("good", "bad"):
        return {"rating_good": value == "good"}
    if value in ("1", "2", "3", "4", "5"):
        return {"rating_score": int(value)}
    raise BadRequest("rating must be good, bad or a score 1 to 5", field="rating", code="invalid_filter")


def _text_query(q: str | None, phone_region: str) -> TextQuery | None:
    """`q` read, or None when it holds nothing to look for (blank), which filters nothing."""
    parsed = parse_query(q, phone_region) if q else None
    return parsed if parsed is not None and parsed.terms else None


# The route takes `cf.*` parameters besides the declared ones (app/api/routing.py).
ticket_filters.query_prefixes = ("cf.",)  # type: ignore[attr-defined]

# The declared parameters of `ticket_filters`, with what validates a given text as the list does.
_CONTEXT = frozenset({"request", "session", "principal"})
FILTER_PARAMETERS: dict[str, inspect.Parameter] = {
    name: parameter
    for name, parameter in inspect.signature(ticket_filters).parameters.items()
    if name not in _CONTEXT
}
_ADAPTERS = {name: TypeAdapter(parameter.annotation) for name, parameter in FILTER_PARAMETERS.items()}
_REPEATABLE = frozenset(
    name
    for name, parameter in FILTER_PARAMETERS.items()
    if list[str] in get_args(get_args(parameter.annotation)[0])
)


async def filters_of_query(
    session: AsyncSession, principal: Principal, query: Mapping[str, str], *, me: UUID | None, field: str
) -> TicketFilters:
    """The filters of a saved list query (parameter → value), validated as the list validates them;
    `field` prefixes the names in errors. Unknown parameters are refused rather than ignored."""
    parameters: dict[str, Any] = {}
    for name, text in query.items():
        if name.startswith("cf."):
            continue
        if name not in FILTER_PARAMETERS:
            raise BadRequest(f"{field}: {name!r} is not a ticket filter", field=f"{field}.{name}")
        try:
            parameters[name] = _ADAPTERS[name].validate_python([text] if name in _REPEATABLE else text)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            raise BadRequest(
                f"{field}.{name}: {message}", field=f"{field}.{name}", code="invalid_filter"
            ) from None
    try:
        return await build_filters(session, principal, me, query.items(), **parameters)
    except BadRequest as error:
        error.field = f"{field}.{error.field}" if error.field else field
        raise


Filters = Annotated[TicketFilters, Depends(ticket_filters)]
