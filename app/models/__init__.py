"""Every table of the service; alembic reads `Base.metadata` from here."""

from app.models.agent import Agent, AgentRole, Group, GroupMember
from app.models.api_key import AgentTokenSecret, ApiKey
from app.models.attachment import Attachment
from app.models.automation import Automation, AutomationRescan
from app.models.base import Base
from app.models.category import Category, CategoryWatcher
from app.models.channel import ChannelClaim, Conversation, InboundMessage, MessagingChannel, OutboundMessage
from app.models.comment import Comment, Presence, TicketLink
from app.models.contact import Contact, ContactIdentity, Organization
from app.models.custom_field import CustomFieldDefinition
from app.models.data_request import DataRequest
from app.models.event import Event
from app.models.idempotency_key import IdempotencyKey
from app.models.macro import Macro
from app.models.notification import Notification, NotificationEmail
from app.models.portal import CustomerLink, PortalToken, TicketRating
from app.models.sla import BusinessCalendar, SlaPolicy, TicketSla
from app.models.status import TicketStatus
from app.models.ticket import TagCount, Ticket, TicketHistory, tag_count_changes
from app.models.trigger import Trigger
from app.models.view import TicketView
from app.models.webhook import DispatchCursor, Webhook, WebhookAttempt, WebhookDelivery
from app.models.workspace import Workspace

__all__ = [
    "Agent",
    "AgentRole",
    "AgentTokenSecret",
    "ApiKey",
    "Attachment",
    "Automation",
    "AutomationRescan",
    "Base",
    "BusinessCalendar",
    "Category",
    "CategoryWatcher",
    "ChannelClaim",
    "Comment",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "CustomFieldDefinition",
    "CustomerLink",
    "DataRequest",
    "DispatchCursor",
    "Event",
    "Group",
    "GroupMember",
    "IdempotencyKey",
    "InboundMessage",
    "Macro",
    "MessagingChannel",
    "Notification",
    "NotificationEmail",
    "Organization",
    "OutboundMessage",
    "PortalToken",
    "Presence",
    "SlaPolicy",
    "TagCount",
    "Ticket",
    "TicketHistory",
    "TicketLink",
    "TicketRating",
    "TicketSla",
    "TicketStatus",
    "TicketView",
    "Trigger",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "Workspace",
    "tag_count_changes",
]
