"""The customer portal: a ticket's customer link, what it opens (and never), replies, solving, ratings."""

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.config import PortalSettings, Settings
from app.errors import Conflict, Gone, NotFound
from app.kit.outbound import outbound_policy
from app.kit.pagination import PageParams
from app.kit.time import utcnow
from app.models import Event
from app.portal.access import AccessService
from app.portal.limits import AccessLimiter
from app.portal.service import PortalService
from app.portal.tasks import send_due_access_links
from app.ratings.schemas import RatingIn
from tests.conftest import Tenant
from tests.factories import create, create_ticket
from tests.test_email_channel import Outbox, email_channel, mail, received, send_replies, smtp_server

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
REQUESTER = {"name": "Nguyễn Thị Hoa", "email": "hoa@example.vn"}


async def linked_ticket(tenant: Tenant, **fields: Any) -> tuple[dict[str, Any], str]:
    """A ticket with a requester, and the token of its customer link."""
    ticket = await create_ticket(tenant.agent, requester=REQUESTER, **fields)
    response = await tenant.agent.post(f"/v1/tickets/{ticket['id']}/customer-link")
    assert response.status_code == 201, response.text
    link = response.json()
    assert link["url"].endswith("/t/" + link["token"]) and len(link["token"]) == 64
    return ticket, link["token"]


