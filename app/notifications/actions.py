"""The `notify` action of rules: people told of a ticket with a macro's text, in the agents' feed and by
email, in the transaction of the change that fired the rule.

Agents are notified as the built-in notifications are: only active agents who are not viewers and may
see the ticket, once per ticket per transaction in the feed (`NotificationService`) and once by email.
The requester is only ever emailed, and never for a change that is an internal note. Emails are rows of
`notification_emails`, sent after commit by a worker through the workspace's notification channel;
without one, the email recipients are skipped and the ticket's history says so.
"""

from email.utils import make_msgid
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.auth.principal import Principal
from app.channels.adapters.mail.addresses import base_address
from app.channels.repository import claimed_addresses
from app.config import Settings
from app.contacts.repository import ContactRepository
from app.errors import Unprocessable
from app.kit.ids import new_id
from app.kit.transaction import remember, remembered
from app.macros.repository import MacroRepository
from app.macros.service import MacroService
from app.models import Comment, Ticket
from app.models.enums import NotificationKind, Role
from app.notifications.mail import REQUESTER
from app.notifications.repository import NotificationEmailRepository, NotificationRepository
from app.notifications.schemas import NotifyAction
from app.notifications.service import NotificationService
from app.rules.snapshot import rules_of
from app.tickets.changes import history_rows
from app.tickets.repository import TicketRepository

# What the transaction remembers of the emails it queued: (ticket id, recipient type, recipient id).
EMAILED = "notified_by_email"
AGENT = "agent"
SUBJECT_LENGTH = 1000


async def check_notify_action(
    session: AsyncSession, workspace_id: UUID, action: NotifyAction, field: str
) -> None:
    """What the action names must be of the workspace, so that it can run: a 422 naming the field."""
    macro = await MacroRepository(session, workspace_id).get(action.macro_id)
    if macro is None:
        raise Unprocessable(
            f"{field}.macro_id: no such macro", field=f"{field}.macro_id", code="unknown_reference"
        )
    if not macro.body.strip():
        raise Unprocessable(f"{field}.macro_id: the macro has no body to send", field=f"{field}.macro_id")
    agents = AgentRepository(session, workspace_id)
    for position, agent_id in enumerate(action.agent_ids):
        named = f"{field}.agent_ids.{position}"
        agent = await agents.get(agent_id)
        if agent is None:
            raise Unprocessable(f"{named}: no such agent", field=named, code="unknown_reference")
        if not agent.active or agent.role is Role.viewer:
            raise Unprocessable(
                f"{named}: {agent.name!r} is inactive or a viewer: never notified", field=named
            )


async def run_notify(
    session: AsyncSession,
    settings: Settings,
    actor: Principal,
    ticket: Ticket,
    action: NotifyAction,
    *,
    comment: Comment | None = None,
) -> None:
    """Notify the action's recipients of `ticket`, as `actor` (a trigger, an automation); `comment`: the
    comment whose change fired the rule, if it was one. Raises Unprocessable before writing anything
    when the macro is gone or renders nothing."""
    macro = await MacroRepository(session, ticket.workspace_id).get(action.macro_id)
    if macro is None or not macro.body.strip():
        raise Unprocessable("the macro of a notify action was deleted or has no body", field="actions")
    text = await MacroService(session, actor, settings).render_for(macro, ticket)
    agent_ids = await _agents_named(session, ticket, action)
    if "feed" in action.via:
        await NotificationService(session, ticket.workspace_id).notify(
            actor,
            ticket,
            [(agent_id, NotificationKind.rule) for agent_id in agent_ids],
            comment_id=comment.id if comment is not None else None,
            summary=text,
        )
    if "email" in action.via:
        # A note is staff's: nothing of its change goes to the customer.
        to_requester = "requester" in action.to and (comment is None or comment.public)
        await _queue_emails(session, actor, ticket, agent_ids, to_requester, text)


