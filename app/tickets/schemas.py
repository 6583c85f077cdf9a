from datetime import datetime
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.agents.schemas import Skills
from app.kit.schemas import (
    AwareDatetime,
    CustomFieldValues,
    ExternalRefs,
    LongText,
    Name,
    Page,
    RequestModel,
    ResponseModel,
    Tag,
    UpdateModel,
)
from app.models.enums import (
    ActorType,
    AssignmentStrategy,
    Availability,
    Channel,
    ChannelKind,
    CommentAuthor,
    LinkKind,
    Priority,
    SlaMetric,
    SlaState,
    StatusKind,
    TicketType,
)

Subject = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Tags = Annotated[list[Tag], Field(max_length=50)]
AgentIds = Annotated[list[UUID], Field(max_length=100)]
MAX_CCS = 50
ContactIds = Annotated[list[UUID], Field(max_length=MAX_CCS)]
MAX_BULK = 100


class RequesterInline(RequestModel):
    """Finds the contact by email, then by phone, or creates it with the name given."""

    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=50)] | None = None
    name: Name | None = None

    @model_validator(mode="after")
    def _identifies_someone(self) -> Self:
        if not (self.email or self.phone):
            raise ValueError("give an email address or a phone number")
        return self


def _one_of(model: Any, first: str, second: str) -> None:
    if first in model.model_fields_set and second in model.model_fields_set:
        raise ValueError(f"give either {first} or {second}, not both")


class TicketCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "Giao hàng chậm, khách hỏi tình trạng đơn DH-1042",
                    "description": "Khách gọi tổng đài: đơn đặt từ thứ hai vẫn chưa được giao.",
                    "priority": "high",
                    "type": "question",
                    "channel": "call",
                    "tags": ["giao-hang"],
                    "requester": {"name": "Nguyễn Thị Lan", "phone": "0912 345 678"},
                    "external_refs": {"crm": "OPP-1042"},
                }
            ]
        }
    )
    subject: Subject
    description: LongText | None = None
    status_id: UUID | None = Field(None, description="A status of the workspace")
    status_kind: StatusKind | None = Field(None, description="Shortcut: the default status of this kind")
    priority: Priority = Priority.normal
    type: TicketType | None = None
    category_id: UUID | None = None
    group_id: UUID | None = None
    assignee_id: UUID | None = None
    requester_id: UUID | None = None
    requester: RequesterInline | None = None
    followers: AgentIds = []
    ccs: ContactIds = Field(
        [], description="Contacts (each with an email address) copied on the ticket's public email replies"
    )
    tags: Tags = []
    required_skills: Skills = Field(
        [], description="What the agent must know, for groups that assign by skills"
    )
    custom_fields: CustomFieldValues = {}
    channel: Channel = Channel.api
    external_refs: ExternalRefs = Field(
        {}, description='References in other systems, e.g. {"crm": "OPP-1042"}'
    )
    due_at: AwareDatetime | None = None
    parent_id: UUID | None = Field(None, description="Makes this ticket a sub-ticket of another")
    internal: bool = Field(
        False, description="Opened for colleagues: never shown to a contact, never sent out"
    )

    @model_validator(mode="after")
    def _exclusive_fields(self) -> Self:
        _one_of(self, "status_id", "status_kind")
        _one_of(self, "requester_id", "requester")
        return self


class TicketUpdate(UpdateModel):
    """The fields to change. `tags`, `followers` and `ccs` replace the lists; `add_*`/`remove_*` edit
    them."""

    subject: Subject = None
    description: LongText | None = None
    status_id: UUID = None
    status_kind: StatusKind = None
    priority: Priority = None
    type: TicketType | None = None
    category_id: UUID | None = None
    group_id: UUID | None = None
    assignee_id: UUID | None = None
    requester_id: UUID | None = None
    requester: RequesterInline = None
    followers: AgentIds = None
    add_followers: AgentIds = None
    remove_followers: AgentIds = None
    ccs: ContactIds = None
    add_ccs: ContactIds = None
    remove_ccs: ContactIds = None
    tags: Tags = None
    add_tags: Tags = None
    remove_tags: Tags = None
    required_skills: Skills = None
    custom_fields: CustomFieldValues = Field(None, description="Keys to set; a null value removes the key")
    external_refs: ExternalRefs = None
    due_at: AwareDatetime | None = None
    parent_id: UUID | None = None
    internal: bool = None

    @model_validator(mode="after")
    def _exclusive_fields(self) -> Self:
        _one_of(self, "status_id", "status_kind")
        _one_of(self, "requester_id", "requester")
        for edit in ("add_tags", "remove_tags"):
            _one_of(self, "tags", edit)
        for edit in ("add_followers", "remove_followers"):
            _one_of(self, "followers", edit)
        for edit in ("add_ccs", "remove_ccs"):
            _one_of(self, "ccs", edit)
        return self


class BulkUpdate(RequestModel):
    ids: Annotated[list[UUID], Field(min_length=1, max_length=MAX_BULK)]
    changes: TicketUpdate


