"""Customers' names, asked of their channel's provider by the worker after their first message is threaded.

A new Messenger or Zalo customer (a follower too) comes with an id and no name: the threading transaction
creates their contact without one and marks the identity due, in the statement that claims it. Until a
name is known, the contact is shown by that identity (`display_name`). The worker claims due identities
(FOR UPDATE SKIP LOCKED, leased in a short transaction), asks the provider outside any transaction, and
writes the name in another, only while the contact still has none: a name an agent gave wins. A failure
leaves the contact as it is and is tried again later (PROFILE_RETRIES), then given up.
"""

import asyncio
import logging
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.adapters import adapter_for
from app.channels.adapters.profiles import NotFetched, Profile, ProfileRequest
from app.channels.repository import DueProfile, claim_due_profiles
from app.channels.service import channel_principal, channel_secrets, secrets_saver
from app.config import Settings
from app.contacts.repository import ContactRepository, IdentityRepository
from app.contacts.schemas import ContactUpdate
from app.contacts.service import update_contact
from app.db import Database
from app.kit.crypto import SecretBox
from app.kit.outbound import Resolver, outbound_policy, system_resolve
from app.kit.retry import RetrySchedule
from app.kit.time import utcnow

logger = logging.getLogger(__name__)

# Waits before the next try of a profile the provider did not give; after the last, the fetch is given up.
PROFILE_RETRIES = RetrySchedule(
    (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6))
)
PROFILE_BATCH = 20


async def fetch_due_profiles(
    db: Database,
    settings: Settings,
    secret_box: SecretBox,
    client: httpx.AsyncClient,
    resolve: Resolver = system_resolve,
) -> int:
    """Fetch a batch of due profiles; returns how many were tried."""
    now = utcnow()
    async with db.sessionmaker() as session, session.begin():
        lease = timedelta(seconds=settings.worker.lease_seconds)
        claimed = await claim_due_profiles(session, now, now + lease, PROFILE_BATCH)
    policy = outbound_policy(settings)

    async def fetch(due: DueProfile) -> Profile | NotFetched:
        channel = due.channel
        if not channel.active:
            return NotFetched("the channel is inactive")
        request = ProfileRequest(
            channel,
            channel_secrets(channel, secret_box),
            due.identity.value,
            client=client,
            timeout=settings.webhook.timeout_seconds,
            policy=policy,
            save_secrets=secrets_saver(db, secret_box, channel),
            resolve=resolve,
        )
        return await adapter_for(channel.kind).profile(request)

    outcomes = await asyncio.gather(*(fetch(due) for due in claimed))
    for due, outcome in zip(claimed, outcomes, strict=True):
        async with db.sessionmaker() as session, session.begin():
            await _record(session, settings, due, outcome)
    return len(claimed)


async def _record(
    session: AsyncSession, settings: Settings, due: DueProfile, outcome: Profile | NotFetched
) -> None:
    """The name on the contact, if it still has none; or the next try, if any is left."""
    workspace_id = due.identity.workspace_id
    identity = await IdentityRepository(session, workspace_id).get(due.identity.id, for_update=True)
    if identity is None or identity.profile_attempts != due.identity.profile_attempts:
        return  # deleted since, or claimed again by another worker once this one's lease ran out
    if isinstance(outcome, Profile):
        identity.profile_due_at = None
        contact = await ContactRepository(session, workspace_id).get(identity.contact_id, for_update=True)
        if contact is not None and contact.name is None:
            await update_contact(
                session,
                channel_principal(due.channel),
                contact,
                ContactUpdate(name=outcome.name),
                default_phone_region=settings.default_phone_region,
            )
        await session.flush()
        return
    attempts = identity.profile_attempts
    delay = PROFILE_RETRIES.delay_after(attempts)
    given_up = delay is None
    identity.profile_due_at = None if delay is None else utcnow() + delay
    logger.warning(
        "the profile of contact %s could not be fetched from channel %s (try %d%s): %s",
        identity.contact_id,
        due.channel.id,
        attempts,
        ", given up" if given_up else "",
        outcome.error,
    )
    await session.flush()
