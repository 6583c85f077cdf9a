"""Customers' names from their providers' profiles: a new Messenger or Zalo customer is threaded at once,
and the worker fetches their name afterwards (from a local server standing in for the Graph and Zalo
APIs), refreshing Zalo's token when it expired, trying again later when it fails, and never over a name
an agent gave."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import time_machine
from fastapi import FastAPI
from sqlalchemy import select

from app.channels.profiles import PROFILE_RETRIES, fetch_due_profiles
from app.channels.service import channel_secrets
from app.channels.tasks import thread_due
from app.config import Settings
from app.models import ContactIdentity, MessagingChannel
from tests.conftest import Tenant
from tests.receiver import Behaviour, Receiver
from tests.test_messaging_providers import (
    hub_signature,
    messenger_channel,
    numeric_id,
    page_event,
    post_page_event,
    post_zalo,
    zalo_channel,
    zalo_event,
    zalo_mac,
)

AN = {"first_name": "An", "last_name": "Nguyễn Văn", "name": "Nguyễn Văn An"}
BICH = {"error": 0, "message": "Success", "data": {"display_name": "Trần Thị Bích", "avatar": "https://a/b"}}


async def fetch_profiles(app: FastAPI, settings: Settings) -> None:
    """Fetch until none is due: other tests' customers may be due too, and are tried in the same batches."""
    async with httpx.AsyncClient() as client:
        while await fetch_due_profiles(app.state.db, settings, app.state.secret_box, client):
            pass


async def thread(app: FastAPI, settings: Settings) -> None:
    await thread_due(app.state.db, settings, app.state.secret_box)


async def the_contact(tenant: Tenant) -> dict[str, Any]:
    [contact] = (await tenant.viewer.get("/v1/contacts")).json()["items"]
    return contact


async def identity_of(app: FastAPI, tenant: Tenant, value: str) -> ContactIdentity:
    async with app.state.db.sessionmaker() as session:
        statement = select(ContactIdentity).where(
            ContactIdentity.workspace_id == UUID(str(tenant.workspace_id)), ContactIdentity.value == value
        )
        return (await session.scalars(statement)).one()


def profile_path(psid: str) -> str:
    return f"/v21.0/{psid}"


async def new_messenger_customer(
    tenant: Tenant, channel: dict[str, Any], text: str = "Chào shop, cho em hỏi giá hoa hồng"
) -> str:
    """A message from a customer of the test's own (their PSID), received on the channel."""
    psid = numeric_id()
    event = {
        "sender": {"id": psid},
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "message": {"mid": f"m_{psid}", "text": text},
    }
    body = page_event(channel, event)
    assert (await post_page_event(tenant, channel, body, hub_signature(body))).status_code == 200
    return psid


