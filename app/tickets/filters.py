"""The query parameters that filter ticket lists and counts, parsed once for both."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from fastapi import Depends, Query, Request

from app.api.deps import current_principal
from app.auth.principal import Principal
from app.errors import BadRequest
from app.kit.schemas import AwareDatetime
from app.kit.search import TextQuery, parse_query
from app.models.enums import Channel, Priority, StatusKind, TicketType

TicketSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "priority", "-priority", "due_at", "-due_at",
    "sla_due_at", "-sla_due_at",
]  # fmt: skip
TicketGroupBy = Literal[
    "status", "status_kind", "priority", "type", "assignee", "group", "category", "channel"
]


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
    group_id: UUID | _NoneMarker | None = None
    requester_id: UUID | None = None
    parent_id: UUID | _NoneMarker | None = None
    category_id: UUID | None = None
    tags: list[str] = field(default_factory=list)
    external_ref: dict[str, str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    sla_breached: bool | None = None
    has_missed_call: bool | None = None
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


def _reference(name: str, value: str | None, principal: Principal, *, allow_me: bool = False) -> Any:
    if value is None:
        return None
    if value == "none":
        return TicketFilters.NONE
    if value == "me" and allow_me:
        if principal.agent_id is None:
            raise BadRequest(
                f"{name}=me needs an agent token: this credential does not act as an agent",
                field=name,
                code="invalid_filter",
            )
        return principal.agent_id
    try:
        return UUID(value)
    except ValueError as exc:
        expected = "an id, `me` or `none`" if allow_me else "an id or `none`"
        raise BadRequest(f"{name} must be {expected}", field=name, code="invalid_filter") from exc


Multi = Annotated[list[str] | None, Query(max_length=50)]
Reference = Annotated[str | None, Query(max_length=64)]


async def ticket_filters(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    status_id: Annotated[Multi, Query(description="Status ids (repeat or comma-separate)")] = None,
    status_kind: Annotated[Multi, Query(description="new, open, pending, on_hold, solved, closed")] = None,
    priority: Annotated[Multi, Query(description="urgent, high, normal, low")] = None,
    type: Annotated[Multi, Query(description="question, incident, problem, task")] = None,
    channel: Annotated[
        Multi, Query(description="Channel of origin: api, web, chat, email, messenger, zalo, call")
    ] = None,
    assignee: Annotated[Reference, Query(description="An agent id, `me` or `none`")] = None,
    group: Annotated[Reference, Query(description="A group id or `none`")] = None,
    requester_id: Annotated[UUID | None, Query()] = None,
    parent: Annotated[
        Reference, Query(description="A parent ticket id, or `none` for top-level tickets")
    ] = None,
    category_id: Annotated[UUID | None, Query(description="This category and its descendants")] = None,
    tag: Annotated[Multi, Query(description="Tickets carrying all these tags")] = None,
    external_ref: Annotated[
        str | None, Query(max_length=300, description="`system:id`, e.g. `crm:OPP-1042`")
    ] = None,
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
    sla_due_after: Annotated[
        AwareDatetime | None, Query(description="The soonest SLA due time is at or after this")
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
        assignee_id=_reference("assignee", assignee, principal, allow_me=True),
        group_id=_reference("group", group, principal),
        requester_id=requester_id,
        parent_id=_reference("parent", parent, principal),
        category_id=category_id,
        tags=[tag_value.lower() for tag_value in _split(tag)],
        external_ref=reference,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        updated_before=updated_before,
        sla_breached=sla_breached,
        has_missed_call=has_missed_call,
        sla_due_after=sla_due_after,
        sla_due_before=sla_due_before,
        deleted=deleted,
        text=_text_query(q, request.app.state.settings.default_phone_region),
    )


def _text_query(q: str | None, phone_region: str) -> TextQuery | None:
    """`q` read, or None when it holds nothing to look for (blank), which filters nothing."""
    parsed = parse_query(q, phone_region) if q else None
    return parsed if parsed is not None and parsed.terms else None


Filters = Annotated[TicketFilters, Depends(ticket_filters)]
