"""Conditions on a ticket, shared by triggers and SLA policies: what they may say, and whether they hold.

A rule's conditions are `{"all": [...], "any": [...]}`: every condition of `all` must hold, and at least
one of `any` when it has any. A condition names a field, an operator and a value, in JSON form: ids and
enum members as strings.
"""

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from app.kit.schemas import RequestModel
from app.kit.search import fold
from app.models.enums import Channel, CommentAuthor, Priority, SlaMetric, StatusKind, TicketType


class Operator(enum.StrEnum):
    equals = "equals"
    not_equals = "not_equals"
    in_ = "in"
    not_in = "not_in"
    contains = "contains"
    not_contains = "not_contains"
    changed = "changed"
    changed_to = "changed_to"
    changed_from = "changed_from"
    within = "within"
    outside = "outside"
    at_least = "at_least"
    less_than = "less_than"


class _Kind(enum.Enum):
    text = "text"
    choice = "choice"
    id = "id"
    flag = "flag"
    items = "items"
    json = "json"
    hours = "hours"
    since = "since"


_SCALAR = {
    Operator.equals,
    Operator.not_equals,
    Operator.in_,
    Operator.not_in,
    Operator.changed,
    Operator.changed_to,
    Operator.changed_from,
}
_OPERATORS = {
    _Kind.text: _SCALAR | {Operator.contains, Operator.not_contains},
    _Kind.choice: _SCALAR,
    _Kind.id: _SCALAR,
    _Kind.flag: {Operator.equals, Operator.changed, Operator.changed_to},
    _Kind.items: {Operator.contains, Operator.not_contains, Operator.changed},
    _Kind.json: _SCALAR | {Operator.contains, Operator.not_contains},
    _Kind.hours: {Operator.within, Operator.outside},
    _Kind.since: {Operator.at_least, Operator.less_than},
}

CUSTOM_FIELD_PREFIX = "custom_fields."
# Field: its kind, and for a choice the values it takes.
FIELDS: dict[str, tuple[_Kind, type[enum.Enum] | None]] = {
    "subject": (_Kind.text, None),
    "description": (_Kind.text, None),
    "status_kind": (_Kind.choice, StatusKind),
    "status_id": (_Kind.id, None),
    "priority": (_Kind.choice, Priority),
    "type": (_Kind.choice, TicketType),
    "channel": (_Kind.choice, Channel),
    "group_id": (_Kind.id, None),
    "assignee_id": (_Kind.id, None),
    "requester_id": (_Kind.id, None),
    # Matches the category and every category under it.
    "category_id": (_Kind.id, None),
    "tags": (_Kind.items, None),
    "required_skills": (_Kind.items, None),
    "internal": (_Kind.flag, None),
    "requester_vip": (_Kind.flag, None),
    # The value is a calendar's id: whether now is within its working hours.
    "business_hours": (_Kind.hours, None),
    # Of the event, for triggers: the comment added (ticket.comment_added), the metric (ticket.sla_*).
    "comment_public": (_Kind.flag, None),
    "comment_author": (_Kind.choice, CommentAuthor),
    "sla_metric": (_Kind.choice, SlaMetric),
    # For automations: the hours since a moment of the ticket (see `TIME_FIELDS`).
    "hours_since_created": (_Kind.since, None),
    "hours_since_updated": (_Kind.since, None),
    "hours_since_assigned": (_Kind.since, None),
    "hours_since_solved": (_Kind.since, None),
    "hours_since_status_entered": (_Kind.since, None),
    "hours_since_last_customer_reply": (_Kind.since, None),
    "hours_since_last_agent_reply": (_Kind.since, None),
}
EVENT_FIELDS = frozenset({"comment_public", "comment_author", "sla_metric"})
# Each time field and the ticket's column it counts from; a ticket whose column is empty (never solved,
# no reply yet) meets no condition on it. "Status entered": the current kind of status (new, open,
# pending, on hold, solved).
TIME_FIELDS = {
    "hours_since_created": "created_at",
    "hours_since_updated": "updated_at",
    "hours_since_assigned": "assigned_at",
    "hours_since_solved": "solved_at",
    "hours_since_status_entered": "status_kind_changed_at",
    "hours_since_last_customer_reply": "last_customer_reply_at",
    "hours_since_last_agent_reply": "last_agent_reply_at",
}
MAX_HOURS = 24 * 365 * 2
# Time conditions count to the millisecond: a ticket due at a moment meets its conditions at that moment.
_TIME_TOLERANCE_HOURS = 0.001 / 3600
FIELD_NAMES = [*FIELDS, f"{CUSTOM_FIELD_PREFIX}<key>"]
_MAX_VALUES = 100