async def comment(client: httpx.AsyncClient, ticket_id: str, body: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"/v1/tickets/{ticket_id}/comments", json={"body": body, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def events_of(app: FastAPI, tenant: Tenant, event_type: str) -> list[Event]:
    """The workspace's events of a type, as written (the feed would hold back those behind a transaction
    still running elsewhere on the server)."""
    async with app.state.db.sessionmaker() as session:
        statement = (
            select(Event)
            .where(Event.workspace_id == tenant.workspace_id, Event.type == event_type)
            .order_by(Event.occurred_at, Event.id)
        )
        return list((await session.execute(statement)).scalars())


async def set_status(tenant: Tenant, ticket_id: str, kind: str) -> None:
    response = await tenant.agent.patch(f"/v1/tickets/{ticket_id}", json={"status_kind": kind})
    assert response.status_code == 200, response.text


async def test_a_link_opens_its_ticket_public_thread_and_never_internal_notes(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant)
    await comment(tenant.agent, ticket["id"], "Dạ, chúng tôi đang kiểm tra đơn hàng.", public=True)
    await comment(tenant.agent, ticket["id"], "Ghi chú nội bộ: khách VIP, ưu tiên.", public=False)
    customer = tenant.anonymous

    opened = await customer.get(f"/v1/portal/{token}")
    assert opened.status_code == 200, opened.text
    assert opened.headers["Cache-Control"] == "no-store"
    shown = opened.json()
    assert shown["number"] == ticket["number"] and shown["subject"] == ticket["subject"]
    assert shown["can_solve"] and not shown["can_rate"] and shown["rating"] is None
    # Nothing of the agents' side: no ids, assignee, tags, custom fields.
    assert not {"id", "assignee_id", "group_id", "tags", "custom_fields", "requester_id"} & shown.keys()

    thread = (await customer.get(f"/v1/portal/{token}/comments")).json()["items"]
    assert [item["body"] for item in thread] == ["Dạ, chúng tôi đang kiểm tra đơn hàng."]
    assert thread[0]["author"] == "system"  # an API key writes as the system
    assert not {"author_id", "threading", "delivery", "provider_message_id"} & thread[0].keys()


async def test_a_token_opens_only_its_own_ticket_and_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    mine, token = await linked_ticket(tenant)
    other, _ = await linked_ticket(tenant)
    foreign, foreign_token = await linked_ticket(other_tenant)
    reply = await tenant.agent.post(
        f"/v1/tickets/{other['id']}/comments/with-files",
        data={"comment": '{"body": "Hóa đơn của anh", "public": true}'},
        files=[("files", ("hoa-don.pdf", PDF, "application/pdf"))],
    )
    assert reply.status_code == 201, reply.text
    other_file = reply.json()["attachments"][0]["id"]
    customer = tenant.anonymous

    # Another ticket's file through this ticket's token, another workspace's token: nothing.
    assert (await customer.get(f"/v1/portal/{token}/attachments/{other_file}")).status_code == 404
    assert (await customer.get(f"/v1/portal/{foreign_token}/attachments/{other_file}")).status_code == 404
    # A token made up from another workspace's id with this one's random part opens nothing either.
    assert (await customer.get(f"/v1/portal/{foreign_token[:22]}{token[22:]}")).status_code == 404
    assert (await customer.get(f"/v1/portal/{'A' * 64}")).status_code == 404
    assert (await customer.get("/v1/portal/not-a-token")).status_code == 404
    assert (await customer.get(f"/v1/portal/{foreign_token}")).json()["number"] == foreign["number"]
    assert (await customer.get(f"/v1/portal/{token}")).json()["number"] == mine["number"]
    # The other workspace cannot issue or revoke this one's links.
    assert (await other_tenant.agent.post(f"/v1/tickets/{mine['id']}/customer-link")).status_code == 404
    assert (await other_tenant.agent.delete(f"/v1/tickets/{mine['id']}/customer-link")).status_code == 404


async def test_downloads_are_only_the_files_of_public_comments(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant)
    files: dict[bool, str] = {}
    for public in (True, False):
        response = await tenant.agent.post(
            f"/v1/tickets/{ticket['id']}/comments/with-files",
            data={"comment": f'{{"body": "Tệp đính kèm", "public": {str(public).lower()}}}'},
            files=[("files", ("bien-ban.pdf", PDF, "application/pdf"))],
        )
        assert response.status_code == 201, response.text
        files[public] = response.json()["attachments"][0]["id"]
    customer = tenant.anonymous

    thread = (await customer.get(f"/v1/portal/{token}/comments")).json()["items"]
    assert [file["id"] for item in thread for file in item["attachments"]] == [files[True]]
    download = await customer.get(f"/v1/portal/{token}/attachments/{files[True]}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert (await customer.get(f"/v1/portal/{token}/attachments/{files[False]}")).status_code == 404


async def test_a_revoked_link_is_a_404_at_once_and_issuing_again_replaces_it(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant)
    customer = tenant.anonymous
    assert (await customer.get(f"/v1/portal/{token}")).status_code == 200
    assert (await tenant.agent.delete(f"/v1/tickets/{ticket['id']}/customer-link")).status_code == 204
    for path in ("", "/comments"):
        refused = await customer.get(f"/v1/portal/{token}{path}")
        assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    late = await customer.post(f"/v1/portal/{token}/replies", json={"body": "Còn đó không?"})
    assert late.status_code == 404

    first = (await tenant.agent.post(f"/v1/tickets/{ticket['id']}/customer-link")).json()["token"]
    second = (await tenant.agent.post(f"/v1/tickets/{ticket['id']}/customer-link")).json()["token"]
    assert (await customer.get(f"/v1/portal/{first}")).status_code == 404
    assert (await customer.get(f"/v1/portal/{second}")).status_code == 200
    # A viewer may not hand out links.
    assert (await tenant.viewer.post(f"/v1/tickets/{ticket['id']}/customer-link")).status_code == 403


async def test_no_link_for_an_internal_ticket_or_one_without_requester(tenant: Tenant) -> None:
    internal = await create_ticket(tenant.agent, requester=REQUESTER, internal=True)
    nobody = await create_ticket(tenant.agent)
    for ticket, code in ((internal, "ticket_internal"), (nobody, "ticket_without_requester")):
        refused = await tenant.agent.post(f"/v1/tickets/{ticket['id']}/customer-link")
        assert refused.status_code == 409 and refused.json()["code"] == code


async def test_a_link_expires_a_while_after_the_ticket_closed(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    ticket, token = await linked_ticket(tenant)
    await set_status(tenant, ticket["id"], "closed")
    opened = (await tenant.anonymous.get(f"/v1/portal/{token}")).json()
    assert opened["status_kind"] == "closed"
    expires = opened["link_expires_at"]
    days = settings.portal.link_days_after_close
    async with app.state.db.sessionmaker() as session:
        portal = PortalService(session, settings)
        later = utcnow() + timedelta(days=days) - timedelta(minutes=5)
        shown = await portal.ticket(token, now=later)
        assert shown.link_expires_at.isoformat() == expires.replace("Z", "+00:00")
        with pytest.raises(Gone):
            await portal.ticket(token, now=utcnow() + timedelta(days=days, minutes=1))


async def test_a_customer_reply_is_a_public_comment_of_the_requester_and_reopens(
    app: FastAPI, tenant: Tenant
) -> None:
    ticket, token = await linked_ticket(tenant)
    await comment(tenant.agent, ticket["id"], "Anh kiểm tra giúp em nhé.", public=True, status_kind="pending")
    response = await tenant.anonymous.post(
        f"/v1/portal/{token}/replies/with-files",
        data={"body": "Em gửi ảnh chụp hóa đơn ạ."},
        files=[("files", ("hóa đơn.pdf", PDF, "text/html"))],
    )
    assert response.status_code == 201, response.text
    reply = response.json()
    assert reply["follow_up_url"] is None and reply["ticket"]["status_kind"] == "open"
    assert reply["comment"]["author"] == "customer" and reply["comment"]["author_name"] == REQUESTER["name"]
    assert reply["comment"]["attachments"][0]["content_type"] == "application/pdf"

    seen = (await tenant.agent.get(f"/v1/tickets/{ticket['id']}/comments")).json()["items"][-1]
    assert seen["public"] and seen["author"] == {"type": "contact", "id": ticket["requester_id"]}
    assert seen["channel"] == "web"
    [event] = [
        event
        for event in await events_of(app, tenant, "ticket.comment_added")
        if event.data["comment"]["id"] == seen["id"]
    ]
    assert (event.actor_type, str(event.actor_id)) == ("contact", ticket["requester_id"])


async def test_a_reply_on_a_closed_ticket_opens_a_linked_follow_up_with_its_own_link(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant)
    await set_status(tenant, ticket["id"], "closed")
    response = await tenant.anonymous.post(f"/v1/portal/{token}/replies", json={"body": "Lại bị lỗi rồi ạ."})
    assert response.status_code == 201, response.text
    reply = response.json()
    follow_up_token = reply["follow_up_token"]
    assert reply["follow_up_url"].endswith(f"/t/{follow_up_token}")
    assert reply["ticket"]["number"] != ticket["number"] and reply["ticket"]["status_kind"] == "new"
    follow_up = (await tenant.anonymous.get(f"/v1/portal/{follow_up_token}")).json()
    assert follow_up["number"] == reply["ticket"]["number"]
    listed = (await tenant.agent.get("/v1/tickets", params={"requester_id": ticket["requester_id"]})).json()
    new = next(item for item in listed["items"] if item["number"] == follow_up["number"])
    links = (await tenant.agent.get(f"/v1/tickets/{new['id']}/links")).json()["items"]
    assert [(link["kind"], link["linked_ticket_id"]) for link in links] == [("follow_up_of", ticket["id"])]
    # The closed ticket keeps its thread; the reply is on the follow-up.
    assert (await tenant.anonymous.get(f"/v1/portal/{token}/comments")).json()["items"] == []


async def test_the_customer_marks_the_ticket_solved_once(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant)
    solved = await tenant.anonymous.post(f"/v1/portal/{token}/solve")
    assert solved.status_code == 200, solved.text
    assert solved.json()["status_kind"] == "solved" and solved.json()["can_rate"]
    assert (await tenant.agent.get(f"/v1/tickets/{ticket['id']}")).json()["status_kind"] == "solved"
    again = await tenant.anonymous.post(f"/v1/portal/{token}/solve")
    assert again.status_code == 409 and again.json()["code"] == "ticket_resolved"


async def test_ratings_once_per_solve_changeable_for_a_week(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    ticket, token = await linked_ticket(tenant)
    customer = tenant.anonymous
    early = await customer.put(f"/v1/portal/{token}/rating", json={"score": 5})
    assert early.status_code == 409 and early.json()["code"] == "ticket_not_solved"
    for wrong in ({"score": 5, "good": True}, {"score": 6}, {"comment": "Tốt"}):
        assert (await customer.put(f"/v1/portal/{token}/rating", json=wrong)).status_code == 422

    await set_status(tenant, ticket["id"], "solved")
    rated = await customer.put(f"/v1/portal/{token}/rating", json={"score": 2, "comment": "Xử lý hơi chậm."})
    assert rated.status_code == 200, rated.text
    assert rated.json()["good"] is False
    changed = await customer.put(f"/v1/portal/{token}/rating", json={"good": True, "comment": "Cảm ơn!"})
    assert changed.status_code == 200 and changed.json()["score"] is None and changed.json()["good"]
    assert changed.json()["created_at"] == rated.json()["created_at"]
    shown = (await tenant.agent.get(f"/v1/tickets/{ticket['id']}")).json()
    assert (shown["rating_score"], shown["rating_good"]) == (None, True) and shown["rated_at"]
    events = await events_of(app, tenant, "ticket.rated")
    assert [event.data["rating"]["good"] for event in events] == [False, True]
    assert events[-1].data["ticket"]["rating_good"] is True

    # A week later the rating stands as it is.
    async with app.state.db.sessionmaker() as session:
        with pytest.raises(Conflict) as locked:
            await PortalService(session, settings).rate(
                token, RatingIn(score=1), now=utcnow() + timedelta(days=7, seconds=1)
            )
        assert locked.value.code == "rating_locked"

    # Reopened and solved again: a new solve, rated anew.
    await comment(tenant.agent, ticket["id"], "Mở lại để kiểm tra thêm.", public=False, status_kind="open")
    assert not (await customer.get(f"/v1/portal/{token}")).json()["can_rate"]
    await set_status(tenant, ticket["id"], "solved")
    assert (await customer.get(f"/v1/portal/{token}")).json()["rating"] is None
    again = await customer.put(f"/v1/portal/{token}/rating", json={"score": 4})
    assert again.status_code == 200 and again.json()["good"]
    assert (await tenant.agent.get(f"/v1/tickets/{ticket['id']}")).json()["rating_score"] == 4
    listed = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/ratings")).json()["items"]
    assert [(rating["score"], rating["good"]) for rating in listed] == [(4, True), (None, True)]
    assert listed[1]["comment"] == "Cảm ơn!" and listed[0]["solved_at"] > listed[1]["solved_at"]


async def test_tickets_filter_on_their_latest_rating(tenant: Tenant) -> None:
    ratings = {"good": {"good": True}, "bad": {"score": 1}, "none": None}
    numbers = {}
    for name, rating in ratings.items():
        ticket, token = await linked_ticket(tenant, tags=["csat-filter"])
        numbers[name] = ticket["number"]
        if rating is not None:
            await set_status(tenant, ticket["id"], "solved")
            assert (await tenant.anonymous.put(f"/v1/portal/{token}/rating", json=rating)).status_code == 200

    async def listed(**params: str) -> set[int]:
        response = await tenant.agent.get("/v1/tickets", params={"tag": "csat-filter", **params})
        assert response.status_code == 200, response.text
        return {item["number"] for item in response.json()["items"]}

    assert await listed(rating="good") == {numbers["good"]}
    assert await listed(rating="bad") == {numbers["bad"]}
    assert await listed(rating="1") == {numbers["bad"]}
    assert await listed(rated="false") == {numbers["none"]}
    assert await listed(rated="true") == {numbers["good"], numbers["bad"]}
    refused = await tenant.agent.get("/v1/tickets", params={"rating": "6"})
    assert refused.status_code == 400 and refused.json()["field"] == "rating"


# A contact's tickets through a link sent by email


@pytest.fixture
async def outbox() -> AsyncIterator[Outbox]:
    async with smtp_server() as box:
        yield box


async def send_links(app: FastAPI, settings: Settings) -> None:
    """What a worker sends now."""
    await send_due_access_links(app.state.db, settings, app.state.secret_box, outbound_policy(settings))


def access_token_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"/my/([A-Za-z0-9_=-]{64})", body)
    assert found is not None, body
    return found.group(1)


async def ask_access(client: httpx.AsyncClient, workspace_id: Any, email: str) -> httpx.Response:
    return await client.post("/v1/portal/access", json={"workspace_id": str(workspace_id), "email": email})


async def test_a_contact_lists_their_tickets_through_a_single_use_link_sent_by_email(
    app: FastAPI, settings: Settings, tenant: Tenant, other_tenant: Tenant, outbox: Outbox
) -> None:
    await email_channel(tenant, outbox)
    email = f"hoa.{uuid.uuid4().hex[:8]}@example.vn"
    mine = await create_ticket(
        tenant.agent, subject="Máy lạnh kêu to", requester={"email": email, "name": "Hoa"}
    )
    await create_ticket(tenant.agent, subject="Ghi chú nội bộ", requester={"email": email}, internal=True)
    theirs, _ = await linked_ticket(tenant)
    customer = tenant.anonymous

    answers = [
        await ask_access(customer, tenant.workspace_id, email),
        await ask_access(customer, tenant.workspace_id, f"nobody.{uuid.uuid4().hex[:8]}@example.vn"),
        await ask_access(customer, uuid.uuid4(), email),
        await ask_access(customer, other_tenant.workspace_id, email),
    ]
    assert {(answer.status_code, answer.text) for answer in answers} == {(202, answers[0].text)}
    assert (await ask_access(customer, tenant.workspace_id, "không phải email")).status_code == 422

    await send_links(app, settings)
    sent = [message for message in outbox.received if email in str(message["To"])]
    assert len(sent) == 1, "one link, to the known address in its own workspace only"
    assert sent[0]["Auto-Submitted"] == "auto-generated"
    token = access_token_in(sent[0])
    assert f"{settings.portal.public_base_url}/my/{token}" in sent[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]

    opened = await customer.post("/v1/portal/sessions", json={"token": token})
    assert opened.status_code == 201, opened.text
    session_token = opened.json()["session_token"]
    used = await customer.post("/v1/portal/sessions", json={"token": token})
    assert used.status_code == 404, "the link works once"

    listed = await customer.get(f"/v1/portal/my/{session_token}")
    assert listed.status_code == 200, listed.text
    assert [item["number"] for item in listed.json()["items"]] == [mine["number"]]
    link = await customer.post(f"/v1/portal/my/{session_token}/tickets/{mine['number']}/link")
    assert link.status_code == 201, link.text
    assert (await customer.get(f"/v1/portal/{link.json()['token']}")).json()["subject"] == "Máy lạnh kêu to"
    # Someone else's ticket is not theirs to open.
    other = await customer.post(f"/v1/portal/my/{session_token}/tickets/{theirs['number']}/link")
    assert other.status_code == 404

    async with app.state.db.sessionmaker() as session:
        access = AccessService(session, settings)
        with pytest.raises(NotFound):
            later = utcnow() + timedelta(minutes=settings.portal.session_minutes, seconds=1)
            await access.tickets(session_token, PageParams(None, 10), now=later)


async def test_an_access_link_expires_unused(
    app: FastAPI, settings: Settings, tenant: Tenant, outbox: Outbox
) -> None:
    await email_channel(tenant, outbox)
    email = f"lan.{uuid.uuid4().hex[:8]}@example.vn"
    await create_ticket(tenant.agent, requester={"email": email})
    assert (await ask_access(tenant.anonymous, tenant.workspace_id, email)).status_code == 202
    await send_links(app, settings)
    token = access_token_in(next(message for message in outbox.received if email in str(message["To"])))
    async with app.state.db.sessionmaker() as session:
        late = utcnow() + timedelta(minutes=settings.portal.access_link_minutes, seconds=1)
        with pytest.raises(NotFound):
            await AccessService(session, settings).open_session(token, now=late)


async def test_access_links_are_limited_per_address_and_per_client(
    app: FastAPI, settings: Settings, tenant: Tenant, outbox: Outbox
) -> None:
    await email_channel(tenant, outbox)
    email = f"minh.{uuid.uuid4().hex[:8]}@example.vn"
    await create_ticket(tenant.agent, requester={"email": email})
    now = [1000.0]
    limits = PortalSettings(access_per_address_per_hour=2, access_per_client_per_minute=4)
    original = getattr(app.state, "portal_access_limiter", None)
    app.state.portal_access_limiter = AccessLimiter(limits, clock=lambda: now[0])
    try:
        answers = [await ask_access(tenant.anonymous, tenant.workspace_id, email) for _ in range(3)]
        # The third is answered alike, and not sent.
        assert [answer.status_code for answer in answers] == [202, 202, 202]
        await send_links(app, settings)
        assert len([message for message in outbox.received if email in str(message["To"])]) == 2
        # The client has had 3 of its 4 a minute: one more, then a 429 until the minute passes.
        assert (await ask_access(tenant.anonymous, tenant.workspace_id, "x@example.vn")).status_code == 202
        refused = await ask_access(tenant.anonymous, tenant.workspace_id, "y@example.vn")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        now[0] += 60
        assert (await ask_access(tenant.anonymous, tenant.workspace_id, "y@example.vn")).status_code == 202
        # Half an hour on, the address may have one link again.
        now[0] += 30 * 60
        assert (await ask_access(tenant.anonymous, tenant.workspace_id, email)).status_code == 202
        await send_links(app, settings)
        assert len([message for message in outbox.received if email in str(message["To"])]) == 3
    finally:
        app.state.portal_access_limiter = original


# Public replies that carry the link


def link_token_in(text: str) -> str:
    found = re.search(r"/t/([A-Za-z0-9_=-]{64})", text)
    assert found is not None, text
    return found.group(1)


async def test_a_macro_hands_out_the_link_with_customer_url(tenant: Tenant) -> None:
    ticket, token = await linked_ticket(tenant)
    macro = await create(
        tenant.admin,
        "/v1/macros",
        {
            "name": f"Gửi liên kết {uuid.uuid4().hex[:6]}",
            "body": "Theo dõi phiếu tại: {{ ticket.customer_url }}",
        },
    )
    preview = await tenant.agent.post(f"/v1/tickets/{ticket['id']}/macros/{macro['id']}/preview")
    assert preview.status_code == 200 and preview.json()["body"].endswith("/t/…")
    applied = await tenant.agent.post(f"/v1/tickets/{ticket['id']}/macros/{macro['id']}/apply")
    assert applied.status_code == 200, applied.text
    body = (await tenant.agent.get(f"/v1/comments/{applied.json()['comment_id']}")).json()["body"]
    handed = link_token_in(body)
    assert handed != token
    for opening in (handed, token):  # the link handed out before keeps working
        assert (await tenant.anonymous.get(f"/v1/portal/{opening}")).status_code == 200
    internal = await create_ticket(tenant.agent, requester=REQUESTER, internal=True)
    note = await tenant.agent.post(f"/v1/tickets/{internal['id']}/macros/{macro['id']}/preview")
    assert note.json()["body"] == "Theo dõi phiếu tại: "


async def test_an_email_reply_carries_the_ticket_link(
    app: FastAPI, settings: Settings, tenant: Tenant, outbox: Outbox
) -> None:
    channel = await email_channel(tenant, outbox)
    stored = await received(app, settings, tenant, channel, mail(subject="Hỏi về bảo hành"))
    ticket_id = stored["ticket_id"]
    await comment(tenant.agent, ticket_id, "Dạ, máy còn bảo hành 6 tháng ạ.", public=True)
    await send_replies(app, settings)
    [sent] = outbox.received
    text = sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Dạ, máy còn bảo hành 6 tháng ạ.") and "Xem và trả lời yêu cầu của bạn" in text
    token = link_token_in(text)
    assert link_token_in(sent.get_body(("html",)).get_content()) == token  # type: ignore[union-attr]
    opened = await tenant.anonymous.get(f"/v1/portal/{token}")
    assert opened.status_code == 200 and opened.json()["subject"] == "Hỏi về bảo hành"


async def test_the_satisfaction_report_counts_ratings_and_csat(tenant: Tenant) -> None:
    given = [{"score": 5}, {"score": 4}, {"score": 1}, {"good": False}]
    for index, rating in enumerate(given):
        ticket, token = await linked_ticket(tenant, priority="high" if index < 2 else "low")
        await set_status(tenant, ticket["id"], "solved")
        assert (await tenant.anonymous.put(f"/v1/portal/{token}/rating", json=rating)).status_code == 200
    await linked_ticket(tenant, priority="high")  # never rated

    whole = await tenant.viewer.get("/v1/reports/satisfaction")
    assert whole.status_code == 200, whole.text
    [row] = whole.json()["rows"]
    assert (row["ratings"], row["good"], row["bad"], row["csat_percent"]) == (4, 2, 2, 50.0)
    assert (row["scored"], row["average_score"]) == (3, 3.33)

    by_priority = (
        await tenant.viewer.get("/v1/reports/satisfaction", params={"group_by": "priority"})
    ).json()
    shares = {row["key"]: row["csat_percent"] for row in by_priority["rows"]}
    assert shares == {"high": 100.0, "low": 0.0}
    filtered = (await tenant.viewer.get("/v1/reports/satisfaction", params={"priority": "low"})).json()
    assert filtered["rows"][0]["ratings"] == 2
    table = await tenant.viewer.get("/v1/reports/satisfaction", headers={"Accept": "text/csv"})
    assert (
        table.text.lstrip("\ufeff").splitlines()[0]
        == "key,name,ratings,good,bad,csat_percent,scored,average_score"
    )
