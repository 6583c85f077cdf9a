"""Sub-tickets made from a parent, links, merges, and who else is on a ticket."""

from typing import Any

from fastapi import FastAPI

from tests.conftest import Tenant, make_client
from tests.factories import (
    create_agent,
    create_category,
    create_contact,
    create_ticket,
    mint_agent_token,
    rotate_token_secret,
)


async def post(client: Any, path: str, body: dict[str, Any], expected: int = 201) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == expected, response.text
    return response.json()


async def test_a_child_is_made_from_its_parent(tenant: Tenant) -> None:
    requester = await create_contact(tenant.agent, email="me@example.vn")
    category = await create_category(tenant.admin, "Lắp đặt")
    parent = await create_ticket(tenant.agent, requester_id=requester["id"], category_id=category["id"])
    child = await post(tenant.agent, f"/v1/tickets/{parent['id']}/children", {"subject": "Khảo sát mặt bằng"})
    assert child["parent_id"] == parent["id"]
    assert child["requester_id"] == requester["id"] and child["category_id"] == category["id"]
    [note] = (await tenant.viewer.get(f"/v1/tickets/{child['id']}/comments")).json()["items"]
    assert note["public"] is False and f"#{parent['number']}" in note["body"]
    summary = (await tenant.viewer.get(f"/v1/tickets/{parent['id']}")).json()["children_summary"]
    assert summary["total"] == 1 and summary["unresolved"] == 1


async def test_links_both_ways_and_their_rules(tenant: Tenant, other_tenant: Tenant) -> None:
    first = await create_ticket(tenant.agent)
    second = await create_ticket(tenant.agent)
    link = await post(
        tenant.agent, f"/v1/tickets/{first['id']}/links", {"ticket_id": second["id"], "kind": "duplicate_of"}
    )
    duplicate = await tenant.agent.post(
        f"/v1/tickets/{first['id']}/links", json={"ticket_id": second["id"], "kind": "duplicate_of"}
    )
    assert duplicate.status_code == 409
    itself = await tenant.agent.post(
        f"/v1/tickets/{first['id']}/links", json={"ticket_id": first["id"], "kind": "related"}
    )
    assert itself.status_code == 422
    foreign = await create_ticket(other_tenant.agent)
    refused = await tenant.agent.post(
        f"/v1/tickets/{first['id']}/links", json={"ticket_id": foreign["id"], "kind": "related"}
    )
    assert refused.status_code == 422 and foreign["id"] not in refused.text
    links = (await tenant.viewer.get(f"/v1/tickets/{second['id']}/links")).json()
    assert [item["id"] for item in links["items"]] == [link["id"]] and links["next_cursor"] is None
    assert (await tenant.agent.delete(f"/v1/tickets/{second['id']}/links/{link['id']}")).status_code == 204
    assert (await tenant.viewer.get(f"/v1/tickets/{first['id']}/links")).json()["items"] == []


async def test_merge_moves_the_conversation_and_closes_the_source(tenant: Tenant) -> None:
    agent = await create_agent(tenant.admin, "crm-merge")
    customer = await create_contact(tenant.agent, email="trung@example.vn")
    source = await create_ticket(
        tenant.agent, tags=["giao-hang"], followers=[agent["id"]], requester_id=customer["id"]
    )
    target = await create_ticket(tenant.agent, tags=["vip"])
    moved = await post(
        tenant.agent, f"/v1/tickets/{source['id']}/comments", {"body": "Đơn hàng đến chưa?", "public": True}
    )
    merged = await post(
        tenant.agent, f"/v1/tickets/{source['id']}/merge", {"into": target["id"]}, expected=200
    )
    assert merged["ticket"]["merged_into_id"] == target["id"] and merged["ticket"]["status_kind"] == "closed"
    assert set(merged["into"]["tags"]) == {"vip", "giao-hang"} and merged["into"]["followers"] == [
        agent["id"]
    ]
    [comment] = (await tenant.viewer.get(f"/v1/tickets/{target['id']}/comments")).json()["items"]
    assert comment["id"] == moved["id"] and comment["original_ticket_id"] == source["id"]
    late = await post(
        tenant.agent,
        f"/v1/tickets/{source['id']}/comments",
        {"body": "Còn tôi nữa", "public": True, "author": {"type": "contact", "id": customer["id"]}},
    )
    assert late["ticket_id"] == target["id"], "messages to a merged ticket land on the target"
    source_history = (await tenant.viewer.get(f"/v1/tickets/{source['id']}/history")).json()["items"]
    target_history = (await tenant.viewer.get(f"/v1/tickets/{target['id']}/history")).json()["items"]
    assert any(entry["field"] == "merged_into_id" for entry in source_history)
    assert any(entry["field"] == "merged_from" for entry in target_history)
    events = (await tenant.viewer.get("/v1/events", params={"types": "ticket.merged"})).json()["items"]
    assert events[-1]["data"]["into"]["id"] == target["id"]


async def test_merge_refusals(tenant: Tenant, other_tenant: Tenant) -> None:
    parent = await create_ticket(tenant.agent)
    child = await create_ticket(tenant.agent, parent_id=parent["id"])
    other = await create_ticket(tenant.agent)
    foreign = await create_ticket(other_tenant.agent)
    cases = [
        (parent["id"], parent["id"], 422),
        (parent["id"], child["id"], 422),
        (parent["id"], foreign["id"], 422),
    ]
    for source, into, expected in cases:
        response = await tenant.agent.post(f"/v1/tickets/{source}/merge", json={"into": into})
        assert response.status_code == expected, (source, into, response.text)
        assert response.json()["field"] == "into"
    await post(tenant.agent, f"/v1/tickets/{other['id']}/merge", {"into": child["id"]}, expected=200)
    again = await tenant.agent.post(f"/v1/tickets/{other['id']}/merge", json={"into": parent["id"]})
    assert again.status_code == 409
    into_merged = await tenant.agent.post(f"/v1/tickets/{parent['id']}/merge", json={"into": other["id"]})
    assert into_merged.status_code == 409


async def test_presence_shows_the_other_agents_until_it_expires(app: FastAPI, tenant: Tenant) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from app.models import Presence

    await create_agent(tenant.admin, "crm-an", name="Nguyễn An")
    await create_agent(tenant.admin, "crm-binh", name="Trần Bình")
    kid, secret = await rotate_token_secret(tenant.admin)
    an = make_client(app, mint_agent_token(kid, secret, "crm-an"))
    binh = make_client(app, mint_agent_token(kid, secret, "crm-binh"))
    ticket = await create_ticket(tenant.agent)
    url = f"/v1/tickets/{ticket['id']}/presence"
    assert (await an.put(url, json={"state": "viewing"})).json() == {"items": [], "next_cursor": None}
    others = (await binh.put(url, json={"state": "typing"})).json()["items"]
    assert [(item["name"], item["state"]) for item in others] == [("Nguyễn An", "viewing")]
    assert [item["name"] for item in (await an.get(url)).json()["items"]] == ["Trần Bình"]
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(update(Presence).values(expires_at=Presence.expires_at - timedelta(seconds=31)))
    assert (await an.get(url)).json()["items"] == []
    assert (await tenant.agent.put(url, json={"state": "viewing"})).status_code == 422
    assert (await binh.delete(url)).status_code == 204