FieldName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=80),
    Field(description=f"One of {', '.join(FIELD_NAMES)}", examples=["priority"]),
]


def _kind_of(name: str) -> tuple[_Kind, type[enum.Enum] | None]:
    if name.startswith(CUSTOM_FIELD_PREFIX) and len(name) > len(CUSTOM_FIELD_PREFIX):
        return _Kind.json, None
    if name not in FIELDS:
        raise ValueError(f"unknown field {name!r}; the fields are {', '.join(FIELD_NAMES)}")
    return FIELDS[name]


def _canonical(kind: _Kind, choices: type[enum.Enum] | None, value: Any) -> Any:
    """A value in the form facts have: enum values and ids as strings, texts folded for `contains`."""
    if value is None:
        return None
    if kind is _Kind.choice and choices is not None:
        try:
            return choices(value).value
        except ValueError:
            allowed = ", ".join(str(member.value) for member in choices)
            raise ValueError(f"{value!r} is not one of {allowed}") from None
    if kind in (_Kind.id, _Kind.hours):
        try:
            return str(UUID(str(value)))
        except ValueError:
            raise ValueError(f"{value!r} is not an id") from None
    if kind is _Kind.flag:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind in (_Kind.text, _Kind.items):
        if not isinstance(value, str) or not value or len(value) > 500:
            raise ValueError("must be a non-empty string of at most 500 characters")
        return value.lower() if kind is _Kind.items else value
    return value


class Condition(RequestModel):
    field: FieldName
    operator: Operator
    value: Any = Field(
        None,
        description="For `in`/`not_in` a list; for `changed` nothing; for `within`/`outside` a calendar's "
        "id; for `at_least`/`less_than` a number of hours; for `contains` on tags a tag (or a list: all of "
        "them); otherwise one value (null: empty)",
    )
    calendar_id: UUID | None = Field(
        None,
        exclude_if=lambda calendar_id: calendar_id is None,
        description="Only for the `hours_since_*` fields: count the business hours of this calendar "
        "rather than calendar hours",
    )

    @model_validator(mode="after")
    def _fits_the_field(self) -> Self:
        kind, choices = _kind_of(self.field)
        if self.operator not in _OPERATORS[kind]:
            allowed = ", ".join(sorted(operator.value for operator in _OPERATORS[kind]))
            raise ValueError(f"{self.field} takes the operators {allowed}")
        if self.calendar_id is not None and kind is not _Kind.since:
            raise ValueError("only the hours_since_* fields take a calendar_id")
        if kind is _Kind.since:
            hours = self.value
            if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= MAX_HOURS:
                raise ValueError(f"{self.field} takes a number of hours above 0, at most {MAX_HOURS}")
            return self
        if self.operator is Operator.changed:
            if self.value is not None:
                raise ValueError("`changed` takes no value")
            return self
        if self.operator in (Operator.in_, Operator.not_in) or (
            kind is _Kind.items and isinstance(self.value, list)
        ):
            if not isinstance(self.value, list) or not 1 <= len(self.value) <= _MAX_VALUES:
                raise ValueError(f"`{self.operator.value}` takes a list of 1 to {_MAX_VALUES} values")
            self.value = [_canonical(kind, choices, item) for item in self.value]
            return self
        if self.value is None and kind in (_Kind.hours, _Kind.items, _Kind.flag):
            raise ValueError(f"{self.field} needs a value")
        self.value = _canonical(kind, choices, self.value)
        return self


class Conditions(RequestModel):
    all: Annotated[list[Condition], Field(max_length=50)] = []
    any: Annotated[list[Condition], Field(max_length=50)] = []


