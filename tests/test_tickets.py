import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.auth.principal import Principal
from app.db import alembic_config
from app.models.enums import ActorType, Role
from app.tickets.schemas import TicketCreate
from app.tickets.service import TicketService
from tests.conftest import Tenant, admin_statement, make_client
from tests.factories import (
    create,
    create_agent,
    create_category,
    create_contact,
    create_custom_field,
    create_group,
    create_ticket,
    create_webhook,
    mint_agent_token,
    rotate_token_secret,
    status_id,
)
from tests.locks import plain_url
from tests.world import CHANNEL_TOKEN, calendar_example


async def test_create_ticket_returns_it_with_number_etag_and_location(tenant: Tenant) -> None:
    response = await tenant.agent.post(
        "/v1/tickets",
        json={
            "subject": "Không đăng nhập được",
            "description": "Khách báo lỗi khi đăng nhập trên ứng dụng di động",
            "priority": "high",
            "type": "incident",
            "tags": ["Mobile", "login", "mobile"],
            "external_refs": {"crm": "OPP-1042"},
            "channel": "zalo",
        },
    )
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["number"] == 1
    assert ticket["status_kind"] == "new"
    assert ticket["priority"] == "high"
    assert ticket["tags"] == ["mobile", "login"]
    assert ticket["channel"] == "zalo"
    assert response.headers["location"] == f"/v1/tickets/{ticket['id']}"
    assert response.headers["etag"] == '"1"'
    fetched = await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")
    assert fetched.json() == ticket
    assert fetched.headers["etag"] == '"1"'


async def test_ticket_numbers_stay_unique_and_increasing_under_concurrency(tenant: Tenant) -> None:
    async def attempt(index: int):
        # Every fifth request is refused (unknown field).
        body = {"subject": f"Yêu cầu {index}"} | ({"bogus": True} if index % 5 == 0 else {})
        return await tenant.agent.post("/v1/tickets", json=body)

    responses = await asyncio.gather(*(attempt(index) for index in range(60)))
    created = [response.json()["number"] for response in responses if response.status_code == 201]
    assert len(created) == 48
    assert len(set(created)) == 48
    after = await create_ticket(tenant.agent)
    assert after["number"] > max(created)


async def test_an_open_creation_holds_up_no_other_and_its_rollback_leaves_a_gap(
    app: FastAPI, tenant: Tenant
) -> None:
    acting = Principal(tenant.workspace_id, Role.agent, ActorType.system, tenant.workspace_id)
    async with app.state.db.sessionmaker() as session:
        await session.begin()
        service = TicketService(session, acting, app.state.settings)
        pending = await service.create(TicketCreate(subject="Cuộc gọi nhỡ"))
        assert pending["number"] == 1
        # Another creation of the workspace is served while the first is still open.
        meanwhile = await asyncio.wait_for(create_ticket(tenant.agent), timeout=10)
        assert meanwhile["number"] == 2
        await session.rollback()
    after = await create_ticket(tenant.agent)
    assert after["number"] == 3
    listed = (await tenant.viewer.get("/v1/tickets", params={"sort": "created_at"})).json()["items"]
    assert [ticket["number"] for ticket in listed] == [2, 3]


async def test_each_workspace_numbers_its_tickets_from_1(tenant: Tenant, other_tenant: Tenant) -> None:
    turns = [tenant, other_tenant, tenant, other_tenant, tenant]
    numbers = [(await create_ticket(turn.agent))["number"] for turn in turns]
    assert numbers == [1, 1, 2, 2, 3]


