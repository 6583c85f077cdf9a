"""One of every resource in a workspace, and a valid request body for every write operation.

The tenant-isolation and bad-input tests walk the OpenAPI document: every path parameter must
name a resource of the world, and every operation with a JSON body must have an example here,
so a route added later is covered (or the test says what it is missing).
"""

import secrets
from collections.abc import Callable
from typing import Any

from app.kit.tokens import new_token
from tests.conftest import Tenant
from tests.factories import (
    create,
    create_agent,
    create_category,
    create_contact,
    create_group,
    create_ticket,
    mint_agent_token,
    rotate_token_secret,
)

World = dict[str, str]


async def build_world(tenant: Tenant) -> World:
    admin, agent = tenant.admin, tenant.agent
    suffix = secrets.token_hex(3)
    role = await create(
        admin, "/v1/roles", {"name": f"Trực tổng đài {suffix}", "permissions": ["tickets.access"]}
    )
    member = await create_agent(admin, f"crm-{suffix}", email=f"an.{suffix}@example.vn")
    group = await create_group(admin, f"Nhóm Kỹ thuật {suffix}", [member["id"]])
    category = await create_category(admin, f"Giao hàng {suffix}")
    watched = await admin.put(f"/v1/categories/{category['id']}/watchers/{member['id']}")
    assert watched.status_code == 204
    field = await create(
        admin,
        "/v1/custom-fields",
        {"entity": "ticket", "key": f"ma_don_{suffix}", "label": "Mã đơn", "type": "text"},
    )
    organization = await create(admin, "/v1/organizations", {"name": f"Công ty Sao Mai {suffix}"})
    contact = await create_contact(
        agent, email=f"khach.{suffix}@example.vn", organization_id=organization["id"]
    )
    identity = await create(
        agent, f"/v1/contacts/{contact['id']}/identities", {"kind": "zalo", "value": suffix}
    )
    status = await create(admin, "/v1/statuses", {"name": f"Chờ linh kiện {suffix}", "kind": "on_hold"})
    calendar = await create(admin, "/v1/calendars", calendar_example(suffix))
    policy = await create(admin, "/v1/sla-policies", policy_example(calendar["id"], group["id"], suffix))
    parent = await create_ticket(agent, subject=f"Triển khai {suffix}", requester_id=contact["id"])
    ticket = await create_ticket(
        agent,
        parent_id=parent["id"],
        group_id=group["id"],
        category_id=category["id"],
        assignee_id=member["id"],
        requester_id=contact["id"],
        followers=[member["id"]],
    )
    api_key = await create(admin, "/v1/api-keys", {"name": f"khóa {suffix}", "role": "viewer"})
    macro = await create(admin, "/v1/macros", macro_example(member["id"], group["id"], status["id"], suffix))
    trigger = await create(admin, "/v1/triggers", trigger_example(group["id"], macro["id"], suffix))
    automation = await create(
        admin, "/v1/automations", automation_example(calendar["id"], group["id"], macro["id"], suffix)
    )
    channel = await create(admin, "/v1/channels", channel_example(group["id"], suffix))
    received = await tenant.anonymous.post(
        f"/v1/channels/{channel['id']}/messages", json=message_example(suffix), headers=CHANNEL_AUTH
    )
    assert received.status_code == 202, received.text
    note = await create(agent, f"/v1/tickets/{ticket['id']}/comments", {"body": "Ghi chú", "public": False})
    link = await create(
        agent, f"/v1/tickets/{ticket['id']}/links", {"ticket_id": parent["id"], "kind": "related"}
    )
    # Never called: the walks do not run the worker.
    webhook = await create(admin, "/v1/webhooks", {"url": "http://127.0.0.1:9/crm", "event_types": ["*"]})
    delivery = await admin.post(f"/v1/webhooks/{webhook['id']}/test")
    assert delivery.status_code == 202, delivery.text
    view = await create(
        admin,
        "/v1/views",
        {"name": f"Phiếu gấp {suffix}", "visibility": "everyone", "filters": {"priority": "urgent,high"}},
    )
    upload = await agent.post("/v1/uploads", files={"files": ("Hóa đơn.pdf", b"%PDF-1.4\n%%EOF\n")})
    assert upload.status_code == 201, upload.text
    # The member was assigned the ticket: their feed, read with their own token, tells them so.
    kid, secret = await rotate_token_secret(admin)
    as_member = {"Authorization": f"Bearer {mint_agent_token(kid, secret, member['external_id'])}"}
    notification = (await admin.get("/v1/notifications", headers=as_member)).json()["items"][0]
    data_request = await admin.post(f"/v1/contacts/{contact['id']}/export")
    assert data_request.status_code == 202, data_request.text
    customer_link = await create(agent, f"/v1/tickets/{ticket['id']}/customer-link", {})
    return {
        "agent_id": member["id"],
        "group_id": group["id"],
        "category_id": category["id"],
        "field_id": field["id"],
        "field_key": field["key"],
        "organization_id": organization["id"],
        "contact_id": contact["id"],
        "identity_id": identity["identities"][-1]["id"] if "identities" in identity else identity["id"],
        "status_id": status["id"],
        "ticket_id": ticket["id"],
        "parent_ticket_id": parent["id"],
        "api_key_id": api_key["id"],
        "webhook_id": webhook["id"],
        "comment_id": note["id"],
        "link_id": link["id"],
        "delivery_id": delivery.json()["id"],
        "macro_id": macro["id"],
        "attachment_id": upload.json()["items"][0]["id"],
        "calendar_id": calendar["id"],
        "policy_id": policy["id"],
        "trigger_id": trigger["id"],
        "automation_id": automation["id"],
        "channel_id": channel["id"],
        "inbound_id": received.json()["id"],
        "role_id": role["id"],
        "view_id": view["id"],
        "notification_id": notification["id"],
        "data_request_id": data_request.json()["id"],
        "token": customer_link["token"],
        "workspace_id": str(tenant.workspace_id),
        # Well formed, and of the workspace, but of no session: the walks need none that lists anything.
        "session_token": new_token(tenant.workspace_id),
        "number": str(ticket["number"]),
        "contact_email": contact["email"],
    }


