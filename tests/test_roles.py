"""Custom agent roles: permissions given to agents in place of their built-in role's, on every route."""

import re
from typing import Any

from fastapi import FastAPI

from app.api.permissions import least_role, preset
from app.models.enums import Permission, Role
from tests.conftest import Tenant, make_client
from tests.factories import create, create_agent, create_ticket, mint_agent_token, rotate_token_secret
from tests.world import EXAMPLES, build_world


async def role(tenant: Tenant, name: str, permissions: list[str]) -> dict[str, Any]:
    return await create(tenant.admin, "/v1/roles", {"name": name, "permissions": permissions})


async def agent_with_role(
    app: FastAPI, tenant: Tenant, external_id: str, role_id: str, *, claim: str = "agent", **fields: Any
) -> Any:
    await create_agent(tenant.admin, external_id, role="agent", custom_role_id=role_id, **fields)
    kid, secret = await rotate_token_secret(tenant.admin)
    return make_client(app, mint_agent_token(kid, secret, external_id, role=claim))


async def test_roles_are_made_changed_and_kept_while_in_use(tenant: Tenant) -> None:
    presets = (await tenant.viewer.get("/v1/roles/presets")).json()
    assert presets == {built_in.value: preset(built_in) for built_in in Role}
    assert "reference_data.manage" in presets["admin"] and "reference_data.manage" not in presets["agent"]
    operator = await role(tenant, "Trực tổng đài", ["tickets.create", "tickets.access", "tickets.access"])
    assert operator["permissions"] == ["tickets.access", "tickets.create"], "each once, in order"
    duplicate = await tenant.admin.post("/v1/roles", json={"name": "trực tổng đài", "permissions": []})
    assert duplicate.status_code == 409
    unknown = await tenant.admin.post("/v1/roles", json={"name": "Khác", "permissions": ["tickets.fly"]})
    assert unknown.status_code == 422 and unknown.json()["field"] == "permissions.0"
    assert (
        await tenant.agent.post("/v1/roles", json={"name": "Tự cấp", "permissions": []})
    ).status_code == 403

    url = f"/v1/roles/{operator['id']}"
    changed = await tenant.admin.patch(
        url, json={"permissions": ["tickets.access"]}, headers={"If-Match": '"1"'}
    )
    assert changed.status_code == 200 and changed.headers["etag"] == '"2"'
    stale = await tenant.admin.delete(url, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    await create_agent(tenant.admin, "tong-dai-01", custom_role_id=operator["id"])
    in_use = await tenant.admin.delete(url)
    assert in_use.status_code == 409 and in_use.json()["code"] == "role_in_use"
    agents = (await tenant.viewer.get("/v1/agents")).json()["items"]
    assert [agent["custom_role_id"] for agent in agents] == [operator["id"]]


async def test_an_agent_does_what_their_role_permits_more_or_less_than_their_built_in_role(
    app: FastAPI, tenant: Tenant
) -> None:
    ticket = await create_ticket(tenant.agent, subject="Khách báo mất điện thoại")
    operator_role = await role(
        tenant, "Trực tổng đài", ["tickets.access", "tickets.create", "comments.create", "contacts.access"]
    )
    operator = await agent_with_role(app, tenant, "tong-dai-01", operator_role["id"])
    assert (await operator.post("/v1/tickets", json={"subject": "Gọi lại cho khách"})).status_code == 201
    reply = {"body": "Dạ, bên em đã ghi nhận ạ.", "public": True}
    assert (await operator.post(f"/v1/tickets/{ticket['id']}/comments", json=reply)).status_code == 201
    for method, url, body, missing in (
        ("PATCH", f"/v1/tickets/{ticket['id']}", {"priority": "urgent"}, "tickets.edit"),
        ("DELETE", f"/v1/tickets/{ticket['id']}", None, "tickets.delete"),
        ("POST", f"/v1/tickets/{ticket['id']}/unassign", None, "tickets.assign"),
        ("POST", "/v1/contacts", {"name": "Anh Hùng"}, "contacts.create"),
        ("GET", "/v1/reports/sla", None, "reports.see"),
    ):
        refused = await operator.request(method, url, json=body)
        assert refused.status_code == 403, f"{method} {url}: {refused.text}"
        assert refused.json()["code"] == "insufficient_permission" and refused.json()["permission"] == missing
    assert (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()["priority"] == ticket["priority"]
    # Reference data is every agent's to read; the rest keeps to the built-in role.
    assert (await operator.get("/v1/statuses")).status_code == 200
    assert (await operator.get("/v1/channels")).status_code == 403

    lead_role = await role(tenant, "Trưởng nhóm", [*preset(Role.agent), "reference_data.manage"])
    lead = await agent_with_role(app, tenant, "truong-nhom", lead_role["id"])
    made = await lead.post("/v1/statuses", json={"name": "Chờ kho", "kind": "on_hold"})
    assert made.status_code == 201, "more than an agent's built-in role"
    everything = {"permissions": [permission.value for permission in Permission]}
    raised = await lead.patch(f"/v1/roles/{lead_role['id']}", json=everything)
    assert raised.status_code == 403 and raised.json()["code"] == "insufficient_role", (
        "no raising one's own role"
    )
    # A token that claims less than the agent's role leaves the custom role aside.
    humbler = await agent_with_role(app, tenant, "truong-nhom-2", lead_role["id"], claim="viewer")
    refused = await humbler.post("/v1/statuses", json={"name": "Chờ hãng", "kind": "on_hold"})
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_role"


async def test_a_restricted_agent_keeps_their_visibility_under_a_custom_role(
    app: FastAPI, tenant: Tenant
) -> None:
    hidden = await create_ticket(tenant.agent, subject="Phiếu của nhóm khác")
    reader = await role(tenant, "Chỉ xem", ["tickets.access"])
    agent = await agent_with_role(app, tenant, "chi-xem", reader["id"], ticket_access="restricted")
    assert (await agent.get(f"/v1/tickets/{hidden['id']}")).status_code == 404
    assert (await agent.get("/v1/tickets")).json()["items"] == []


def test_each_permission_covers_operations_of_one_built_in_role(app: FastAPI) -> None:
    covered: dict[Permission, set[Role]] = {}
    for route in app.state.api_routes:
        if getattr(route, "permission", None) is not None:
            covered.setdefault(route.permission, set()).add(route.least_role)
    assert set(covered) == set(Permission), "every permission covers some operation"
    for permission, roles in covered.items():
        assert roles == {least_role(permission)}, f"{permission}: {roles}"


async def test_every_operation_refuses_an_agent_without_its_permission_and_changes_nothing(
    app: FastAPI, tenant: Tenant
) -> None:
    """For each permission, an agent whose role holds every other one is refused on each operation it
    covers, before anything is read or written."""
    world = await build_world(tenant)
    kid, secret = await rotate_token_secret(tenant.admin)
    exercised = 0
    for permission in Permission:
        others = [other.value for other in Permission if other is not permission]
        without = await role(tenant, f"Thiếu {permission.value}", others)
        external_id = f"thieu-{permission.value}"
        await create_agent(tenant.admin, external_id, role="admin", custom_role_id=without["id"])
        agent = make_client(app, mint_agent_token(kid, secret, external_id, role="admin"))
        for route in app.state.api_routes:
            if getattr(route, "permission", None) is not permission:
                continue
            [method] = route.methods
            url = re.sub(r"{(\w+)}", lambda match: world[match.group(1)], route.path_format)
            before = (await tenant.admin.get("/v1/events", params={"limit": 100})).json()
            example = EXAMPLES.get(route.name)
            response = await agent.request(method, url, json=example(world) if example else None)
            where = f"{method} {route.path_format}"
            assert response.status_code == 403, f"{where}: {response.status_code} {response.text}"
            assert response.json()["permission"] == permission.value, where
            assert (await tenant.admin.get("/v1/events", params={"limit": 100})).json() == before, where
            exercised += 1
    assert exercised > 40