async def test_a_new_messenger_customer_is_threaded_at_once_then_named(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    psid = await new_messenger_customer(tenant, await messenger_channel(tenant, receiver.base_url))
    receiver.on(profile_path(psid), Behaviour(delay_seconds=5, answers=[(200, AN)]))
    started = time.monotonic()
    await thread(app, settings)
    assert time.monotonic() - started < 3, "threading never waits for the provider's profile"
    assert receiver.at(profile_path(psid)) == []
    [ticket] = (await tenant.viewer.get("/v1/tickets")).json()["items"]
    assert ticket["subject"] == "Chào shop, cho em hỏi giá hoa hồng"
    waiting = await the_contact(tenant)
    assert waiting["name"] is None and waiting["display_name"] == psid, "shown by the PSID meanwhile"

    receiver.on(profile_path(psid), Behaviour(answers=[(200, AN)]))
    await fetch_profiles(app, settings)
    named = await the_contact(tenant)
    assert named["name"] == "Nguyễn Văn An" and named["display_name"] == "Nguyễn Văn An"
    [asked] = receiver.at(profile_path(psid))
    assert asked.query == {"fields": "first_name,last_name,name", "access_token": "EAAG-trang"}
    assert (await identity_of(app, tenant, psid)).profile_due_at is None
    events = (await tenant.viewer.get("/v1/events", params={"types": "contact.updated"})).json()["items"]
    assert [(event["actor"]["type"], event["data"]["changes"]["name"]) for event in events] == [
        ("channel", {"old": None, "new": "Nguyễn Văn An"})
    ]


async def test_a_name_is_composed_from_first_and_last_when_meta_gives_no_full_name(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    psid = await new_messenger_customer(tenant, await messenger_channel(tenant, receiver.base_url))
    receiver.on(profile_path(psid), Behaviour(answers=[(200, {"first_name": "Lan", "last_name": "Phạm"})]))
    await thread(app, settings)
    await fetch_profiles(app, settings)
    assert (await the_contact(tenant))["name"] == "Lan Phạm"


async def test_zalo_followers_and_senders_are_named_from_the_oa_user_detail(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    nam = {"error": 0, "data": {"user_id": "x", "display_name": "Lê Hoàng Nam"}}
    receiver.on("/v3.0/oa/user/detail", Behaviour(answers=[(200, BICH), (200, nam)]))
    channel = await zalo_channel(tenant, receiver.base_url)
    follower, sender = numeric_id(), numeric_id()
    follow = zalo_event(channel, "follow", 1717061800000, follower={"id": follower}, oa_id=numeric_id())
    assert (await post_zalo(tenant, channel, follow, zalo_mac(follow))).json() == {"stored": 1}
    await thread(app, settings)
    [followed] = (await tenant.viewer.get("/v1/contacts")).json()["items"]
    assert followed["name"] is None and followed["display_name"] == follower
    await fetch_profiles(app, settings)
    assert (await the_contact(tenant))["name"] == "Trần Thị Bích"

    text = zalo_event(
        channel,
        "user_send_text",
        1717061900000,
        sender={"id": sender},
        recipient={"id": numeric_id()},
        message={"text": "Shop ơi còn hàng không?", "msg_id": f"z-{sender}"},
    )
    assert (await post_zalo(tenant, channel, text, zalo_mac(text))).json() == {"stored": 1}
    await thread(app, settings)
    await fetch_profiles(app, settings)
    contacts = (await tenant.viewer.get("/v1/contacts", params={"sort": "name"})).json()["items"]
    assert [(c["name"], c["identities"][0]["value"]) for c in contacts] == [
        ("Lê Hoàng Nam", sender),
        ("Trần Thị Bích", follower),
    ]
    asked = receiver.at("/v3.0/oa/user/detail")
    assert [json.loads(request.query["data"]) for request in asked] == [
        {"user_id": follower},
        {"user_id": sender},
    ]
    assert {request.headers["access_token"] for request in asked} == {"zalo-access-1"}


async def test_an_expired_zalo_token_is_refreshed_once_and_the_new_pair_kept(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    expired = {"error": -216, "message": "Access token is invalid"}
    receiver.on("/v3.0/oa/user/detail", Behaviour(answers=[(200, expired), (200, BICH)]))
    new_pair = {"access_token": "zalo-access-2", "refresh_token": "zalo-refresh-2", "expires_in": "90000"}
    receiver.on("/v4/oa/access_token", Behaviour(answers=[(200, new_pair)]))
    channel = await zalo_channel(tenant, receiver.base_url)
    user = numeric_id()
    follow = zalo_event(channel, "follow", 1717061800000, follower={"id": user}, oa_id=numeric_id())
    await post_zalo(tenant, channel, follow, zalo_mac(follow))
    await thread(app, settings)
    await fetch_profiles(app, settings)

    assert (await the_contact(tenant))["name"] == "Trần Thị Bích"
    first, second = receiver.at("/v3.0/oa/user/detail")
    assert (first.headers["access_token"], second.headers["access_token"]) == (
        "zalo-access-1",
        "zalo-access-2",
    )
    [refresh] = receiver.at("/v4/oa/access_token")
    assert refresh.headers["secret_key"] == "bi-mat-cua-ung-dung"
    assert dict(part.split("=") for part in refresh.body.decode().split("&")) == {
        "refresh_token": "zalo-refresh-1",
        "app_id": channel["settings"]["app_id"],
        "grant_type": "refresh_token",
    }
    async with app.state.db.sessionmaker() as session:
        stored = await session.get(MessagingChannel, (UUID(str(tenant.workspace_id)), UUID(channel["id"])))
        assert stored is not None
        saved = channel_secrets(stored, app.state.secret_box)
    assert (saved["access_token"], saved["refresh_token"]) == ("zalo-access-2", "zalo-refresh-2")


async def test_a_failure_leaves_the_contact_nameless_and_is_tried_later_with_growing_waits(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    limited = {"error": {"code": 613, "message": "Calls to this api have exceeded the rate limit."}}
    psid = await new_messenger_customer(tenant, await messenger_channel(tenant, receiver.base_url))
    receiver.on(profile_path(psid), Behaviour(answers=[(400, limited), (500, {}), (200, AN)]))
    await thread(app, settings)
    before = datetime.now(UTC)
    await fetch_profiles(app, settings)
    failed = await identity_of(app, tenant, psid)
    assert failed.profile_attempts == 1 and failed.profile_due_at is not None
    first_wait = PROFILE_RETRIES.delays[0]
    assert before + first_wait <= failed.profile_due_at <= datetime.now(UTC) + first_wait
    shown = await the_contact(tenant)
    assert shown["name"] is None and shown["display_name"] == psid

    await fetch_profiles(app, settings)
    assert len(receiver.at(profile_path(psid))) == 1, "not due yet"
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2), tick=False):
        await fetch_profiles(app, settings)
        again = await identity_of(app, tenant, psid)
        assert again.profile_attempts == 2
        assert again.profile_due_at == datetime.now(UTC) + PROFILE_RETRIES.delays[1]
    assert (await the_contact(tenant))["name"] is None
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=13), tick=False):
        await fetch_profiles(app, settings)
    assert (await the_contact(tenant))["name"] == "Nguyễn Văn An"
    assert len(receiver.at(profile_path(psid))) == 3


async def test_a_fetch_that_keeps_failing_is_given_up(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    psid = await new_messenger_customer(tenant, await messenger_channel(tenant, receiver.base_url))
    receiver.on(profile_path(psid), Behaviour(status=503))
    await thread(app, settings)
    later = datetime.now(UTC)
    for wait in (timedelta(0), *PROFILE_RETRIES.delays):
        later += wait + timedelta(seconds=1)
        with time_machine.travel(later, tick=False):
            await fetch_profiles(app, settings)
    gave_up = await identity_of(app, tenant, psid)
    assert gave_up.profile_attempts == len(PROFILE_RETRIES.delays) + 1 and gave_up.profile_due_at is None
    with time_machine.travel(later + timedelta(days=1), tick=False):
        await fetch_profiles(app, settings)
    assert len(receiver.at(profile_path(psid))) == len(PROFILE_RETRIES.delays) + 1
    assert (await the_contact(tenant))["display_name"] == psid


async def test_a_name_an_agent_gave_is_never_overwritten(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    # Named before the fetch: the provider is not even asked.
    channel = await messenger_channel(tenant, receiver.base_url)
    psid = await new_messenger_customer(tenant, channel)
    receiver.on(profile_path(psid), Behaviour(answers=[(200, AN)]))
    await thread(app, settings)
    contact = await the_contact(tenant)
    named = await tenant.agent.patch(f"/v1/contacts/{contact['id']}", json={"name": "Chị Lan (khách quen)"})
    assert named.status_code == 200
    await fetch_profiles(app, settings)
    assert receiver.at(profile_path(psid)) == []
    assert (await identity_of(app, tenant, psid)).profile_due_at is None

    # Named while the provider is being asked: the agent's name stays.
    slow_psid = await new_messenger_customer(tenant, channel, "Em muốn đặt 20 bông")
    receiver.on(profile_path(slow_psid), Behaviour(delay_seconds=1, answers=[(200, AN)]))
    await thread(app, settings)
    [customer] = [
        c
        for c in (await tenant.viewer.get("/v1/contacts")).json()["items"]
        if c["identities"][0]["value"] == slow_psid
    ]
    fetching = asyncio.create_task(fetch_profiles(app, settings))
    await receiver.wait_for(profile_path(slow_psid), 1)
    renamed = await tenant.agent.patch(f"/v1/contacts/{customer['id']}", json={"name": "Anh Tùng"})
    assert renamed.status_code == 200
    await fetching
    assert (await tenant.viewer.get(f"/v1/contacts/{customer['id']}")).json()["name"] == "Anh Tùng"
    assert (await identity_of(app, tenant, slow_psid)).profile_due_at is None


async def test_two_workers_fetch_a_profile_once(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    psid = await new_messenger_customer(tenant, await messenger_channel(tenant, receiver.base_url))
    receiver.on(profile_path(psid), Behaviour(delay_seconds=0.5, answers=[(200, AN)]))
    await thread(app, settings)
    await asyncio.gather(fetch_profiles(app, settings), fetch_profiles(app, settings))
    assert len(receiver.at(profile_path(psid))) == 1
    assert (await the_contact(tenant))["name"] == "Nguyễn Văn An"
    assert (await identity_of(app, tenant, psid)).profile_attempts == 1


async def test_the_provider_is_called_only_where_the_outbound_policy_allows(
    app: FastAPI, tenant: Tenant, settings: Settings, receiver: Receiver
) -> None:
    channel = await messenger_channel(tenant, receiver.base_url)
    psid = await new_messenger_customer(tenant, channel)
    receiver.on(profile_path(psid), Behaviour(answers=[(200, AN)]))
    inward = await tenant.admin.patch(
        f"/v1/channels/{channel['id']}", json={"settings": {"graph_base_url": "http://10.1.2.3"}}
    )
    assert inward.status_code == 422 and inward.json()["field"] == "settings.graph_base_url"
    await thread(app, settings)
    # The local server is allowed when the channel is saved, and no longer when the profile is fetched.
    narrowed = settings.model_copy(
        update={"webhook": settings.webhook.model_copy(update={"allowed_networks": ""})}
    )
    await fetch_profiles(app, narrowed)
    assert receiver.at(profile_path(psid)) == []
    refused = await identity_of(app, tenant, psid)
    assert refused.profile_attempts == 1 and refused.profile_due_at is not None
    assert (await the_contact(tenant))["name"] is None