# Keys of a world that are ids of resources (the rest are other values, like a field key).
RESOURCE_KEYS = (
    "agent_id", "group_id", "category_id", "field_id", "organization_id", "contact_id",
    "identity_id", "status_id", "ticket_id", "parent_ticket_id", "api_key_id", "webhook_id", "delivery_id",
    "comment_id", "link_id", "macro_id", "attachment_id", "calendar_id", "policy_id",
    "trigger_id", "channel_id", "inbound_id", "role_id", "view_id", "notification_id", "data_request_id",
    "automation_id",
)  # fmt: skip


def calendar_example(suffix: str) -> dict[str, Any]:
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"]
    return {
        "name": f"Giờ hành chính {suffix}",
        "time_zone": "Asia/Ho_Chi_Minh",
        "hours": [
            *({"day": day, "start": "08:00", "end": "12:00"} for day in weekdays),
            *({"day": day, "start": "13:30", "end": "17:30"} for day in weekdays),
        ],
        "holidays": [{"start": "2027-02-05", "end": "2027-02-11", "name": "Tết Đinh Mùi"}],
    }


def policy_example(calendar_id: str, group_id: str, suffix: str) -> dict[str, Any]:
    return {
        "name": f"SLA nhóm kỹ thuật {suffix}",
        "conditions": {"all": [{"field": "group_id", "operator": "equals", "value": group_id}]},
        "calendar_id": calendar_id,
        "targets": [
            {"priority": "normal", "metric": "first_response", "minutes": 240},
            {"priority": "normal", "metric": "next_response", "minutes": 480},
            {"priority": "normal", "metric": "resolution", "minutes": 2400},
        ],
    }


