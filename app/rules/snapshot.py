"""A workspace's rules, read once per process and kept until they change.

Triggers, automations, SLA policies, business calendars, groups' assignment policies, ticket statuses,
custom field definitions and the category tree change rarely and are read by every ticket change. A process
keeps each workspace's rules with the workspace's `rules_version`, which a database trigger moves, to a
value never used before, in the transaction of any change to those tables (to categories: any that
changes the tree). A transaction reads the version once (one indexed read) and loads the rules again
only when it moved: a rule change is seen by the next transaction of every process.

What is kept are copies that belong to no session (transient instances and frozen records): they are
read, never written through.
"""

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import bindparam, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from app.calendars.business_time import Calendar
from app.calendars.compiled import calendar_of
from app.kit.plain import PlainStatement
from app.kit.transaction import transaction_info
from app.models import (
    Automation,
    BusinessCalendar,
    Category,
    CustomFieldDefinition,
    Group,
    SlaPolicy,
    TicketStatus,
    Trigger,
    Workspace,
)
from app.models.base import Base
from app.models.enums import AssignmentStrategy, Availability, CustomFieldEntity, StatusKind
from app.rules.conditions import calendars_used, fields_used

# Workspaces whose rules a process keeps; the least recently used beyond this are read again.
KEPT_WORKSPACES = 1024
_RULE_MODELS = (
    Trigger,
    Automation,
    SlaPolicy,
    BusinessCalendar,
    Group,
    TicketStatus,
    CustomFieldDefinition,
    Category,
)
_RULE_TABLES = frozenset(model.__table__ for model in _RULE_MODELS)
_IN_TRANSACTION = "rules"

_VERSION = PlainStatement(select(Workspace.rules_version).where(Workspace.id == bindparam("workspace_id")))

ModelT = TypeVar("ModelT", bound=Base)


@dataclass(frozen=True, slots=True)
class StatusRef:
    """What ticket rules need of a status."""

    id: UUID
    name: str
    kind: StatusKind
    active: bool
    pauses_sla: bool


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    strategy: AssignmentStrategy
    assign_to_away: bool

    @property
    def available(self) -> list[Availability]:
        """The availabilities in which the group's agents receive tickets."""
        return [Availability.online, Availability.away] if self.assign_to_away else [Availability.online]


@dataclass(frozen=True, slots=True)
class CompiledConditions:
    """What a rule's conditions read, worked out once: the fields and the calendars they ask about."""

    conditions: dict[str, Any]
    fields: frozenset[str]
    calendar_ids: frozenset[UUID]

    @classmethod
    def of(cls, conditions: dict[str, Any]) -> "CompiledConditions":
        return cls(conditions, frozenset(fields_used(conditions)), frozenset(calendars_used(conditions)))


@dataclass(frozen=True)
class Rules:
    version: int
    triggers: tuple[Trigger, ...]
    """Active, in the order they run."""
    trigger_conditions: Mapping[UUID, CompiledConditions]
    automations: tuple[Automation, ...]
    """Active, in the order they run."""
    automation_conditions: Mapping[UUID, CompiledConditions]
    policies: Mapping[UUID, SlaPolicy]
    """Every policy, active or not: a clock keeps the policy that started it."""
    active_policies: tuple[SlaPolicy, ...]
    policy_conditions: Mapping[UUID, CompiledConditions]
    calendars: Mapping[UUID, Calendar]
    groups: Mapping[UUID, GroupPolicy]
    statuses: Mapping[UUID, StatusRef]
    default_statuses: Mapping[StatusKind, StatusRef]
    custom_fields: Mapping[CustomFieldEntity, tuple[CustomFieldDefinition, ...]]
    """Active definitions, in display order."""
    category_parents: Mapping[UUID, UUID | None]
    """Every category's parent, active or not: a ticket keeps a category that was deactivated."""
    policy_fields: frozenset[str] = field(init=False)
    policy_calendar_ids: frozenset[UUID] = field(init=False)
    events_listened: frozenset[str] = field(init=False)
    automation_fields: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        compiled = [self.policy_conditions[policy.id] for policy in self.active_policies]
        object.__setattr__(self, "policy_fields", frozenset().union(*(c.fields for c in compiled)))
        object.__setattr__(
            self, "policy_calendar_ids", frozenset().union(*(c.calendar_ids for c in compiled))
        )
        object.__setattr__(
            self, "events_listened", frozenset(name for trigger in self.triggers for name in trigger.events)
        )
        object.__setattr__(
            self,
            "automation_fields",
            frozenset().union(*(self.automation_conditions[a.id].fields for a in self.automations)),
        )

    def status(self, status_id: UUID | None, kind: StatusKind | None) -> StatusRef | None:
        """The status with this id, or the default status of this kind."""
        if status_id is not None:
            return self.statuses.get(status_id)
        return self.default_statuses.get(kind) if kind is not None else None

    @property
    def default_calendar(self) -> Calendar | None:
        """The workspace's first calendar, which counts business time where no SLA policy names one."""
        return next(iter(self.calendars.values()), None)

    def category_path(self, category_id: UUID) -> list[UUID]:
        """The category and the categories above it."""
        path: list[UUID] = []
        current: UUID | None = category_id
        # Moves are serialised so that the tree has no cycle; the check only keeps a broken one finite.
        while current is not None and current not in path:
            path.append(current)
            current = self.category_parents.get(current)
        return path


