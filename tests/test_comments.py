"""Comments and what they change on their ticket."""

import asyncio
from typing import Any

from fastapi import FastAPI

from tests.conftest import Tenant, agent_token_client
from tests.factories import (
    create_agent,
    create_contact,
    create_ticket,
    status_id,
)


async def comment(client: Any, ticket_id: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        f"/v1/tickets/{ticket_id}/comments", json={"body": "Dạ em chào anh/chị", **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def agent_client(app: FastAPI, tenant: Tenant, external_id: str = "crm-agent") -> Any:
    await create_agent(tenant.admin, external_id, name="Lê Thị Mai")
    return await agent_token_client(app, tenant, external_id)


async def test_an_agents_first_public_reply_sets_first_response_and_opens(
    app: FastAPI, tenant: Tenant
) -> None:
    agent = await agent_client(app, tenant)
    ticket = await create_ticket(tenant.agent)
    note = await comment(agent, ticket["id"], public=False, body="Ghi chú nội bộ")
    after_note = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
    assert after_note["status_kind"] == "new" and after_note["first_response_at"] is None
    assert after_note["updated_at"] > ticket["updated_at"]
    reply = await comment(agent, ticket["id"], public=True)
    assert reply["author"]["type"] == "agent" and note["public"] is False
    after_reply = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
    assert after_reply["status_kind"] == "open"
    assert after_reply["first_response_at"] == reply["created_at"]
    assert after_reply["last_public_comment_by"] == "agent"
    second = await comment(agent, ticket["id"], public=True, status_kind="pending")
    final = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
    assert final["first_response_at"] == reply["created_at"] != second["created_at"]
    assert final["status_kind"] == "pending"
    history = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/history")).json()["items"]
    assert any(entry["field"] == "first_response_at" for entry in history)


async def test_a_reply_that_sets_a_status_keeps_it(app: FastAPI, tenant: Tenant) -> None:
    agent = await agent_client(app, tenant)
    ticket = await create_ticket(tenant.agent)
    await comment(agent, ticket["id"], public=True, status_id=await status_id(tenant.viewer, "solved"))
    assert (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()["status_kind"] == "solved"


async def test_a_customer_comment_reopens_and_a_closed_ticket_gets_a_follow_up(tenant: Tenant) -> None:
    customer = await create_contact(tenant.agent, email="khach@example.vn")
    author = {"type": "contact", "id": customer["id"]}
    ticket = await create_ticket(tenant.agent, requester_id=customer["id"])
    for kind in ("pending", "on_hold", "solved"):
        await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"status_kind": kind})
        await comment(tenant.agent, ticket["id"], public=True, author=author, body="Tôi vẫn chưa nhận được")
        assert (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()["status_kind"] == "open"
    await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"status_kind": "closed"})
    late = await comment(tenant.agent, ticket["id"], public=True, author=author, body="Lại lỗi nữa rồi")
    assert late["ticket_id"] != ticket["id"]
    follow_up = (await tenant.viewer.get(f"/v1/tickets/{late['ticket_id']}")).json()
    assert follow_up["requester_id"] == customer["id"] and follow_up["subject"] == ticket["subject"]
    assert (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()["status_kind"] == "closed"
    refused = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments", json={"body": "x", "public": True}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "ticket_closed"


async def test_a_customer_reply_relayed_on_a_closed_ticket_is_kept_whatever_fields_are_required(
    tenant: Tenant,
) -> None:
    """The follow-up it opens is the customer's: a field they cannot fill in never refuses their words."""
    customer = await create_contact(tenant.agent, email="khach.hang@example.vn")
    ticket = await create_ticket(tenant.agent, requester_id=customer["id"])
    await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"status_kind": "closed"})
    field = {
        "entity": "ticket",
        "key": "ma_don_hang",
        "label": "Mã đơn hàng",
        "type": "text",
        "required": True,
    }
    assert (await tenant.admin.post("/v1/custom-fields", json=field)).status_code == 201
    author = {"type": "contact", "id": customer["id"]}
    kept = await comment(
        tenant.agent, ticket["id"], public=True, author=author, body="Máy lại hỏng rồi shop ơi"
    )
    follow_up = (await tenant.viewer.get(f"/v1/tickets/{kept['ticket_id']}")).json()
    assert follow_up["id"] != ticket["id"] and follow_up["custom_fields"] == {}
    links = (await tenant.viewer.get(f"/v1/tickets/{follow_up['id']}/links")).json()["items"]
    assert [(link["kind"], link["linked_ticket_id"]) for link in links] == [("follow_up_of", ticket["id"])]
    # An agent opening a ticket still gives the field.
    assert (await tenant.agent.post("/v1/tickets", json={"subject": "Phiếu mới"})).status_code == 422