CHANGE_OPERATORS = frozenset({Operator.changed, Operator.changed_to, Operator.changed_from})


def refuse_event_conditions(conditions: Conditions) -> Conditions:
    """For rules about a ticket's state (SLA policies, automations): no conditions on a change or an event."""
    for part in (conditions.all, conditions.any):
        for condition in part:
            if condition.operator in CHANGE_OPERATORS or condition.field in EVENT_FIELDS:
                raise ValueError(
                    f"{condition.field} {condition.operator.value}: only triggers look at changes and events"
                )
    return conditions


def refuse_time_conditions(conditions: Conditions) -> Conditions:
    """For rules that act on a change (triggers) or at once (SLA policies): no `hours_since_*` conditions."""
    for part in (conditions.all, conditions.any):
        for condition in part:
            if condition.field in TIME_FIELDS:
                raise ValueError(f"{condition.field}: only automations look at the time since")
    return conditions


@dataclass(frozen=True)
class Facts:
    """What conditions are checked against.

    `values` are the ticket's fields in JSON form, with its custom fields as `custom_fields.<key>`,
    `requester_vip`, and `category_path` (its category and the categories above it). `changes` are the
    fields the change being handled set, old and new. `in_business_hours` answers for a calendar's id;
    `hours_since` for a time field and a calendar's id (or None: calendar hours), None when the ticket
    has no such moment.
    """

    values: dict[str, Any]
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    in_business_hours: Callable[[str], bool] = lambda calendar_id: False
    hours_since: Callable[[str, str | None], float | None] = lambda name, calendar_id: None


def matches(conditions: dict[str, Any], facts: Facts) -> bool:
    """Whether stored conditions (a `Conditions` as JSON) hold for the facts."""
    every = conditions.get("all", [])
    some = conditions.get("any", [])
    return all(_holds(c, facts) for c in every) and (not some or any(_holds(c, facts) for c in some))


def fields_used(conditions: dict[str, Any]) -> set[str]:
    return {condition["field"] for part in ("all", "any") for condition in conditions.get(part, [])}


def calendars_used(conditions: dict[str, Any]) -> set[UUID]:
    return {
        UUID(condition["value"])
        for part in ("all", "any")
        for condition in conditions.get(part, [])
        if condition["field"] == "business_hours"
    }


def _holds(condition: dict[str, Any], facts: Facts) -> bool:
    name, operator, expected = condition["field"], Operator(condition["operator"]), condition.get("value")
    if operator in (Operator.within, Operator.outside):
        return facts.in_business_hours(expected) is (operator is Operator.within)
    if operator in (Operator.at_least, Operator.less_than):
        hours = facts.hours_since(name, condition.get("calendar_id"))
        if hours is None:
            return False
        if operator is Operator.at_least:
            return hours + _TIME_TOLERANCE_HOURS >= expected
        return hours < expected
    if operator in (Operator.changed, Operator.changed_to, Operator.changed_from):
        if name not in facts.changes:
            return False
        old, new = facts.changes[name]
        if operator is Operator.changed:
            return True
        return _equal(name, new if operator is Operator.changed_to else old, expected)
    actual = facts.values.get(name)
    if operator is Operator.equals:
        return _equal(name, actual, expected)
    if operator is Operator.not_equals:
        return not _equal(name, actual, expected)
    if operator is Operator.in_:
        return any(_equal(name, actual, item) for item in expected)
    if operator is Operator.not_in:
        return not any(_equal(name, actual, item) for item in expected)
    contained = _contains(actual, expected)
    return contained if operator is Operator.contains else not contained


def _equal(name: str, actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):  # a category path: the category or one above it
        return expected in actual
    if isinstance(actual, str) and isinstance(expected, str):
        return fold(actual) == fold(expected)
    return actual == expected


def _contains(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(actual, list):
        wanted: Iterable[Any] = expected if isinstance(expected, list) else [expected]
        have = {item.lower() if isinstance(item, str) else item for item in actual}
        return all((item.lower() if isinstance(item, str) else item) in have for item in wanted)
    if isinstance(actual, str) and isinstance(expected, str):
        return fold(expected) in fold(actual)
    return False