async def test_inline_requester_finds_or_creates_the_contact(tenant: Tenant) -> None:
    first = await create_ticket(
        tenant.agent, requester={"email": "Hoa.Nguyen@example.vn", "name": "Nguyễn Thị Hoa"}
    )
    second = await create_ticket(tenant.agent, requester={"email": "hoa.nguyen@example.vn"})
    assert first["requester_id"] == second["requester_id"] is not None
    by_phone = await create_ticket(tenant.agent, requester={"phone": "0912 345 678"})
    again = await create_ticket(tenant.agent, requester={"phone": "+84912345678"})
    assert by_phone["requester_id"] == again["requester_id"] != first["requester_id"]
    both = await tenant.agent.post(
        "/v1/tickets",
        json={"subject": "x", "requester_id": first["requester_id"], "requester": {"name": "A"}},
    )
    assert both.status_code == 422


async def test_custom_fields_are_validated_against_their_definitions(tenant: Tenant) -> None:
    await create(
        tenant.admin,
        "/v1/custom-fields",
        {"entity": "ticket", "key": "order_id", "label": "Mã đơn hàng", "type": "integer", "required": True},
    )
    missing = await tenant.agent.post("/v1/tickets", json={"subject": "Đơn hàng"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "custom_fields.order_id"
    wrong_type = await tenant.agent.post(
        "/v1/tickets", json={"subject": "Đơn hàng", "custom_fields": {"order_id": "x"}}
    )
    assert wrong_type.status_code == 422
    assert wrong_type.json()["field"] == "custom_fields.order_id"
    unknown = await tenant.agent.post(
        "/v1/tickets", json={"subject": "Đơn hàng", "custom_fields": {"order_id": 7, "colour": "red"}}
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "custom_fields.colour"
    ticket = await create_ticket(tenant.agent, custom_fields={"order_id": 1042})
    assert ticket["custom_fields"] == {"order_id": 1042}
    cleared = await tenant.agent.patch(
        f"/v1/tickets/{ticket['id']}", json={"custom_fields": {"order_id": None}}
    )
    assert cleared.status_code == 422


async def test_status_changes_move_solved_and_closed_times_and_closed_is_read_only(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    url = f"/v1/tickets/{ticket['id']}"
    solved = (await tenant.agent.patch(url, json={"status_kind": "solved"})).json()
    assert solved["status_kind"] == "solved" and solved["solved_at"] is not None
    reopened = (await tenant.agent.patch(url, json={"status_kind": "open"})).json()
    assert reopened["solved_at"] is None
    closed = (
        await tenant.agent.patch(url, json={"status_id": await status_id(tenant.viewer, "closed")})
    ).json()
    assert closed["closed_at"] is not None and closed["solved_at"] is not None
    refused = await tenant.agent.patch(url, json={"priority": "urgent"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "ticket_closed"
    response = await tenant.agent.post(f"{url}/reopen")
    assert response.status_code == 200
    assert response.json()["status_kind"] == "open"
    assert response.json()["closed_at"] is None and response.json()["solved_at"] is None
    assert (await tenant.agent.post(f"{url}/reopen")).status_code == 409


async def _another_open_status(tenant: Tenant) -> str:
    return (await create(tenant.admin, "/v1/statuses", {"name": "Đang xử lý", "kind": "open"}))["id"]


async def _status_changes(app: FastAPI, ticket_id: str) -> list[dict[str, Any]]:
    """The changes of the ticket's status_changed events, read from the table: the feed holds back
    events while any older transaction runs on the server."""
    from sqlalchemy import select

    from app.models import Event

    async with app.state.db.sessionmaker() as session:
        rows = await session.scalars(
            select(Event.data)
            .where(Event.type == "ticket.status_changed", Event.subject_id == UUID(ticket_id))
            .order_by(Event.id)
        )
        return [data["changes"] for data in rows]


async def test_a_move_to_another_status_of_the_same_kind_is_a_status_change_keeping_the_kind(
    app: FastAPI, tenant: Tenant
) -> None:
    working = await _another_open_status(tenant)
    ticket = await create_ticket(tenant.agent, status_kind="open")
    default_open = ticket["status_id"]

    moved = await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"status_id": working})
    assert moved.status_code == 200, moved.text
    assert moved.json()["status_id"] == working and moved.json()["status_kind"] == "open"
    assert await _status_changes(app, ticket["id"]) == [
        {"status_id": {"old": default_open, "new": working}, "status_kind": {"old": "open", "new": "open"}}
    ]


async def test_every_way_of_changing_a_status_moves_within_its_kind(app: FastAPI, tenant: Tenant) -> None:
    working = await _another_open_status(tenant)
    commented = await create_ticket(tenant.agent, status_kind="open")
    reply = await tenant.agent.post(
        f"/v1/tickets/{commented['id']}/comments",
        json={"body": "Em đang kiểm tra", "public": False, "status_id": working},
    )
    assert reply.status_code == 201, reply.text

    in_bulk = [await create_ticket(tenant.agent, status_kind="open") for _ in range(2)]
    bulk = await tenant.agent.post(
        "/v1/tickets/bulk",
        json={"ids": [ticket["id"] for ticket in in_bulk], "changes": {"status_id": working}},
    )
    assert bulk.status_code == 200, bulk.text

    macro = await create(
        tenant.admin,
        "/v1/macros",
        {"name": "Chuyển đang xử lý", "actions": [{"type": "set_status", "status_id": working}]},
    )
    by_macro = await create_ticket(tenant.agent, status_kind="open")
    applied = await tenant.agent.post(f"/v1/tickets/{by_macro['id']}/macros/{macro['id']}/apply")
    assert applied.status_code == 200, applied.text

    for ticket in (commented, *in_bulk, by_macro):
        current = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
        assert current["status_id"] == working, ticket["id"]
        [change] = await _status_changes(app, ticket["id"])
        assert change["status_kind"] == {"old": "open", "new": "open"}


async def test_a_trigger_moving_new_tickets_within_their_kind_lets_tickets_be_created(
    app: FastAPI, tenant: Tenant
) -> None:
    working = await _another_open_status(tenant)
    await create(
        tenant.admin,
        "/v1/triggers",
        {
            "name": "Phiếu mới vào đang xử lý",
            "events": ["ticket.created"],
            "actions": [{"type": "set_status", "status_id": working}],
        },
    )
    ticket = await create_ticket(tenant.agent, status_kind="open")
    current = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
    assert current["status_id"] == working
    [change] = await _status_changes(app, ticket["id"])
    assert change["status_kind"] == {"old": "open", "new": "open"}


async def test_history_records_every_change_with_actor_and_values(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent, priority="low")
    url = f"/v1/tickets/{ticket['id']}"
    await tenant.agent.patch(url, json={"priority": "urgent", "add_tags": ["vip"]})
    await tenant.agent.patch(url, json={"priority": "urgent"})  # no change, no history
    entries = (await tenant.viewer.get(f"{url}/history")).json()["items"]
    creation = [entry for entry in entries if entry["old_value"] is None and entry["field"] == "subject"]
    assert creation and creation[0]["new_value"] == "Giao hàng chậm"
    priority_changes = [entry for entry in entries if entry["field"] == "priority"]
    assert [(entry["old_value"], entry["new_value"]) for entry in priority_changes] == [
        (None, "low"),
        ("low", "urgent"),
    ]
    tag_change = next(entry for entry in entries if entry["field"] == "tags")
    assert tag_change["new_value"] == ["vip"]
    assert tag_change["actor_type"] == "api_key"
    assert tag_change["change_id"] == priority_changes[1]["change_id"]


async def test_stale_if_match_is_refused(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    url = f"/v1/tickets/{ticket['id']}"
    first = await tenant.agent.patch(url, json={"priority": "high"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    assert first.headers["etag"] == '"2"'
    stale = await tenant.agent.patch(url, json={"priority": "low"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"


Make = Callable[[httpx.AsyncClient], Awaitable[dict[str, Any]]]

# The versioned resources DELETE removes: how to make one, and a change that moves its version.
DELETABLE: dict[str, tuple[Make, dict[str, Any]]] = {
    "tickets": (create_ticket, {"priority": "high"}),
    "macros": (
        lambda client: create(
            client, "/v1/macros", {"name": "Cảm ơn khách", "body": "Cảm ơn anh/chị đã liên hệ."}
        ),
        {"position": 1},
    ),
    "statuses": (
        lambda client: create(client, "/v1/statuses", {"name": "Chờ linh kiện", "kind": "on_hold"}),
        {"color": "#ff9800"},
    ),
    "groups": (lambda client: create_group(client, "Nhóm Kỹ thuật"), {"description": "Hỗ trợ kỹ thuật"}),
    "categories": (lambda client: create_category(client, "Bảo hành"), {"description": "Hàng lỗi, đổi trả"}),
    "custom-fields": (
        lambda client: create_custom_field(client, "ticket", "ma_don", "Mã đơn"),
        {"label": "Mã đơn hàng"},
    ),
    "triggers": (
        lambda client: create(
            client,
            "/v1/triggers",
            {
                "name": "Phiếu mới ưu tiên cao",
                "events": ["ticket.created"],
                "actions": [{"type": "set_priority", "priority": "high"}],
            },
        ),
        {"position": 5},
    ),
    "calendars": (
        lambda client: create(client, "/v1/calendars", calendar_example("hcm")),
        {"holidays": [{"start": "2027-09-02", "name": "Quốc khánh"}]},
    ),
    "sla-policies": (
        lambda client: create(
            client,
            "/v1/sla-policies",
            {
                "name": "SLA tiêu chuẩn",
                "targets": [
                    {"priority": "urgent", "metric": "first_response", "minutes": 60, "business_hours": False}
                ],
            },
        ),
        {"warn_minutes_before": 15},
    ),
    "channels": (
        lambda client: create(
            client,
            "/v1/channels",
            {"kind": "chat", "name": "Chat trên website", "secrets": {"token": CHANNEL_TOKEN}},
        ),
        {"active": False},
    ),
    "organizations": (
        lambda client: create(client, "/v1/organizations", {"name": "Công ty Sao Mai"}),
        {"notes": "Khách hàng doanh nghiệp"},
    ),
    "contacts": (create_contact, {"vip": True}),
    "webhooks": (
        lambda client: create_webhook(client, "http://127.0.0.1:9/crm", event_types=["*"]),
        {"description": "CRM đồng bộ phiếu"},
    ),
}


def still_there(response: httpx.Response) -> bool:
    """Found and not soft-deleted (a deleted ticket is still read, with its `deleted_at`)."""
    return response.status_code == 200 and response.json().get("deleted_at") is None


@pytest.mark.parametrize("collection", DELETABLE)
async def test_delete_with_a_stale_if_match_is_refused(tenant: Tenant, collection: str) -> None:
    make, change = DELETABLE[collection]
    created = await make(tenant.admin)
    url = f"/v1/{collection}/{created['id']}"
    old_etag = (await tenant.admin.get(url)).headers["etag"]
    changed = await tenant.admin.patch(url, json=change)
    assert changed.status_code == 200, changed.text
    current_etag = changed.headers["etag"]
    assert current_etag != old_etag

    stale = await tenant.admin.delete(url, headers={"If-Match": old_etag})
    assert stale.status_code == 412, stale.text
    assert stale.json()["code"] == "precondition_failed"
    assert stale.json()["current_etag"] == current_etag
    kept = await tenant.admin.get(url)
    assert still_there(kept) and kept.headers["etag"] == current_etag

    deleted = await tenant.admin.delete(url, headers={"If-Match": current_etag})
    assert deleted.status_code == 204, deleted.text
    assert not still_there(await tenant.admin.get(url))


async def test_workspace_patch_with_a_stale_if_match_is_refused(tenant: Tenant) -> None:
    fetched = await tenant.admin.get("/v1/workspace")
    assert fetched.headers["etag"] == '"1"'
    renamed = await tenant.admin.patch(
        "/v1/workspace", json={"name": "Công ty TNHH Ánh Dương Sài Gòn"}, headers={"If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["etag"] == '"2"'

    stale = await tenant.admin.patch(
        "/v1/workspace", json={"name": "Công ty Hoa Sen"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    workspace = await tenant.viewer.get("/v1/workspace")
    assert workspace.headers["etag"] == '"2"'
    assert workspace.json()["name"] == "Công ty TNHH Ánh Dương Sài Gòn"


async def test_concurrent_patches_with_the_same_if_match_let_exactly_one_through(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    url = f"/v1/tickets/{ticket['id']}"
    responses = await asyncio.gather(
        *(
            tenant.agent.patch(url, json={"subject": f"Phiên bản {index}"}, headers={"If-Match": '"1"'})
            for index in range(8)
        )
    )
    assert sorted(response.status_code for response in responses) == [200] + [412] * 7


async def test_if_none_match_answers_not_modified(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    response = await tenant.viewer.get(f"/v1/tickets/{ticket['id']}", headers={"If-None-Match": '"1"'})
    assert response.status_code == 304
    listed = await tenant.viewer.get("/v1/tickets")
    again = await tenant.viewer.get("/v1/tickets", headers={"If-None-Match": listed.headers["etag"]})
    assert again.status_code == 304


async def test_sub_tickets_summary_cycles_and_solving_a_parent(tenant: Tenant) -> None:
    parent = await create_ticket(tenant.agent, subject="Triển khai hệ thống")
    child = await create_ticket(tenant.agent, subject="Cài đặt máy chủ", parent_id=parent["id"])
    grandchild = await create_ticket(tenant.agent, subject="Cấu hình mạng", parent_id=child["id"])
    cycle = await tenant.agent.patch(f"/v1/tickets/{parent['id']}", json={"parent_id": grandchild["id"]})
    assert cycle.status_code == 422 and cycle.json()["field"] == "parent_id"
    itself = await tenant.agent.patch(f"/v1/tickets/{parent['id']}", json={"parent_id": parent["id"]})
    assert itself.status_code == 422

    children = (await tenant.viewer.get(f"/v1/tickets/{parent['id']}/children")).json()
    assert [item["id"] for item in children["items"]] == [child["id"]]
    assert children["summary"] == {"total": 1, "unresolved": 1, "by_status_kind": {"new": 1}}
    fetched = (await tenant.viewer.get(f"/v1/tickets/{parent['id']}")).json()
    assert fetched["children_summary"]["unresolved"] == 1

    refused = await tenant.agent.patch(f"/v1/tickets/{parent['id']}", json={"status_kind": "solved"})
    assert refused.status_code == 409 and refused.json()["code"] == "unresolved_children"
    forced = await tenant.agent.patch(
        f"/v1/tickets/{parent['id']}?force=true", json={"status_kind": "solved"}
    )
    assert forced.status_code == 200
    assert forced.json()["status_kind"] == "solved"


async def test_delete_and_restore(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    url = f"/v1/tickets/{ticket['id']}"
    assert (await tenant.agent.delete(url)).status_code == 204
    assert ticket["id"] not in [
        item["id"] for item in (await tenant.viewer.get("/v1/tickets")).json()["items"]
    ]
    deleted = (await tenant.viewer.get("/v1/tickets?deleted=true")).json()["items"]
    assert [item["id"] for item in deleted] == [ticket["id"]]
    assert (await tenant.viewer.get(url)).json()["deleted_at"] is not None
    refused = await tenant.agent.patch(url, json={"priority": "low"})
    assert refused.status_code == 409 and refused.json()["code"] == "ticket_deleted"
    restored = await tenant.agent.post(f"{url}/restore")
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None
    assert (await tenant.viewer.delete(url)).status_code == 403


async def test_bulk_update_is_all_or_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    tickets = [await create_ticket(tenant.agent, subject=f"Phiếu {index}") for index in range(3)]
    ids = [ticket["id"] for ticket in tickets]
    response = await tenant.agent.post(
        "/v1/tickets/bulk", json={"ids": ids, "changes": {"priority": "urgent", "add_tags": ["đợt-1"]}}
    )
    assert response.status_code == 200, response.text
    assert {item["priority"] for item in response.json()["items"]} == {"urgent"}
    assert all(item["tags"] == ["đợt-1"] for item in response.json()["items"])

    foreign = await create_ticket(other_tenant.agent)
    refused = await tenant.agent.post(
        "/v1/tickets/bulk", json={"ids": [*ids, foreign["id"]], "changes": {"priority": "low"}}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "unknown_reference"
    assert refused.json()["field"] == "ids.3"
    closed = await tenant.agent.patch(f"/v1/tickets/{ids[1]}", json={"status_kind": "closed"})
    assert closed.status_code == 200
    refused = await tenant.agent.post("/v1/tickets/bulk", json={"ids": ids, "changes": {"priority": "low"}})
    assert refused.status_code == 409
    assert refused.json()["ticket_id"] == ids[1]
    unchanged = (await tenant.viewer.get(f"/v1/tickets/{ids[0]}")).json()
    assert unchanged["priority"] == "urgent"
    too_many = await tenant.agent.post(
        "/v1/tickets/bulk", json={"ids": [ids[0]] * 101, "changes": {"priority": "low"}}
    )
    assert too_many.status_code == 422


async def test_list_filters(tenant: Tenant) -> None:
    agent = await create_agent(tenant.admin, "crm-7", name="Trần Văn Bình")
    group = await create_group(tenant.admin, "Nhóm Kỹ thuật", [agent["id"]])
    parent_category = await create_category(tenant.admin, "Vận chuyển")
    sub_category = await create_category(tenant.admin, "Giao hàng", parent_id=parent_category["id"])
    requester = await create_contact(tenant.agent, name="Đặng Thu Thảo", email="thao@example.vn")
    slow = await create_ticket(
        tenant.agent,
        subject="Giao hàng chậm",
        priority="urgent",
        assignee_id=agent["id"],
        group_id=group["id"],
        category_id=sub_category["id"],
        tags=["shipping", "vip"],
        requester_id=requester["id"],
        external_refs={"crm": "OPP-1"},
    )
    refund = await create_ticket(tenant.agent, subject="Hoàn tiền đơn hàng", tags=["billing"])

    async def ids(query: str) -> list[str]:
        response = await tenant.viewer.get(f"/v1/tickets?{query}")
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids("q=giao hang cham") == [slow["id"]]
    assert await ids("q=dang") == [slow["id"]]
    assert await ids("q=thao@example") == [slow["id"]]
    assert await ids(f"q=%23{refund['number']}") == [refund["id"]]
    assert await ids("priority=urgent,high") == [slow["id"]]
    assert await ids("assignee=none") == [refund["id"]]
    assert await ids(f"assignee={agent['id']}") == [slow["id"]]
    assert await ids(f"group={group['id']}") == [slow["id"]]
    assert await ids(f"category_id={parent_category['id']}") == [slow["id"]]
    assert await ids("tag=shipping&tag=vip") == [slow["id"]]
    assert await ids("tag=shipping,billing") == []
    assert await ids("external_ref=crm:OPP-1") == [slow["id"]]
    assert await ids(f"requester_id={requester['id']}") == [slow["id"]]
    assert await ids("status_kind=new") == [refund["id"], slow["id"]]
    assert await ids("created_after=2000-01-01T00:00:00Z&created_before=2000-01-02T00:00:00Z") == []
    me = await tenant.viewer.get("/v1/tickets?assignee=me")
    assert me.status_code == 400 and me.json()["field"] == "assignee"
    bad = await tenant.viewer.get("/v1/tickets?priority=critical")
    assert bad.status_code == 400 and bad.json()["field"] == "priority"
    naive = await tenant.viewer.get("/v1/tickets?created_after=2024-01-01T00:00:00")
    assert naive.status_code == 422


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "priority", "-priority", "due_at", "-due_at"])
async def test_pages_cover_every_ticket_once_in_order(tenant: Tenant, sort: str) -> None:
    priorities = ["low", "normal", "high", "urgent"]
    for index in range(7):
        due = {"due_at": f"2030-01-0{index % 3 + 1}T08:00:00+07:00"} if index % 2 else {}
        await create_ticket(tenant.agent, subject=f"Phiếu {index}", priority=priorities[index % 4], **due)
    everything = (await tenant.viewer.get(f"/v1/tickets?sort={sort}&limit=200")).json()["items"]
    seen, cursor = [], None
    while True:
        query = f"/v1/tickets?sort={sort}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await tenant.viewer.get(query)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [item["id"] for item in everything]
    assert len(seen) == 7
    if sort.lstrip("-") == "due_at":
        assert [item["due_at"] is None for item in everything] == [False] * 3 + [True] * 4


async def test_cursor_of_another_sort_is_refused(tenant: Tenant) -> None:
    for _ in range(3):
        await create_ticket(tenant.agent)
    cursor = (await tenant.viewer.get("/v1/tickets?limit=1")).json()["next_cursor"]
    response = await tenant.viewer.get(f"/v1/tickets?limit=1&sort=priority&cursor={cursor}")
    assert response.status_code == 400 and response.json()["field"] == "cursor"
    garbage = await tenant.viewer.get("/v1/tickets?cursor=not-a-cursor")
    assert garbage.status_code == 400


async def test_counts_group_the_filtered_tickets(tenant: Tenant) -> None:
    for priority in ["high", "high", "low"]:
        await create_ticket(tenant.agent, priority=priority)
    counts = (await tenant.viewer.get("/v1/tickets/counts?group_by=priority")).json()
    assert counts["total"] == 3
    assert {bucket["key"]: bucket["count"] for bucket in counts["buckets"]} == {"high": 2, "low": 1}
    filtered = (await tenant.viewer.get("/v1/tickets/counts?group_by=assignee&priority=low")).json()
    assert filtered["buckets"] == [{"key": None, "count": 1}]


async def test_assignee_and_followers_must_be_active_agents(tenant: Tenant, other_tenant: Tenant) -> None:
    inactive = await create_agent(tenant.admin, "crm-9", active=False)
    viewer = await create_agent(tenant.admin, "crm-10", role="viewer")
    foreign = await create_agent(other_tenant.admin, "crm-11")
    for body, field in (
        ({"assignee_id": inactive["id"]}, "assignee_id"),
        ({"assignee_id": viewer["id"]}, "assignee_id"),
        ({"assignee_id": foreign["id"]}, "assignee_id"),
        ({"followers": [foreign["id"]]}, "followers"),
    ):
        response = await tenant.agent.post("/v1/tickets", json={"subject": "x", **body})
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"] == field
        assert foreign["id"] not in response.text


async def test_restricted_agent_sees_only_their_groups_and_watched_categories(
    app: FastAPI, tenant: Tenant
) -> None:
    restricted = await create_agent(tenant.admin, "crm-restricted", ticket_access="restricted")
    group = await create_group(tenant.admin, "Nhóm CSKH", [restricted["id"]])
    watched = await create_category(tenant.admin, "Bảo hành")
    response = await tenant.admin.put(f"/v1/categories/{watched['id']}/watchers/{restricted['id']}")
    assert response.status_code == 204
    in_group = await create_ticket(tenant.agent, group_id=group["id"])
    in_category = await create_ticket(tenant.agent, category_id=watched["id"])
    followed = await create_ticket(tenant.agent, followers=[restricted["id"]])
    hidden = await create_ticket(tenant.agent)

    kid, secret = await rotate_token_secret(tenant.admin)
    client = make_client(app, mint_agent_token(kid, secret, "crm-restricted"))
    listed = {item["id"] for item in (await client.get("/v1/tickets")).json()["items"]}
    assert listed == {in_group["id"], in_category["id"], followed["id"]}
    assert (await client.get(f"/v1/tickets/{hidden['id']}")).status_code == 404
    assert (await client.patch(f"/v1/tickets/{hidden['id']}", json={"priority": "low"})).status_code == 404
    counts = (await client.get("/v1/tickets/counts?group_by=status_kind")).json()
    assert counts["total"] == 3
    mine = await client.get("/v1/tickets?assignee=me")
    assert mine.status_code == 200 and mine.json()["items"] == []


async def test_viewer_reads_but_cannot_write(tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent)
    assert (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).status_code == 200
    response = await tenant.viewer.post("/v1/tickets", json={"subject": "x"})
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert (await tenant.anonymous.get("/v1/tickets")).status_code == 401


# The migration from one counter row per workspace to one sequence per workspace

BEFORE_SEQUENCES = "066de4833f7d"
SEQUENCES = "7c1e4d2a9b35"


async def _sql(url: str, statement: str, *arguments: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(plain_url(url))
    try:
        return await connection.fetch(statement, *arguments)
    finally:
        await connection.close()


async def _counted_workspaces(url: str, busy: UUID, idle: UUID, uncounted: UUID) -> None:
    """Before the sequences: a workspace that handed out #1 to #41 (#40 and #41 are stored), one whose
    counter is at 0, and one without a counter row."""
    status = uuid4()
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute(
            "INSERT INTO workspaces (id, name) VALUES ($1, 'A'), ($2, 'B'), ($3, 'C')", busy, idle, uncounted
        )
        await connection.execute("INSERT INTO ticket_counters VALUES ($1, 41), ($2, 0)", busy, idle)
        await connection.execute(
            "INSERT INTO ticket_statuses (workspace_id, id, name, kind) VALUES ($1, $2, 'Mới', 'new')",
            busy,
            status,
        )
        await connection.executemany(
            "INSERT INTO tickets"
            " (workspace_id, id, number, subject, status_id, status_kind, priority, channel)"
            " VALUES ($1, $2, $3, 'Mất mạng', $4, 'new', 'normal', 'phone')",
            [(busy, uuid4(), number, status) for number in (40, 41)],
        )
    finally:
        await connection.close()


def _next_numbers(url: str, *workspace_ids: UUID) -> list[int]:
    names = [f"ticket_numbers_{workspace_id.hex}" for workspace_id in workspace_ids]
    rows = asyncio.run(_sql(url, "SELECT nextval(name::regclass) FROM unnest($1::text[]) AS name", names))
    return [row[0] for row in rows]


def test_the_sequences_go_on_from_the_counters_and_back(database_url: str) -> None:
    name = f"helpdesk_numbers_{secrets.token_hex(4)}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    workspaces = busy, idle, uncounted = uuid4(), uuid4(), uuid4()
    asyncio.run(admin_statement(database_url, f'CREATE DATABASE "{name}"'))
    try:
        config = alembic_config(url)
        command.upgrade(config, BEFORE_SEQUENCES)
        asyncio.run(_counted_workspaces(url, *workspaces))

        command.upgrade(config, SEQUENCES)
        assert asyncio.run(_sql(url, "SELECT to_regclass('ticket_counters')")) == [(None,)]
        # The busy workspace's #42 is taken here, as by a creation that rolled back.
        assert _next_numbers(url, *workspaces) == [42, 1, 1]

        command.downgrade(config, BEFORE_SEQUENCES)
        counters = asyncio.run(_sql(url, "SELECT workspace_id, last_number FROM ticket_counters"))
        assert dict(counters) == {busy: 41, idle: 0, uncounted: 0}
        sequences = "SELECT count(*) FROM pg_class WHERE relkind = 'S' AND relname LIKE 'ticket_numbers%'"
        assert asyncio.run(_sql(url, sequences)) == [(0,)]

        command.upgrade(config, SEQUENCES)
        assert _next_numbers(url, *workspaces) == [42, 1, 1]
    finally:
        asyncio.run(admin_statement(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
