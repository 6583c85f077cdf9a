"""Triggers (quy tắc tự động): set-up and validation, what they do when events happen, in what order, how
often, and how a loop is cut off; history names the trigger behind every change it made."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.sla.tasks import announce_due
from app.triggers.runner import MAX_DEPTH
from tests.conftest import Tenant
from tests.factories import create, create_agent, create_category, create_contact, create_group, create_ticket
from tests.test_comments import comment
from tests.test_sla import NINE_TO_FIVE, at, calendar, policy, target, travel


async def trigger(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    return await create(client, "/v1/triggers", {"name": name, "events": ["ticket.created"], **fields})


async def macro(client: httpx.AsyncClient, name: str, body: str) -> dict[str, Any]:
    return await create(client, "/v1/macros", {"name": name, "body": body})


def when(*conditions: tuple[str, str, Any], any_of: bool = False) -> dict[str, Any]:
    listed = [{"field": field, "operator": operator, "value": value} for field, operator, value in conditions]
    return {"any": listed} if any_of else {"all": listed}


async def get_ticket(tenant: Tenant, ticket_id: str) -> dict[str, Any]:
    response = await tenant.viewer.get(f"/v1/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def comments_of(tenant: Tenant, ticket_id: str) -> list[dict[str, Any]]:
    response = await tenant.viewer.get(f"/v1/tickets/{ticket_id}/comments", params={"limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def history_of(tenant: Tenant, ticket_id: str) -> list[dict[str, Any]]:
    response = await tenant.viewer.get(f"/v1/tickets/{ticket_id}/history", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


# Set-up


async def test_admin_sets_up_triggers_that_are_listed_in_running_order(tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm Kỹ thuật")
    later = await trigger(
        tenant.admin,
        "Lỗi kỹ thuật về nhóm kỹ thuật",
        position=2,
        conditions=when(("subject", "contains", "lỗi"), ("tags", "contains", "ky-thuat"), any_of=True),
        actions=[{"type": "set_group", "group_id": group["id"]}],
    )
    assert later["active"] is True and later["events"] == ["ticket.created"]
    assert later["conditions"]["any"][0] == {"field": "subject", "operator": "contains", "value": "lỗi"}
    first = await trigger(
        tenant.admin,
        "Khách VIP gấp",
        position=1,
        events=["ticket.created", "ticket.updated"],
        conditions=when(("requester_vip", "equals", True)),
        actions=[{"type": "set_priority", "priority": "urgent"}],
    )
    off = await trigger(
        tenant.admin, "Tắt", position=0, active=False, actions=[{"type": "add_tags", "tags": ["x"]}]
    )
    listed = (await tenant.viewer.get("/v1/triggers")).json()["items"]
    assert [item["id"] for item in listed] == [off["id"], first["id"], later["id"]]
    on_update = (await tenant.viewer.get("/v1/triggers", params={"event": "ticket.updated"})).json()
    assert [item["id"] for item in on_update["items"]] == [first["id"]]
    active = (await tenant.viewer.get("/v1/triggers", params={"active": "true"})).json()["items"]
    assert off["id"] not in [item["id"] for item in active]

    url = f"/v1/triggers/{first['id']}"
    fetched = await tenant.viewer.get(url)
    assert fetched.headers["etag"] == '"1"'
    changed = await tenant.admin.patch(url, json={"position": 5}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.json()["position"] == 5
    stale = await tenant.admin.patch(url, json={"active": False}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await tenant.agent.patch(url, json={"active": False})).status_code == 403
    assert (await tenant.admin.delete(url)).status_code == 204
    assert (await tenant.viewer.get(url)).status_code == 404


async def test_triggers_that_could_not_run_are_refused(tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm CSKH")
    empty = await create(tenant.admin, "/v1/macros", {"name": "Chỉ thao tác", "body": "", "actions": [
        {"type": "add_tags", "tags": ["a"]}
    ]})  # fmt: skip
    unknown = "00000000-0000-7000-8000-000000000000"
    set_group = {"type": "set_group", "group_id": group["id"]}
    missing_group = when(("group_id", "equals", unknown))
    no_body = {"type": "add_comment", "macro_id": empty["id"], "public": False}
    unknown_field = {"type": "set_custom_fields", "custom_fields": {"khong_co": 1}}
    cases: dict[str, dict[str, Any]] = {
        "no events": {"events": [], "actions": [set_group]},
        "unknown event": {"events": ["ticket.deleted"], "actions": [set_group]},
        "no actions": {"actions": []},
        "twice": {"actions": [set_group, set_group]},
        "assignee and strategy": {
            "actions": [
                {"type": "set_assignee", "assignee_id": None},
                {"type": "assign_by_strategy", "strategy": "round_robin"},
            ]
        },
        "unknown group": {"actions": [{"type": "set_group", "group_id": unknown}]},
        "unknown category": {"actions": [{"type": "set_category", "category_id": unknown}]},
        "unknown macro": {"actions": [{"type": "add_comment", "macro_id": unknown, "public": True}]},
        "macro without body": {"actions": [no_body]},
        "unknown custom field": {"actions": [unknown_field]},
        "unknown condition field": {"conditions": when(("mau_sac", "equals", "đỏ")), "actions": [set_group]},
        "condition on a missing group": {"conditions": missing_group, "actions": [set_group]},
        "wrong operator": {"conditions": when(("priority", "contains", "h")), "actions": [set_group]},
    }  # fmt: skip
    for case, body in cases.items():
        response = await tenant.admin.post(
            "/v1/triggers", json={"name": case, "events": ["ticket.created"], **body}
        )
        assert response.status_code == 422, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    await trigger(tenant.admin, "Chuyển nhóm", actions=[set_group])
    taken = await tenant.admin.post(
        "/v1/triggers", json={"name": "CHUYỂN NHÓM", "events": ["ticket.created"], "actions": [set_group]}
    )
    assert taken.status_code == 409
    forbidden = await tenant.agent.post(
        "/v1/triggers", json={"name": "Của nhân viên", "events": ["ticket.created"], "actions": [set_group]}
    )
    assert forbidden.status_code == 403


async def test_sla_policies_refuse_conditions_on_changes_and_events(tenant: Tenant) -> None:
    hours = await calendar(tenant.admin)
    for condition in (("priority", "changed", None), ("comment_public", "equals", True)):
        response = await tenant.admin.post(
            "/v1/sla-policies",
            json={
                "name": "Theo thay đổi",
                "calendar_id": hours["id"],
                "conditions": when(condition),
                "targets": [target("first_response", 60)],
            },
        )
        assert response.status_code == 422, response.text
        assert "only triggers" in response.json()["detail"]


# What triggers do


async def test_the_automatic_reply_when_a_ticket_is_opened_or_closed_in_a_category(tenant: Tenant) -> None:
    delivery = await create_category(tenant.admin, "Giao hàng")
    late = await create_category(tenant.admin, "Giao trễ", parent_id=delivery["id"])
    billing = await create_category(tenant.admin, "Thanh toán")
    received = await macro(
        tenant.admin,
        "Đã tiếp nhận",
        "Chào {{ requester.name }}, phiếu #{{ ticket.number }} đã được tiếp nhận.",
    )
    goodbye = await macro(tenant.admin, "Đã đóng", "Phiếu #{{ ticket.number }} đã đóng. Cảm ơn anh/chị!")
    in_delivery = ("category_id", "equals", delivery["id"])
    await trigger(
        tenant.admin,
        "Trả lời tự động khi mở phiếu",
        conditions=when(in_delivery),
        actions=[{"type": "add_comment", "macro_id": received["id"], "public": True}],
    )
    await trigger(
        tenant.admin,
        "Trả lời tự động khi đóng phiếu",
        events=["ticket.updated"],
        conditions=when(in_delivery, ("status_kind", "changed_to", "closed")),
        actions=[{"type": "add_comment", "macro_id": goodbye["id"], "public": True}],
    )
    hoa = await create_contact(tenant.agent, name="Chị Hoa", email="hoa@example.vn")
    ticket = await create_ticket(tenant.agent, requester_id=hoa["id"], category_id=late["id"])
    other = await create_ticket(tenant.agent, requester_id=hoa["id"], category_id=billing["id"])

    [reply] = await comments_of(tenant, ticket["id"])
    assert reply["public"] is True and reply["author"]["type"] == "system"
    assert reply["body"] == f"Chào Chị Hoa, phiếu #{ticket['number']} đã được tiếp nhận."
    assert await comments_of(tenant, other["id"]) == [], "another category: no reply"
    assert (await get_ticket(tenant, ticket["id"]))["first_response_at"] is None, "not an agent's answer"

    url = f"/v1/tickets/{ticket['id']}"
    assert (await tenant.agent.patch(url, json={"priority": "high"})).status_code == 200
    assert len(await comments_of(tenant, ticket["id"])) == 1, "not closed: no goodbye"
    closed = await tenant.agent.patch(url, json={"status_kind": "closed"})
    assert closed.status_code == 200, closed.text
    bodies = [item["body"] for item in await comments_of(tenant, ticket["id"])]
    assert bodies[-1] == f"Phiếu #{ticket['number']} đã đóng. Cảm ơn anh/chị!"
    assert (
        await tenant.agent.patch(f"/v1/tickets/{other['id']}", json={"status_kind": "closed"})
    ).status_code == 200
    assert await comments_of(tenant, other["id"]) == []


async def test_technical_issues_go_to_the_technical_team_and_history_names_the_trigger(
    tenant: Tenant,
) -> None:
    agents = [await create_agent(tenant.admin, f"kt-{n}", availability="online") for n in range(2)]
    technical = await create_group(
        tenant.admin, "Nhóm Kỹ thuật", [a["id"] for a in agents], assignment_strategy="manual"
    )
    route = await trigger(
        tenant.admin,
        "Lỗi kỹ thuật",
        conditions=when(("subject", "contains", "lỗi"), ("tags", "contains", "ky-thuat"), any_of=True),
        actions=[
            {"type": "set_group", "group_id": technical["id"]},
            {"type": "assign_by_strategy", "strategy": "least_loaded"},
            {"type": "set_priority", "priority": "high"},
            {"type": "add_tags", "tags": ["da-dinh-tuyen"]},
        ],
    )
    routed = await create_ticket(tenant.agent, subject="Máy in báo LỖI giấy")
    assert routed["group_id"] == technical["id"], "the answer shows what the triggers did"
    assert routed["assignee_id"] in {a["id"] for a in agents}
    assert routed["priority"] == "high" and routed["tags"] == ["da-dinh-tuyen"]
    untouched = await create_ticket(tenant.agent, subject="Hỏi giá sản phẩm")
    assert untouched["group_id"] is None and untouched["priority"] == "normal"

    history = await history_of(tenant, routed["id"])
    by_trigger = {entry["field"]: entry for entry in history if entry["actor_type"] == "trigger"}
    assert set(by_trigger) >= {"group_id", "assignee_id", "priority", "tags"}
    assert {entry["actor_id"] for entry in by_trigger.values()} == {route["id"]}
    assert by_trigger["priority"]["old_value"] == "normal" and by_trigger["priority"]["new_value"] == "high"
    creation = next(e for e in history if e["field"] == "subject")
    assert creation["actor_type"] == "api_key", "the caller's part stays the caller's"

    response = await tenant.viewer.get("/v1/events", params={"types": "ticket.updated"})
    [update] = [event for event in response.json()["items"] if event["data"]["ticket"]["id"] == routed["id"]]
    assert update["actor"]["type"] == "trigger" and update["actor"]["id"] == route["id"]


async def test_triggers_run_in_order_once_each_and_their_changes_fire_later_ones(tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm VIP")
    # Position 0 runs first, and does not yet see the tag that position 1 adds: it runs in the next pass.
    escalate = await trigger(
        tenant.admin,
        "Nhóm VIP",
        position=0,
        events=["ticket.updated"],
        conditions=when(("tags", "contains", "vip"), ("tags", "changed", None)),
        actions=[{"type": "set_group", "group_id": group["id"]}],
    )
    tag = await trigger(
        tenant.admin,
        "Gắn thẻ VIP",
        position=1,
        events=["ticket.created", "ticket.updated"],
        conditions=when(("priority", "equals", "urgent")),
        actions=[{"type": "add_tags", "tags": ["vip"]}],
    )
    # Position 2 sees what position 1 did in the same pass.
    note = await trigger(
        tenant.admin,
        "Ghi chú VIP",
        position=2,
        events=["ticket.created", "ticket.updated"],
        conditions=when(("tags", "contains", "vip")),
        actions=[{"type": "add_tags", "tags": ["can-goi-lai"]}],
    )
    ticket = await create_ticket(tenant.agent, priority="urgent")
    assert ticket["tags"] == ["vip", "can-goi-lai"]
    assert ticket["group_id"] == group["id"]
    by_trigger = [e for e in await history_of(tenant, ticket["id"]) if e["actor_type"] == "trigger"]
    assert [(e["actor_id"], e["field"]) for e in by_trigger] == [
        (tag["id"], "tags"),
        (note["id"], "tags"),
        (escalate["id"], "group_id"),
    ]

    # Each at most once per change: an update that matches both tagging triggers again changes nothing.
    url = f"/v1/tickets/{ticket['id']}"
    updated = (await tenant.agent.patch(url, json={"subject": "Gấp: giao sai hàng"})).json()
    assert updated["tags"] == ["vip", "can-goi-lai"]
    assert len([e for e in await history_of(tenant, ticket["id"]) if e["actor_type"] == "trigger"]) == 3


async def test_triggers_undoing_each_other_stop_after_running_once_each(tenant: Tenant) -> None:
    await trigger(
        tenant.admin,
        "Thêm thẻ",
        position=0,
        events=["ticket.updated"],
        conditions=when(("tags", "not_contains", "a")),
        actions=[{"type": "add_tags", "tags": ["a"]}],
    )
    await trigger(
        tenant.admin,
        "Bỏ thẻ",
        position=1,
        events=["ticket.updated"],
        conditions=when(("tags", "contains", "a")),
        actions=[{"type": "remove_tags", "tags": ["a"]}],
    )
    ticket = await create_ticket(tenant.agent)
    response = await tenant.agent.patch(f"/v1/tickets/{ticket['id']}", json={"priority": "low"})
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == []
    fields = [e["field"] for e in await history_of(tenant, ticket["id"]) if e["actor_type"] == "trigger"]
    assert fields == ["tags", "tags"]


async def test_a_comment_loop_is_cut_off_at_a_fixed_depth_and_recorded(tenant: Tenant) -> None:
    echo = await macro(tenant.admin, "Ghi chú lặp", "Đã ghi nhận bình luận.")
    await trigger(
        tenant.admin,
        "Ghi chú mỗi bình luận",
        events=["ticket.comment_added"],
        actions=[{"type": "add_comment", "macro_id": echo["id"], "public": False}],
    )
    ticket = await create_ticket(tenant.agent)
    await comment(tenant.agent, ticket["id"], public=False, body="Khách gọi lại lúc 9 giờ")
    comments = await comments_of(tenant, ticket["id"])
    assert len(comments) == 1 + MAX_DEPTH
    assert [c["body"] for c in comments[1:]] == ["Đã ghi nhận bình luận."] * MAX_DEPTH
    [cut] = [e for e in await history_of(tenant, ticket["id"]) if e["field"] == "triggers"]
    assert cut["actor_type"] == "system" and "depth" in cut["new_value"]["cut_off"]


async def test_a_customer_reply_to_a_waiting_ticket_brings_it_forward(tenant: Tenant) -> None:
    await trigger(
        tenant.admin,
        "Khách trả lời",
        events=["ticket.comment_added"],
        conditions=when(
            ("comment_author", "equals", "contact"),
            ("comment_public", "equals", True),
            ("status_kind", "changed_from", "pending"),
        ),
        actions=[
            {"type": "set_priority", "priority": "high"},
            {"type": "add_tags", "tags": ["khach-tra-loi"]},
        ],
    )
    lan = await create_contact(tenant.agent, name="Anh Lân", phone="+84901234567")
    ticket = await create_ticket(tenant.agent, requester_id=lan["id"], status_kind="pending")
    await comment(tenant.agent, ticket["id"], public=False, body="Chờ khách gửi ảnh")
    assert (await get_ticket(tenant, ticket["id"]))["tags"] == [], "a note is not the customer"
    from_customer = {"type": "contact", "id": lan["id"]}
    await comment(tenant.agent, ticket["id"], public=True, body="Ảnh đây ạ", author=from_customer)
    after = await get_ticket(tenant, ticket["id"])
    assert after["status_kind"] == "open", "a customer's reply reopens a waiting ticket"
    assert after["priority"] == "high" and after["tags"] == ["khach-tra-loi"]
    by_trigger = [e for e in await history_of(tenant, ticket["id"]) if e["actor_type"] == "trigger"]
    await comment(tenant.agent, ticket["id"], public=True, body="Còn nữa ạ", author=from_customer)
    again = [e for e in await history_of(tenant, ticket["id"]) if e["actor_type"] == "trigger"]
    assert again == by_trigger, "the ticket was no longer waiting"


async def test_a_trigger_that_cannot_apply_changes_nothing_and_the_failure_is_recorded(
    tenant: Tenant,
) -> None:
    gone = await create_agent(tenant.admin, "nghi-viec")
    broken = await trigger(
        tenant.admin,
        "Giao cho người đã nghỉ",
        position=0,
        actions=[{"type": "set_assignee", "assignee_id": gone["id"]}, {"type": "add_tags", "tags": ["x"]}],
    )
    await trigger(tenant.admin, "Vẫn chạy", position=1, actions=[{"type": "set_priority", "priority": "low"}])
    deactivated = await tenant.admin.patch(f"/v1/agents/{gone['id']}", json={"active": False})
    assert deactivated.status_code == 200, deactivated.text

    ticket = await create_ticket(tenant.agent)
    assert ticket["assignee_id"] is None and ticket["tags"] == [], "all of the trigger or nothing"
    assert ticket["priority"] == "low", "the triggers after it still run"
    [failure] = [e for e in await history_of(tenant, ticket["id"]) if e["field"] == "triggers"]
    assert failure["actor_type"] == "trigger" and failure["actor_id"] == broken["id"]
    assert "failed" in failure["new_value"]


async def test_a_trigger_setting_fields_fails_whole_between_triggers_whose_changes_are_kept(
    tenant: Tenant,
) -> None:
    """A pass holds its triggers' changes and writes them at its end; a trigger that only sets fields
    runs without a savepoint, and its failure leaves the held changes of the others as they were."""
    on_update = {"events": ["ticket.updated"], "conditions": when(("description", "changed", None))}
    await trigger(
        tenant.admin, "Gắn nhãn", position=0, actions=[{"type": "add_tags", "tags": ["da-xem"]}], **on_update
    )
    solving = await trigger(
        tenant.admin,
        "Đóng luôn",
        position=1,
        actions=[{"type": "set_status", "status_kind": "solved"}, {"type": "add_tags", "tags": ["dong"]}],
        **on_update,
    )
    await trigger(
        tenant.admin,
        "Hạ ưu tiên",
        position=2,
        actions=[{"type": "set_priority", "priority": "low"}],
        **on_update,
    )
    parent = await create_ticket(tenant.agent, subject="Đơn hàng lớn")
    await create_ticket(tenant.agent, subject="Giao phần 1", parent_id=parent["id"])

    response = await tenant.agent.patch(f"/v1/tickets/{parent['id']}", json={"description": "Khách hỏi lại"})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["tags"] == ["da-xem"] and changed["priority"] == "low"
    assert changed["status_kind"] == parent["status_kind"], "the sub-ticket is unresolved: not solved"
    stored = await get_ticket(tenant, parent["id"])
    assert {name: stored[name] for name in ("tags", "priority", "status_kind", "version", "updated_at")} == {
        name: changed[name] for name in ("tags", "priority", "status_kind", "version", "updated_at")
    }, "what the answer shows is what was written"
    history = await history_of(tenant, parent["id"])
    [failure] = [e for e in history if e["field"] == "triggers"]
    assert failure["actor_id"] == solving["id"] and "unresolved" in failure["new_value"]["failed"]
    assert {e["field"] for e in history if e["actor_type"] == "trigger"} == {"tags", "priority", "triggers"}


async def test_outside_business_hours_the_customer_is_told_when_we_answer(tenant: Tenant) -> None:
    hours = await calendar(tenant.admin, name="Giờ làm việc", hours=NINE_TO_FIVE)
    notice = await macro(tenant.admin, "Ngoài giờ", "Chúng tôi sẽ trả lời trong giờ làm việc (9:00-17:00).")
    await trigger(
        tenant.admin,
        "Ngoài giờ làm việc",
        conditions=when(("business_hours", "outside", hours["id"])),
        actions=[
            {"type": "add_comment", "macro_id": notice["id"], "public": True},
            {"type": "add_tags", "tags": ["ngoai-gio"]},
        ],
    )
    with travel(at(2026, 12, 5, 10, 0)):  # Saturday
        weekend = await create_ticket(tenant.agent)
    with travel(at(2026, 12, 7, 10, 0)):  # Monday
        weekday = await create_ticket(tenant.agent)
    assert weekend["tags"] == ["ngoai-gio"] and len(await comments_of(tenant, weekend["id"])) == 1
    assert weekday["tags"] == [] and await comments_of(tenant, weekday["id"]) == []


async def test_a_breach_escalates_the_ticket(app: FastAPI, tenant: Tenant, settings: Settings) -> None:
    await policy(tenant.admin, [target("first_response", 60, business_hours=False)], name="Một giờ")
    lead = await create_agent(tenant.admin, "truong-nhom")
    await trigger(
        tenant.admin,
        "Quá hạn phản hồi",
        events=["ticket.sla_breached"],
        conditions=when(("sla_metric", "equals", "first_response")),
        actions=[
            {"type": "set_priority", "priority": "urgent"},
            {"type": "add_follower", "agent_id": lead["id"]},
            {"type": "add_tags", "tags": ["qua-han"]},
        ],
    )
    start = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    with travel(start):
        ticket = await create_ticket(tenant.agent)
    await announce_due(app.state.db, settings, start + timedelta(minutes=30))
    assert (await get_ticket(tenant, ticket["id"]))["priority"] == "normal"
    await announce_due(app.state.db, settings, start + timedelta(minutes=61))
    escalated = await get_ticket(tenant, ticket["id"])
    assert escalated["priority"] == "urgent" and escalated["tags"] == ["qua-han"]
    assert lead["id"] in escalated["followers"]
    await announce_due(app.state.db, settings, start + timedelta(minutes=120))
    history = await history_of(tenant, ticket["id"])
    assert len([e for e in history if e["field"] == "priority" and e["actor_type"] == "trigger"]) == 1