def macro_example(agent_id: str, group_id: str, status_id: str, suffix: str) -> dict[str, Any]:
    return {
        "name": f"Xác nhận tiếp nhận {suffix}",
        "description": "Trả lời khách khi nhận phiếu",
        "body": "Chào {{ requester.name }}, phiếu #{{ ticket.number }} đã được tiếp nhận.",
        "group_id": group_id,
        "actions": [
            {"type": "set_status", "status_id": status_id},
            {"type": "set_group", "group_id": group_id},
            {"type": "set_assignee", "assignee_id": agent_id},
            {"type": "add_follower", "agent_id": agent_id},
            {"type": "add_tags", "tags": ["da-tiep-nhan"]},
        ],
    }


def trigger_example(group_id: str, macro_id: str, suffix: str) -> dict[str, Any]:
    return {
        "name": f"Tin nhắn Zalo về nhóm kỹ thuật {suffix}",
        "events": ["ticket.created"],
        "conditions": {
            "all": [{"field": "channel", "operator": "equals", "value": "zalo"}],
            "any": [{"field": "subject", "operator": "contains", "value": "lỗi"}],
        },
        "actions": [
            {"type": "set_group", "group_id": group_id},
            {"type": "set_priority", "priority": "high"},
            {"type": "add_comment", "macro_id": macro_id, "public": True},
        ],
    }


def automation_example(calendar_id: str, group_id: str, macro_id: str, suffix: str) -> dict[str, Any]:
    return {
        "name": f"Nhắc khách sau 2 ngày làm việc {suffix}",
        "conditions": {
            "all": [
                {"field": "status_kind", "operator": "equals", "value": "pending"},
                {
                    "field": "hours_since_status_entered",
                    "operator": "at_least",
                    "value": 16,
                    "calendar_id": calendar_id,
                },
            ]
        },
        "actions": [
            {"type": "add_comment", "macro_id": macro_id, "public": True},
            {"type": "notify", "to": ["group"], "via": ["feed"], "macro_id": macro_id},
            {"type": "set_group", "group_id": group_id},
        ],
    }


CHANNEL_TOKEN = "kenh-chat-token-0123456789abcdef"
# How a channel's caller authenticates: the channel's token, not an API key.
CHANNEL_AUTH = {"Authorization": f"Bearer {CHANNEL_TOKEN}"}


def channel_example(group_id: str, suffix: str) -> dict[str, Any]:
    return {
        "kind": "chat",
        "name": f"Chat trên website {suffix}",
        "settings": {"callback_url": "http://127.0.0.1:9/chat-replies", "reopen_window_hours": 48},
        "secrets": {"token": CHANNEL_TOKEN, "callback_secret": "whsec_" + "A" * 32},
        "defaults": {"group_id": group_id, "priority": "high", "tags": ["chat"]},
    }


def message_example(suffix: str) -> dict[str, Any]:
    return {
        "message_id": f"msg-{suffix}",
        "contact": {"id": f"visitor-{suffix}", "name": "Chị Lan", "phone": "0912345678"},
        "conversation_id": f"conv-{suffix}",
        "text": "Cho em hỏi đơn hàng #1024 khi nào giao ạ?",
    }


def _unique(label: str) -> str:
    return f"{label} {secrets.token_hex(3)}"


# Multipart operations: their form fields (files are added by the walks).
MULTIPART_EXAMPLES: dict[str, Callable[[World], dict[str, Any]]] = {
    "create_comment_with_files": lambda w: {
        "comment": '{"body": "Ảnh chụp lỗi", "public": false}',
    },
    "create_portal_reply_with_files": lambda w: {"body": "Em gửi ảnh chụp lỗi ạ"},
}

