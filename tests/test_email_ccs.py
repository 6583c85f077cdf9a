"""Email collaborators (CCs): the people a customer copies are kept on the ticket as contacts, copied on
its public replies (header and envelope), editable through the API with history and events, and their
own answers thread into the ticket."""

import uuid
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from sqlalchemy import select

from app.config import Settings
from app.models import Event
from tests import test_email_channel
from tests.conftest import Tenant
from tests.factories import create_contact, create_ticket
from tests.test_comments import comment
from tests.test_email_channel import (
    CUSTOMER,
    Outbox,
    agent_of,
    email_channel,
    mail,
    received,
    send_replies,
)
from tests.test_triggers import comments_of, history_of

outbox = test_email_channel.outbox

BINH = "binh.tran@congty-anhduong.vn"
HOA = "hoa.le@gmail.com"
MINH = "minh.pham@congty-anhduong.vn"


async def contact_by_email(tenant: Tenant, email: str) -> dict[str, Any] | None:
    response = await tenant.viewer.get("/v1/contacts", params={"email": email})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return items[0] if items else None


async def ticket_events(app: FastAPI, ticket_id: str, event_type: str) -> list[dict[str, Any]]:
    """The ticket's events of a type, read from the table: the feed holds back events while any older
    transaction runs on the server."""
    async with app.state.db.sessionmaker() as session:
        rows = await session.scalars(
            select(Event.data)
            .where(Event.type == event_type, Event.subject_id == UUID(ticket_id))
            .order_by(Event.id)
        )
        return list(rows)