async def test_html_is_sanitised(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    html = '<p onclick="steal()">Xin chào <a href="javascript:alert(1)">đây</a><script>alert(1)</script></p>'
    created = await comment(tenant.agent, ticket["id"], public=False, html_body=html)
    assert "script" not in created["html_body"] and "onclick" not in created["html_body"]
    assert "javascript:" not in created["html_body"] and "Xin chào" in created["html_body"]


async def test_comments_page_oldest_first_and_filter(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    for index in range(3):
        await comment(tenant.agent, ticket["id"], public=index != 1, body=f"Tin nhắn {index}")
    page = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/comments", params={"limit": 2})).json()
    assert [item["body"] for item in page["items"]] == ["Tin nhắn 0", "Tin nhắn 1"]
    rest = await tenant.viewer.get(
        f"/v1/tickets/{ticket['id']}/comments", params={"cursor": page["next_cursor"]}
    )
    assert [item["body"] for item in rest.json()["items"]] == ["Tin nhắn 2"]
    notes = (
        await tenant.viewer.get(f"/v1/tickets/{ticket['id']}/comments", params={"public": "false"})
    ).json()
    assert [item["body"] for item in notes["items"]] == ["Tin nhắn 1"]
    one = (await tenant.viewer.get(f"/v1/comments/{notes['items'][0]['id']}")).json()
    assert one == notes["items"][0]


async def test_viewers_cannot_comment_and_authors_are_checked(app: FastAPI, tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    assert (
        await tenant.viewer.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "x", "public": True})
    ).status_code == 403
    agent = await agent_client(app, tenant)
    impersonating = await agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={"body": "x", "public": True, "author": {"type": "contact", "id": ticket["id"]}},
    )
    assert impersonating.status_code == 422 and impersonating.json()["field"] == "author"
    unknown = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={"body": "x", "public": True, "author": {"type": "contact", "id": ticket["id"]}},
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "author.id"


async def test_a_reply_that_missed_a_comment_is_refused_with_it(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    first = await comment(tenant.agent, ticket["id"], public=True, body="Câu trả lời đầu")
    second = await comment(tenant.agent, ticket["id"], public=True, body="Câu trả lời thứ hai")
    stale = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={"body": "Trả lời trùng", "public": True, "expected_last_comment_id": first["id"]},
    )
    assert stale.status_code == 409 and stale.json()["code"] == "comments_missed"
    assert [missed["id"] for missed in stale.json()["missed_comments"]] == [second["id"]]
    fresh = await comment(tenant.agent, ticket["id"], public=True, expected_last_comment_id=second["id"])
    assert fresh["id"]


async def test_a_concurrent_double_reply_lets_exactly_one_through(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    seen = await comment(tenant.agent, ticket["id"], public=True, body="Khách hỏi")
    replies = await asyncio.gather(
        *(
            tenant.agent.post(
                f"/v1/tickets/{ticket['id']}/comments",
                json={"body": f"Trả lời {index}", "public": True, "expected_last_comment_id": seen["id"]},
            )
            for index in range(6)
        )
    )
    assert sorted(reply.status_code for reply in replies) == [201] + [409] * 5


async def test_comment_added_events_carry_the_comment(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    created = await comment(tenant.agent, ticket["id"], public=False, body="Ghi chú")
    events = (await tenant.viewer.get("/v1/events", params={"types": "ticket.comment_added"})).json()["items"]
    assert events[-1]["data"]["comment"] == created
    assert events[-1]["data"]["ticket"]["id"] == ticket["id"]
