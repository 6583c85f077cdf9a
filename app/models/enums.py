import enum


class Locale(enum.StrEnum):
    """The language of the texts the service writes in a workspace (app/kit/texts.py)."""

    vi = "vi"
    en = "en"


class Role(enum.StrEnum):
    viewer = "viewer"
    agent = "agent"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]


_ROLE_RANK = {Role.viewer: 0, Role.agent: 1, Role.admin: 2}


class Permission(enum.StrEnum):
    """What an agent with a custom role may do (app/api/permissions.py says which operations each covers)."""

    tickets_access = "tickets.access"
    tickets_create = "tickets.create"
    tickets_edit = "tickets.edit"
    tickets_delete = "tickets.delete"
    tickets_assign = "tickets.assign"
    tickets_merge = "tickets.merge"
    comments_create = "comments.create"
    contacts_access = "contacts.access"
    contacts_create = "contacts.create"
    contacts_edit = "contacts.edit"
    contacts_delete = "contacts.delete"
    reference_data_manage = "reference_data.manage"
    reports_see = "reports.see"


class Scope(enum.StrEnum):
    """What an API key may do, within its role (app/api/scopes.py says which operations each covers)."""

    tickets_read = "tickets:read"
    tickets_write = "tickets:write"
    notes_read = "notes:read"
    comments_write = "comments:write"
    contacts_read = "contacts:read"
    contacts_write = "contacts:write"
    agents_write = "agents:write"
    events_read = "events:read"
    reports_read = "reports:read"
    settings_read = "settings:read"
    channels_manage = "channels:manage"
    webhooks_manage = "webhooks:manage"
    admin = "admin"

    @property
    def least_role(self) -> Role:
        """The role a key needs for the scope to be of use."""
        if self in (Scope.channels_manage, Scope.webhooks_manage, Scope.admin):
            return Role.admin
        if self.value.endswith(":write"):
            return Role.agent
        return Role.viewer


class Availability(enum.StrEnum):
    online = "online"
    away = "away"
    offline = "offline"


class StatusKind(enum.StrEnum):
    new = "new"
    open = "open"
    pending = "pending"
    on_hold = "on_hold"
    solved = "solved"
    closed = "closed"


# Declared lowest first, so that PostgreSQL orders the enum by urgency.
class Priority(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class TicketType(enum.StrEnum):
    question = "question"
    incident = "incident"
    problem = "problem"
    task = "task"


class Channel(enum.StrEnum):
    api = "api"
    web = "web"
    chat = "chat"
    email = "email"
    messenger = "messenger"
    zalo = "zalo"
    # A call record from a switchboard.
    call = "call"


class IdentityKind(enum.StrEnum):
    email = "email"
    phone = "phone"
    messenger = "messenger"
    zalo = "zalo"
    chat = "chat"
    external = "external"


class CustomFieldEntity(enum.StrEnum):
    ticket = "ticket"
    contact = "contact"


class CustomFieldType(enum.StrEnum):
    text = "text"
    textarea = "textarea"
    integer = "integer"
    decimal = "decimal"
    date = "date"
    datetime = "datetime"
    checkbox = "checkbox"
    dropdown = "dropdown"
    multiselect = "multiselect"
    regex = "regex"


class ViewVisibility(enum.StrEnum):
    """Who sees a saved view: its owner, the members of its groups, or every agent."""

    personal = "personal"
    groups = "groups"
    everyone = "everyone"


class TicketAccess(enum.StrEnum):
    """`all` tickets of the workspace, or only those of the agent's groups and watched categories."""

    all = "all"
    restricted = "restricted"


class ActorType(enum.StrEnum):
    agent = "agent"
    api_key = "api_key"
    contact = "contact"
    system = "system"
    trigger = "trigger"
    # A message that arrived on a channel (actor_id: the channel).
    channel = "channel"


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class CommentAuthor(enum.StrEnum):
    agent = "agent"
    contact = "contact"
    system = "system"


class LinkKind(enum.StrEnum):
    related = "related"
    duplicate_of = "duplicate_of"
    follow_up_of = "follow_up_of"


class PortalTokenKind(enum.StrEnum):
    # Sent by email, exchanged once for a session.
    magic_link = "magic_link"
    session = "session"


class PresenceState(enum.StrEnum):
    viewing = "viewing"
    typing = "typing"


class AssignmentStrategy(enum.StrEnum):
    """How a group hands its new tickets to its agents."""

    manual = "manual"
    round_robin = "round_robin"
    least_loaded = "least_loaded"
    skills = "skills"


class SlaMetric(enum.StrEnum):
    first_response = "first_response"
    next_response = "next_response"
    resolution = "resolution"


class SlaState(enum.StrEnum):
    """Where a metric's current cycle is: counting, stopped by the status, met, or no longer due."""

    running = "running"
    paused = "paused"
    fulfilled = "fulfilled"
    cancelled = "cancelled"


class ChannelKind(enum.StrEnum):
    chat = "chat"
    api = "api"
    messenger = "messenger"
    zalo = "zalo"
    email = "email"


class InboundState(enum.StrEnum):
    received = "received"
    processed = "processed"
    ignored = "ignored"
    failed = "failed"


class DeliveryState(enum.StrEnum):
    queued = "queued"
    sent = "sent"
    failed = "failed"
    # Not sent on purpose, by a rule that stops mail loops (e.g. an automatic reply to automatic mail).
    suppressed = "suppressed"


class NotificationKind(enum.StrEnum):
    """Why an agent was notified of a ticket change; when several apply, the most specific one is kept
    (the order below, most specific first: `app/notifications/service.py`)."""

    mentioned = "mentioned"
    assigned = "assigned"
    sla_breached = "sla_breached"
    sla_warning = "sla_warning"
    customer_replied = "customer_replied"
    category_opened = "category_opened"
    category_closed = "category_closed"