async def test_the_people_a_customer_copies_become_ccs_and_every_public_reply_copies_them(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    own = channel["settings"]["address"]
    own_local, _, own_domain = own.partition("@")
    # An address of another workspace's channel: mail copied there would come back in as a ticket.
    elsewhere = (await email_channel(other_tenant, outbox))["settings"]["address"]
    copies = ", ".join(
        [
            f"Trần Văn Bình <{BINH.upper()}>",
            f"Shop Hoa <{own}>",
            f"{own_local}+t99-0000000000000000@{own_domain}",
            elsewhere,
            "MAILER-DAEMON@congty-anhduong.vn",
            f"Nguyễn Thị Lan <{CUSTOMER}>",
            "không phải địa chỉ",
            f"Lê Thị Hoa <{HOA}>",
            BINH,
        ]
    )
    opened = await received(app, settings, tenant, channel, mail(Cc=copies))
    assert opened["state"] == "processed", opened
    ticket = (await tenant.viewer.get(f"/v1/tickets/{opened['ticket_id']}")).json()

    binh, hoa = await contact_by_email(tenant, BINH), await contact_by_email(tenant, HOA)
    assert binh is not None and hoa is not None
    assert (binh["name"], hoa["name"]) == ("Trần Văn Bình", "Lê Thị Hoa")
    assert ticket["ccs"] == [binh["id"], hoa["id"]], (
        "the sender, the service's addresses and mail systems are left out"
    )
    assert ticket["requester_id"] != binh["id"]
    assert await contact_by_email(other_tenant, BINH) is None
    [created] = await ticket_events(app, ticket["id"], "ticket.created")
    assert created["ticket"]["ccs"] == [binh["id"], hoa["id"]]
    assert any(entry["field"] == "ccs" for entry in await history_of(tenant, ticket["id"]))

    agent = await agent_of(app, tenant, "thu-cc")
    await comment(agent, ticket["id"], public=True, body="Dạ shop đã nhận, sẽ giao trong hôm nay ạ.")
    await send_replies(app, settings)
    [sent] = outbox.received
    assert [address.addr_spec for address in sent["To"].addresses] == [CUSTOMER]
    assert [(address.display_name, address.addr_spec) for address in sent["Cc"].addresses] == [
        ("Trần Văn Bình", BINH),
        ("Lê Thị Hoa", HOA),
    ]
    assert outbox.envelopes == [[CUSTOMER, BINH, HOA]], "every recipient in the envelope"
    assert sent["Subject"] == f"[#{ticket['number']}] Đơn hàng #1024 giao chậm"

    await comment(agent, ticket["id"], public=False, body="Ghi chú nội bộ: kho báo thiếu hàng")
    await send_replies(app, settings)
    assert len(outbox.received) == 1, "an internal note goes to nobody, CCs included"

    # Contacts given the service's own addresses through the API are never copied: the copy would come
    # back in as mail.
    shop = await create_contact(tenant.agent, name="Hộp thư shop", email=own)
    other_shop = await create_contact(tenant.agent, name="Hộp thư bên kia", email=elsewhere)
    url = f"/v1/tickets/{ticket['id']}"
    added = await tenant.agent.patch(url, json={"add_ccs": [shop["id"], other_shop["id"]]})
    assert added.status_code == 200, added.text
    await comment(agent, ticket["id"], public=True, body="Dạ đơn đã giao ạ.")
    await send_replies(app, settings)
    assert outbox.envelopes[-1] == [CUSTOMER, BINH, HOA]
    assert [address.addr_spec for address in outbox.received[-1]["Cc"].addresses] == [BINH, HOA]


async def test_a_ccs_answer_threads_into_the_ticket_as_their_comment(
    app: FastAPI, tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    own = channel["settings"]["address"]
    first = mail(Cc=f"Trần Văn Bình <{BINH}>, {HOA}")
    opened = await received(app, settings, tenant, channel, first)
    ticket_id = opened["ticket_id"]
    agent = await agent_of(app, tenant, "thu-cc-02")
    await comment(agent, ticket_id, public=True, body="Dạ shop đang kiểm tra đơn ạ.")
    await send_replies(app, settings)
    [sent] = outbox.received
    binh = await contact_by_email(tenant, BINH)
    assert binh is not None

    # Bình answers all: to the shop, copying the requester and a colleague.
    answer = mail(
        subject="Re: Đơn hàng #1024 giao chậm",
        body="Bên mình cần giao trước 17h nhé shop.",
        sender=f"Trần Văn Bình <{BINH}>",
        to=own,
        Cc=f"Nguyễn Thị Lan <{CUSTOMER}>, Phạm Minh <{MINH}>",
        In_Reply_To=sent["Message-ID"],
        References=f"{first['Message-ID']} {sent['Message-ID']}",
    )
    threaded = await received(app, settings, tenant, channel, answer)
    assert threaded["ticket_id"] == ticket_id
    latest = (await comments_of(tenant, ticket_id))[-1]
    assert latest["body"] == "Bên mình cần giao trước 17h nhé shop."
    assert latest["public"] is True and latest["author"] == {"type": "contact", "id": binh["id"]}
    assert latest["threading"]["matched"] == "references"

    ticket = (await tenant.viewer.get(f"/v1/tickets/{ticket_id}")).json()
    requester = (await tenant.viewer.get(f"/v1/contacts/{ticket['requester_id']}")).json()
    assert requester["email"] == CUSTOMER, "the requester stays the requester"
    minh = await contact_by_email(tenant, MINH)
    hoa = await contact_by_email(tenant, HOA)
    assert minh is not None and hoa is not None
    assert ticket["ccs"] == [binh["id"], hoa["id"], minh["id"]], "the requester is never their own CC"
    updates = await ticket_events(app, ticket_id, "ticket.updated")
    assert [update["changes"]["ccs"] for update in updates if "ccs" in update["changes"]] == [
        {"old": [binh["id"], hoa["id"]], "new": ticket["ccs"]}
    ]

    # A CC may name the ticket by its number; a stranger may not.
    token = await received(
        app,
        settings,
        tenant,
        channel,
        mail(subject=f"[#{ticket['number']}] Bổ sung địa chỉ", sender=f"Lê Thị Hoa <{HOA}>", to=own),
    )
    assert token["ticket_id"] == ticket_id
    assert (await comments_of(tenant, ticket_id))[-1]["threading"]["matched"] == "subject_token"
    stranger = await received(
        app,
        settings,
        tenant,
        channel,
        mail(subject=f"[#{ticket['number']}] xem giúp", sender="Kẻ lạ <la@example.com>", to=own),
    )
    assert stranger["ticket_id"] != ticket_id

    # The next reply goes to the requester, copying all three.
    await comment(agent, ticket_id, public=True, body="Dạ shop sẽ giao trước 17h ạ.")
    await send_replies(app, settings)
    assert [address.addr_spec for address in outbox.received[-1]["To"].addresses] == [CUSTOMER]
    assert outbox.envelopes[-1] == [CUSTOMER, BINH, HOA, MINH]


async def test_ccs_are_set_edited_and_cleared_through_the_api_with_history_and_events(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    lan = await create_contact(tenant.agent, name="Nguyễn Thị Lan", email="lan@shophoa.vn")
    binh = await create_contact(tenant.agent, name="Trần Văn Bình", email="binh@shophoa.vn")
    by_phone = await create_contact(tenant.agent, name="Chú Tư", phone="0912 345 678")
    foreign = await create_contact(other_tenant.agent, name="Khách khác", email="khach@binhminh.vn")

    ticket = await create_ticket(tenant.agent, ccs=[lan["id"], lan["id"]])
    assert ticket["ccs"] == [lan["id"]]
    url = f"/v1/tickets/{ticket['id']}"

    replaced = await tenant.agent.patch(url, json={"ccs": [binh["id"], lan["id"]]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["ccs"] == [binh["id"], lan["id"]]
    removed = await tenant.agent.patch(url, json={"remove_ccs": [lan["id"]]})
    assert removed.json()["ccs"] == [binh["id"]]
    added = await tenant.agent.patch(url, json={"add_ccs": [lan["id"], binh["id"]]})
    assert added.json()["ccs"] == [binh["id"], lan["id"]]
    cleared = await tenant.agent.patch(url, json={"ccs": []})
    assert cleared.status_code == 200 and cleared.json()["ccs"] == []

    history = [
        (entry["old_value"], entry["new_value"])
        for entry in await history_of(tenant, ticket["id"])
        if entry["field"] == "ccs"
    ]
    assert history == [
        (None, [lan["id"]]),
        ([lan["id"]], [binh["id"], lan["id"]]),
        ([binh["id"], lan["id"]], [binh["id"]]),
        ([binh["id"]], [binh["id"], lan["id"]]),
        ([binh["id"], lan["id"]], []),
    ]
    updates = await ticket_events(app, ticket["id"], "ticket.updated")
    assert [event["changes"]["ccs"]["new"] for event in updates if "ccs" in event["changes"]] == [
        [binh["id"], lan["id"]],
        [binh["id"]],
        [binh["id"], lan["id"]],
        [],
    ]
    assert updates[-1]["ticket"]["ccs"] == []

    for refused in ([str(uuid.uuid4())], [foreign["id"]]):
        response = await tenant.agent.patch(url, json={"ccs": refused})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "unknown_reference" and response.json()["field"] == "ccs"
    no_email = await tenant.agent.patch(url, json={"add_ccs": [by_phone["id"]]})
    assert no_email.status_code == 422 and "no email address" in no_email.json()["detail"]
    both = await tenant.agent.patch(url, json={"ccs": [lan["id"]], "add_ccs": [binh["id"]]})
    assert both.status_code == 422
    foreign_at_creation = await tenant.agent.post(
        "/v1/tickets", json={"subject": "Hỏi giá", "ccs": [foreign["id"]]}
    )
    assert foreign_at_creation.status_code == 422
    assert foreign_at_creation.json()["code"] == "unknown_reference"
    assert (await tenant.viewer.get(url)).json()["ccs"] == [], "nothing refused was kept"

    # A contact copied on a ticket stays, as a requester does.
    await tenant.agent.patch(url, json={"ccs": [lan["id"]]})
    in_use = await tenant.admin.delete(f"/v1/contacts/{lan['id']}")
    assert in_use.status_code == 409 and in_use.json()["code"] == "contact_in_use"
    await tenant.agent.patch(url, json={"ccs": []})
    assert (await tenant.admin.delete(f"/v1/contacts/{lan['id']}")).status_code == 204


async def test_ccs_stay_within_their_workspace(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, settings: Settings, outbox: Outbox
) -> None:
    # The same person is a contact of another workspace: this workspace's mail makes its own.
    theirs = await create_contact(other_tenant.agent, name="Bình bên kia", email=BINH)
    channel = await email_channel(tenant, outbox)
    opened = await received(app, settings, tenant, channel, mail(Cc=f"Trần Văn Bình <{BINH}>"))
    ticket_id = opened["ticket_id"]
    ours = await contact_by_email(tenant, BINH)
    assert ours is not None and ours["id"] != theirs["id"]
    assert (await tenant.viewer.get(f"/v1/tickets/{ticket_id}")).json()["ccs"] == [ours["id"]]
    assert (await other_tenant.viewer.get(f"/v1/contacts/{ours['id']}")).status_code == 404
    unchanged = (await other_tenant.viewer.get(f"/v1/contacts/{theirs['id']}")).json()
    assert unchanged["name"] == "Bình bên kia"

    # The other workspace can neither see nor change the ticket's CCs, nor copy its contact on its own.
    url = f"/v1/tickets/{ticket_id}"
    assert (await other_tenant.viewer.get(url)).status_code == 404
    assert (await other_tenant.agent.patch(url, json={"ccs": [theirs["id"]]})).status_code == 404
    copying = await create_ticket(other_tenant.agent)
    refused = await other_tenant.agent.patch(f"/v1/tickets/{copying['id']}", json={"add_ccs": [ours["id"]]})
    assert refused.status_code == 422 and refused.json()["code"] == "unknown_reference"