_kept: OrderedDict[UUID, Rules] = OrderedDict()


async def rules_of(session: AsyncSession, workspace_id: UUID) -> Rules:
    """The workspace's rules as this transaction sees them."""
    in_transaction: dict[UUID, Rules] = transaction_info(session).setdefault(_IN_TRANSACTION, {})
    if workspace_id in in_transaction:
        return in_transaction[workspace_id]
    row = await _VERSION.fetchrow(session, {"workspace_id": workspace_id})
    return await rules_as_of(session, workspace_id, row["rules_version"] if row is not None else -1)


async def rules_as_of(session: AsyncSession, workspace_id: UUID, version: int) -> Rules:
    """The workspace's rules at `version`, which the caller read in a statement of this transaction
    (saving that read), for the rest of the transaction."""
    in_transaction: dict[UUID, Rules] = transaction_info(session).setdefault(_IN_TRANSACTION, {})
    rules = _kept.get(workspace_id)
    if rules is None or rules.version != version:
        rules = await _load(session, workspace_id, version)
        _kept[workspace_id] = rules
    _kept.move_to_end(workspace_id)
    while len(_kept) > KEPT_WORKSPACES:
        _kept.popitem(last=False)
    in_transaction[workspace_id] = rules
    return rules


async def _load(session: AsyncSession, workspace_id: UUID, version: int) -> Rules:
    triggers = await _copies(
        session, Trigger, workspace_id, Trigger.active, order=(Trigger.position, Trigger.name, Trigger.id)
    )
    automations = await _copies(
        session,
        Automation,
        workspace_id,
        Automation.active,
        order=(Automation.position, Automation.name, Automation.id),
    )
    policies = await _copies(
        session, SlaPolicy, workspace_id, order=(SlaPolicy.position, SlaPolicy.name, SlaPolicy.id)
    )
    # In the order they were made: the first is the workspace's default.
    calendars = await _copies(
        session, BusinessCalendar, workspace_id, order=(BusinessCalendar.created_at, BusinessCalendar.id)
    )
    groups = await _copies(session, Group, workspace_id)
    statuses = await _copies(session, TicketStatus, workspace_id)
    definitions = await _copies(
        session,
        CustomFieldDefinition,
        workspace_id,
        CustomFieldDefinition.active,
        order=(CustomFieldDefinition.position, CustomFieldDefinition.id),
    )
    category_parents = await session.execute(
        select(Category.id, Category.parent_id).where(Category.workspace_id == workspace_id)
    )
    refs = {
        status.id: StatusRef(status.id, status.name, status.kind, status.active, status.pauses_sla)
        for status in statuses
    }
    return Rules(
        version=version,
        triggers=tuple(triggers),
        trigger_conditions={trigger.id: CompiledConditions.of(trigger.conditions) for trigger in triggers},
        automations=tuple(automations),
        automation_conditions={
            automation.id: CompiledConditions.of(automation.conditions) for automation in automations
        },
        policies={policy.id: policy for policy in policies},
        active_policies=tuple(policy for policy in policies if policy.active),
        policy_conditions={policy.id: CompiledConditions.of(policy.conditions) for policy in policies},
        calendars={calendar.id: calendar_of(calendar) for calendar in calendars},
        groups={group.id: GroupPolicy(group.assignment_strategy, group.assign_to_away) for group in groups},
        statuses=refs,
        default_statuses={status.kind: refs[status.id] for status in statuses if status.is_default},
        custom_fields={
            entity: tuple(definition for definition in definitions if definition.entity is entity)
            for entity in CustomFieldEntity
        },
        category_parents={category_id: parent_id for category_id, parent_id in category_parents},
    )


async def _copies(
    session: AsyncSession, model: type[ModelT], workspace_id: UUID, *where: Any, order: tuple[Any, ...] = ()
) -> list[ModelT]:
    """The workspace's rows as instances of no session, read as plain rows."""
    table = model.__table__
    statement = select(table).where(table.c.workspace_id == workspace_id, *where).order_by(*order)
    return [model(**row) for row in (await session.execute(statement)).mappings()]


@event.listens_for(Session, "after_flush")
def _forget_changed_rules(session: Session, _: Any) -> None:
    """A transaction that changes rules reads them again, with its own change."""
    if any(
        isinstance(instance, _RULE_MODELS) for instance in (*session.new, *session.dirty, *session.deleted)
    ):
        transaction_info(session).pop(_IN_TRANSACTION, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_rule_statement(state: ORMExecuteState) -> None:
    """The same for changes made by UPDATE or DELETE statements rather than through instances."""
    writes = state.is_update or state.is_delete or state.is_insert
    on_rules = getattr(state.statement, "table", None) in _RULE_TABLES
    if writes and on_rules:
        transaction_info(state.session).pop(_IN_TRANSACTION, None)