EXAMPLES: dict[str, Callable[[World], dict[str, Any]]] = {
    "create_portal_reply": lambda w: {"body": "Dạ em vẫn chưa nhận được hàng"},
    "rate_portal_ticket": lambda w: {"score": 5, "comment": "Hỗ trợ nhanh, cảm ơn!"},
    "request_portal_access": lambda w: {"workspace_id": w["workspace_id"], "email": w["contact_email"]},
    "open_portal_session": lambda w: {"token": w["token"]},
    "create_ticket": lambda w: {
        "subject": "Khách hàng phản ánh giao hàng chậm",
        "description": "Đơn hàng đặt thứ hai chưa tới",
        "priority": "high",
        "type": "incident",
        "status_id": w["status_id"],
        "category_id": w["category_id"],
        "group_id": w["group_id"],
        "assignee_id": w["agent_id"],
        "requester_id": w["contact_id"],
        "followers": [w["agent_id"]],
        "tags": ["giao-hang"],
        "custom_fields": {w["field_key"]: "DH-1042"},
        "external_refs": {"crm": "OPP-1042"},
        "due_at": "2030-01-01T09:00:00+07:00",
        "parent_id": w["parent_ticket_id"],
    },
    "update_ticket": lambda w: {
        "subject": "Giao hàng chậm (đã liên hệ)",
        "priority": "urgent",
        "category_id": w["category_id"],
        "group_id": w["group_id"],
        "assignee_id": w["agent_id"],
        "requester_id": w["contact_id"],
        "add_followers": [w["agent_id"]],
        "add_tags": ["da-lien-he"],
        "custom_fields": {w["field_key"]: "DH-1043"},
        "parent_id": w["parent_ticket_id"],
    },
    "bulk_update_tickets": lambda w: {
        "ids": [w["ticket_id"]],
        "changes": {"priority": "low", "group_id": w["group_id"], "assignee_id": w["agent_id"]},
    },
    "update_workspace": lambda w: {"name": "Công ty TNHH Ánh Dương"},
    "create_api_key": lambda w: {"name": _unique("Khóa CRM"), "role": "viewer"},
    "create_status": lambda w: {"name": _unique("Chờ khách"), "kind": "pending", "color": "#ff9800"},
    "create_role": lambda w: {
        "name": _unique("Trưởng ca"),
        "permissions": ["tickets.access", "tickets.edit"],
    },
    "update_role": lambda w: {"description": "Ca đêm", "permissions": ["tickets.access"]},
    "update_status": lambda w: {"color": "#123456", "position": 5},
    "create_agent": lambda w: {
        "external_id": _unique("crm"),
        "name": "Phạm Thu Trang",
        "role": "agent",
        "custom_role_id": w["role_id"],
    },
    "update_agent": lambda w: {"capacity": 12, "availability": "online", "skills": ["tieng-anh"]},
    "create_group": lambda w: {
        "name": _unique("Nhóm CSKH"),
        "description": "Chăm sóc khách hàng",
        "assignment_strategy": "round_robin",
    },
    "update_group": lambda w: {"description": "Nhóm hỗ trợ kỹ thuật", "assignment_strategy": "skills"},
    "create_category": lambda w: {"name": _unique("Bảo hành"), "parent_id": w["category_id"]},
    "update_category": lambda w: {"description": "Hàng lỗi, đổi trả"},
    "create_custom_field": lambda w: {
        "entity": "contact",
        "key": f"hang_{secrets.token_hex(3)}",
        "label": "Hạng thành viên",
        "type": "dropdown",
        "options": [{"value": "vang", "label": "Vàng"}, {"value": "bac", "label": "Bạc"}],
    },
    "update_custom_field": lambda w: {"label": "Mã đơn hàng", "position": 3},
    "create_organization": lambda w: {"name": _unique("Công ty Bình Minh"), "domains": []},
    "update_organization": lambda w: {"notes": "Khách hàng doanh nghiệp"},
    "create_contact": lambda w: {
        "name": "Trần Thị Mai",
        "email": f"mai.{secrets.token_hex(3)}@example.vn",
        "organization_id": w["organization_id"],
    },
    "update_contact": lambda w: {"name": "Trần Thị Mai Anh", "organization_id": w["organization_id"]},
    "add_contact_identity": lambda w: {"kind": "messenger", "value": secrets.token_hex(8)},
    "create_webhook": lambda w: {
        "url": "http://127.0.0.1:9/hooks",
        "description": "CRM đồng bộ phiếu",
        "event_types": ["ticket.created", "ticket.updated"],
    },
    "update_webhook": lambda w: {"description": "CRM", "event_types": ["*"]},
    "create_comment": lambda w: {"body": "Dạ em đã kiểm tra đơn hàng", "public": False, "attachments": []},
    "create_ticket_child": lambda w: {
        "subject": "Kiểm tra kho",
        "category_id": w["category_id"],
        "group_id": w["group_id"],
        "assignee_id": w["agent_id"],
    },
    "create_view": lambda w: {
        "name": _unique("Phiếu gấp của nhóm"),
        "filters": {"priority": "urgent", "group": w["group_id"], f"cf.{w['field_key']}": "DH-1042"},
        "sort": "-updated_at",
        "columns": ["number", "subject", "assignee_id"],
        "visibility": "groups",
        "group_ids": [w["group_id"]],
    },
    "update_view": lambda w: {"name": _unique("Phiếu rất gấp"), "position": 5},
    "link_ticket": lambda w: {"ticket_id": w["parent_ticket_id"], "kind": "duplicate_of"},
    "merge_ticket": lambda w: {"into": w["parent_ticket_id"]},
    "create_calendar": lambda w: calendar_example(secrets.token_hex(3)),
    "update_calendar": lambda w: {"holidays": [{"start": "2027-09-02", "name": "Quốc khánh"}]},
    "create_sla_policy": lambda w: policy_example(w["calendar_id"], w["group_id"], secrets.token_hex(3)),
    "update_sla_policy": lambda w: {"warn_minutes_before": 30, "position": 2},
    "assign_ticket": lambda w: {"agent_id": w["agent_id"], "group_id": w["group_id"]},
    "mark_presence": lambda w: {"state": "viewing"},
    "create_macro": lambda w: macro_example(
        w["agent_id"], w["group_id"], w["status_id"], secrets.token_hex(3)
    ),
    "create_trigger": lambda w: trigger_example(w["group_id"], w["macro_id"], secrets.token_hex(3)),
    "update_trigger": lambda w: {
        "position": 5,
        "conditions": {"all": [{"field": "tags", "operator": "contains", "value": "vip"}]},
    },
    "create_automation": lambda w: automation_example(
        w["calendar_id"], w["group_id"], w["macro_id"], secrets.token_hex(3)
    ),
    "update_automation": lambda w: {
        "position": 3,
        "conditions": {"all": [{"field": "hours_since_solved", "operator": "at_least", "value": 72}]},
    },
    "create_channel": lambda w: channel_example(w["group_id"], secrets.token_hex(3)),
    "update_channel": lambda w: {"defaults": {"group_id": w["group_id"], "tags": ["zalo"]}, "active": True},
    "receive_message": lambda w: message_example(secrets.token_hex(3)),
    "receive_call": lambda w: {
        "call_id": f"call-{secrets.token_hex(3)}",
        "direction": "outbound",
        "caller": "+84 912 345 678",
        "agent_id": w["agent_id"],
        "started_at": "2026-12-01T09:00:00+07:00",
        "duration_seconds": 192,
    },
    "update_macro": lambda w: {
        "description": "Chuyển nhóm kỹ thuật",
        "group_id": w["group_id"],
        "actions": [
            {"type": "set_assignee", "assignee_id": w["agent_id"]},
            {"type": "set_priority", "priority": "high"},
        ],
    },
}