async def _agents_named(session: AsyncSession, ticket: Ticket, action: NotifyAction) -> list[UUID]:
    """The agents the action names for the ticket, in its order, each once (who may see it is checked
    when they are notified)."""
    repo = NotificationRepository(session, ticket.workspace_id)
    found: list[UUID] = []
    for target in action.to:
        if target == "assignee" and ticket.assignee_id is not None:
            found.append(ticket.assignee_id)
        elif target == "group" and ticket.group_id is not None:
            found += await repo.group_members(ticket.group_id)
        elif target == "followers":
            found += ticket.followers
        elif target == "category_watchers" and ticket.category_id is not None:
            rules = await rules_of(session, ticket.workspace_id)
            found += await repo.category_watchers(rules.category_path(ticket.category_id))
    return list(dict.fromkeys([*found, *action.agent_ids]))


async def _queue_emails(
    session: AsyncSession,
    actor: Principal,
    ticket: Ticket,
    agent_ids: list[UUID],
    to_requester: bool,
    text: str,
) -> None:
    repo = NotificationRepository(session, ticket.workspace_id)
    recipients: list[tuple[str, UUID, str, str | None]] = []
    pending = [
        agent_id for agent_id in agent_ids if not remembered(session, EMAILED, (ticket.id, AGENT, agent_id))
    ]
    if pending:
        readers, _ = await repo.recipients(pending)
        seeing = await repo.who_may_see(ticket.id, readers)
        addresses = await repo.addresses([agent_id for agent_id in pending if agent_id in seeing])
        recipients += [
            (AGENT, agent_id, *addresses[agent_id]) for agent_id in pending if agent_id in addresses
        ]
    requester_id = ticket.requester_id
    if (
        to_requester
        and requester_id is not None
        and not remembered(session, EMAILED, (ticket.id, REQUESTER, requester_id))
    ):
        contact = await ContactRepository(session, ticket.workspace_id).get(requester_id)
        if contact is not None and contact.email:
            recipients.append((REQUESTER, requester_id, contact.email, contact.name))
    # Never a channel's own address, in any workspace: the mail would come back in as a customer's.
    claimed = await claimed_addresses(session, [base_address(address) for _, _, address, _ in recipients])
    recipients = [recipient for recipient in recipients if base_address(recipient[2]) not in claimed]
    if not recipients:
        return
    channel = await repo.notification_channel()
    if channel is None:
        skipped = {"skipped": "the workspace has no notification channel", "emails": len(recipients)}
        await TicketRepository(session, ticket.workspace_id).add_history(
            history_rows(ticket.id, actor, {"notify": (None, skipped)})
        )
        return
    domain = str(channel.settings["address"]).partition("@")[2]
    subject = f"[#{ticket.number}] {ticket.subject}"[:SUBJECT_LENGTH]
    await NotificationEmailRepository(session, ticket.workspace_id).insert(
        [
            {
                "id": new_id(),
                "ticket_id": ticket.id,
                "channel_id": channel.id,
                "recipient_type": kind,
                "recipient_id": recipient_id,
                "to_address": address,
                "to_name": name,
                "subject": subject,
                "body": text,
                "message_id": make_msgid(domain=domain).strip("<>"),
                "actor_type": actor.actor_type,
                "actor_id": actor.actor_id,
            }
            for kind, recipient_id, address, name in recipients
        ]
    )
    remember(session, EMAILED, [(ticket.id, kind, recipient_id) for kind, recipient_id, _, _ in recipients])


async def notify_new_assignee(
    session: AsyncSession, actor: Principal, ticket: Ticket, changes: dict[str, tuple[object, object]]
) -> None:
    """A ticket an automation gave to an agent notifies them, as a person's assignment does."""
    old, new = changes.get("assignee_id", (None, None))
    if isinstance(new, UUID) and new != old:
        await NotificationService(session, ticket.workspace_id).notify(
            actor, ticket, [(new, NotificationKind.assigned)]
        )
