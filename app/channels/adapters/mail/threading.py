"""Which ticket a mail belongs to, by the mail itself, in this order: the `In-Reply-To` and `References`
of a message the service received or sent on a ticket; a reply address naming the ticket; a `[#number]`
subject token, trusted only from a participant of that ticket (its requester, a CC, or a contact who wrote
on it); otherwise a new ticket."""

import hmac

from app.channels.adapters.base import Found, TicketLookup
from app.channels.adapters.mail.addresses import REPLY_ADDRESS, base_address, reply_code
from app.channels.repository import takes_part, ticket_of_messages
from app.tickets.repository import TicketRepository


async def ticket_named(lookup: TicketLookup) -> Found:
    """The ticket the mail names, and how: `references`, `reply_address` or `subject_token`."""
    session, channel, hints = lookup.session, lookup.channel, lookup.message.hints
    workspace_id = channel.workspace_id
    tickets = TicketRepository(session, workspace_id)
    ticket_id = await ticket_of_messages(session, workspace_id, channel.id, hints["message_ids"])
    if ticket_id is not None:
        return await tickets.surviving(await tickets.get(ticket_id, for_update=True)), "references"
    key = lookup.secrets().get("reply_address_key")
    for recipient in hints["recipients"]:
        addressed = REPLY_ADDRESS.match(recipient)
        if (
            key is None
            or addressed is None
            or base_address(recipient) != str(channel.settings["address"]).lower()
        ):
            continue
        number = int(addressed["number"])
        if hmac.compare_digest(addressed["code"], reply_code(key, channel.id, number)):
            return await tickets.surviving(await tickets.by_number(number, for_update=True)), "reply_address"
    number = hints["subject_number"]
    if number is not None:
        ticket = await tickets.by_number(number, for_update=True)
        if ticket is not None and await takes_part(session, ticket, (await lookup.contact()).id):
            return await tickets.surviving(ticket), "subject_token"
    return None