class ChildrenSummary(ResponseModel):
    total: int
    unresolved: int = Field(description="Children not yet solved or closed")
    by_status_kind: dict[StatusKind, int]


class ReplyChannelOut(BaseModel):
    """Where public replies to the ticket go: the channel it came from."""

    channel_id: UUID
    kind: ChannelKind
    can_reply: bool = Field(description="Whether a public reply would be sent now")
    until: datetime | None = Field(
        None,
        description="Until when it can be (Messenger: 24 hours, or 7 days with HUMAN_AGENT, after the "
        "customer's last message)",
    )
    reason: str | None = Field(None, description="Why it cannot, when it cannot")


class SlaMetricOut(ResponseModel):
    metric: SlaMetric
    cycle: int = Field(description="1, or for next_response the customer message being answered")
    state: SlaState
    target_minutes: int
    business_hours: bool
    calendar_id: UUID | None
    started_at: datetime
    due_at: datetime | None = Field(description="While the clock runs; null when paused or done")
    elapsed_minutes: float = Field(description="Counted so far in this cycle, in the target's time")
    remaining_minutes: float = Field(description="Negative once overdue")
    warned_at: datetime | None
    breached_at: datetime | None
    fulfilled_at: datetime | None


def _minutes(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


class MinutesOut(ResponseModel):
    calendar: float | None = Field(description="Calendar minutes")
    business: float | None = Field(
        description="Business minutes of the ticket's calendar (its SLA policy's, else the workspace's "
        "first); null without a calendar, or for time before the ticket's metrics were kept"
    )

    @classmethod
    def of(cls, seconds: int | None, business_seconds: int | None) -> "MinutesOut":
        return cls(calendar=_minutes(seconds), business=_minutes(business_seconds))


class NextRepliesOut(ResponseModel):
    count: int = Field(description="Agents' public replies to customers' messages after the first reply")
    total: MinutesOut = Field(description="Their reply times added up (average: total / count)")


class TicketMetricsOut(ResponseModel):
    first_reply: MinutesOut = Field(description="Creation to the first public reply by an agent")
    next_replies: NextRepliesOut = Field(
        description="Each later reply time: a customer's first unanswered public message to the agent's "
        "public reply"
    )
    full_resolution: MinutesOut = Field(
        description="Creation to the last time it was solved; null while unresolved"
    )
    agent_wait: MinutesOut = Field(description="Time in pending statuses (the agent waits for the customer)")
    requester_wait: MinutesOut = Field(description="Time in new, open and on-hold statuses")
    reopens: int = Field(description="Times it went from solved or closed back to work")
    agent_replies: int = Field(description="Public replies by agents")
    awaiting_reply_since: datetime | None = Field(
        description="Since when a customer waits for a reply; null when nobody does"
    )
    status_kind_changed_at: datetime | None = Field(description="Since when its status kind holds")

    @classmethod
    def of(cls, values: Any) -> "TicketMetricsOut":
        """From a ticket, or a mapping of its columns."""
        get = values.get if isinstance(values, dict) else lambda name: getattr(values, name)
        return cls(
            first_reply=MinutesOut.of(get("first_reply_seconds"), get("first_reply_business_seconds")),
            next_replies=NextRepliesOut(
                count=get("next_reply_count"),
                total=MinutesOut.of(get("next_reply_seconds"), get("next_reply_business_seconds")),
            ),
            full_resolution=MinutesOut.of(get("resolution_seconds"), get("resolution_business_seconds")),
            agent_wait=MinutesOut.of(get("agent_wait_seconds"), get("agent_wait_business_seconds")),
            requester_wait=MinutesOut.of(
                get("requester_wait_seconds"), get("requester_wait_business_seconds")
            ),
            reopens=get("reopens"),
            agent_replies=get("agent_replies"),
            awaiting_reply_since=get("awaiting_reply_since"),
            status_kind_changed_at=get("status_kind_changed_at"),
        )


class TicketSlaOut(ResponseModel):
    policy_id: UUID
    metrics: list[SlaMetricOut]


class TicketOut(ResponseModel):
    id: UUID
    number: int
    subject: str
    description: str | None
    status_id: UUID
    status_kind: StatusKind
    priority: Priority
    type: TicketType | None
    category_id: UUID | None
    group_id: UUID | None
    assignee_id: UUID | None
    requester_id: UUID | None
    followers: list[UUID]
    ccs: list[UUID] = Field(description="Contacts copied on the ticket's public email replies")
    tags: list[str]
    required_skills: list[str]
    custom_fields: dict[str, Any]
    channel: Channel
    external_refs: dict[str, str]
    due_at: datetime | None
    parent_id: UUID | None
    internal: bool
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    last_public_comment_at: datetime | None
    last_public_comment_by: CommentAuthor | None = Field(description="Who wrote the last public comment")
    last_customer_reply_at: datetime | None = Field(description="The customer's last public reply")
    last_agent_reply_at: datetime | None = Field(description="An agent's last public reply")
    merged_into_id: UUID | None = Field(description="The ticket this one was merged into")
    sla_policy_id: UUID | None = Field(description="The SLA policy that applies")
    sla_due_at: datetime | None = Field(description="The soonest due time of the running SLA metrics")
    sla_breached: bool = Field(description="An SLA metric is overdue")
    solved_at: datetime | None
    closed_at: datetime | None
    deleted_at: datetime | None
    rating_score: int | None = Field(
        None, description="The customer's latest rating: 1 to 5, or null for one given as good or bad alone"
    )
    rating_good: bool | None = Field(None, description="Whether the latest rating is good; null: never rated")
    rated_at: datetime | None = Field(None, description="When the customer last rated the ticket")
    version: int
    sla: TicketSlaOut | None = Field(
        None, description="Each SLA metric: on single-ticket responses when a policy applies; null in lists"
    )
    children_summary: ChildrenSummary | None = Field(
        None, description="On single-ticket responses when the ticket has sub-tickets; null in lists"
    )
    reply_channel: ReplyChannelOut | None = Field(
        None, description="On single-ticket responses when the ticket came from a channel; null in lists"
    )


# What only single-ticket responses carry (lists and events leave them out).
SINGLE_TICKET_FIELDS = frozenset({"sla", "children_summary", "reply_channel"})


class BulkResult(ResponseModel):
    items: list[TicketOut]


class ChildrenPage(ResponseModel):
    items: list[TicketOut]
    next_cursor: str | None
    summary: ChildrenSummary


class HistoryEntry(ResponseModel):
    id: UUID
    change_id: UUID = Field(description="Entries written by one request share it")
    occurred_at: datetime
    actor_type: ActorType
    actor_id: UUID | None
    field: str
    old_value: Any
    new_value: Any


class CountBucket(ResponseModel):
    key: str | None = Field(description="The group's value (an id, a kind, a priority); null for none")
    count: int


class TicketCounts(ResponseModel):
    group_by: str
    total: int
    buckets: list[CountBucket]


class LinkCreate(RequestModel):
    ticket_id: UUID = Field(description="The other ticket")
    kind: LinkKind = Field(
        description="This ticket is `related` to, a `duplicate_of` or a `follow_up_of` the other"
    )


class LinkOut(ResponseModel):
    id: UUID
    ticket_id: UUID
    linked_ticket_id: UUID
    kind: LinkKind
    created_at: datetime


class ChildCreate(RequestModel):
    """A sub-ticket: the requester and category come from the parent unless given."""

    subject: Subject
    description: LongText | None = None
    priority: Priority | None = None
    type: TicketType | None = None
    category_id: UUID | None = None
    group_id: UUID | None = None
    assignee_id: UUID | None = None
    tags: Tags = []
    custom_fields: CustomFieldValues = {}
    due_at: AwareDatetime | None = None


class AssignRequest(RequestModel):
    """To an agent (`agent_id`), to a group (`group_id`, by its strategy or the one given), or both."""

    agent_id: UUID | None = Field(None, description="A member of the ticket's group (or of `group_id`)")
    group_id: UUID | None = Field(None, description="Moves the ticket to this group")
    strategy: AssignmentStrategy | None = Field(
        None, description="Chooses the agent this way instead of by the group's own strategy"
    )

    @model_validator(mode="after")
    def _says_where(self) -> Self:
        if self.agent_id is None and self.group_id is None and self.strategy is None:
            raise ValueError("give agent_id, group_id or strategy")
        if self.agent_id is not None and self.strategy is not None:
            raise ValueError("give either agent_id or strategy, not both")
        return self


class MergeRequest(RequestModel):
    into: UUID = Field(description="The ticket that receives this one's conversation")


class MergeResult(ResponseModel):
    ticket: TicketOut = Field(description="The merged ticket, now closed")
    into: TicketOut


class IncludedContact(ResponseModel):
    id: UUID
    name: str | None
    email: str | None
    phone: str | None
    vip: bool
    organization_id: UUID | None


class IncludedAgent(ResponseModel):
    id: UUID
    name: str
    email: str | None
    availability: Availability
    active: bool


class IncludedGroup(ResponseModel):
    id: UUID
    name: str


class IncludedOrganization(ResponseModel):
    id: UUID
    name: str
    domains: list[str]


class IncludedCategory(ResponseModel):
    id: UUID
    name: str
    parent_id: UUID | None


class Included(ResponseModel):
    """The records the tickets refer to, each once, for the types `include` named (null for the others)."""

    requesters: list[IncludedContact] | None = None
    assignees: list[IncludedAgent] | None = None
    groups: list[IncludedGroup] | None = None
    organizations: list[IncludedOrganization] | None = Field(
        None, description="The requesters' organizations"
    )
    categories: list[IncludedCategory] | None = None


# Only a response to `include` carries `included`: the others stay as they were.
class TicketPage(Page[TicketOut]):
    included: Included | None = Field(
        None,
        description="With `include`: the records the page's tickets refer to",
        exclude_if=lambda value: value is None,
    )


class TicketWithIncluded(TicketOut):
    included: Included | None = Field(
        None,
        description="With `include`: the records the ticket refers to",
        exclude_if=lambda value: value is None,
    )
