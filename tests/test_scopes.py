"""API keys with scopes: a key does only what its scopes cover, within its role, on every route."""

import re
from typing import Any

from fastapi import FastAPI

from app.models.enums import Role, Scope
from tests.conftest import Tenant, make_client
from tests.factories import create, create_ticket
from tests.world import EXAMPLES, build_world


async def scoped_key(tenant: Tenant, app: FastAPI, role: str, scopes: list[str]) -> Any:
    created = await create(
        tenant.admin, "/v1/api-keys", {"name": "CRM Bitrix", "role": role, "scopes": scopes}
    )
    assert created["scopes"] == sorted(scopes)
    return make_client(app, created["key"])


async def test_a_key_does_only_what_its_scopes_cover(app: FastAPI, tenant: Tenant) -> None:
    ticket = await create_ticket(tenant.agent, subject="Khách hỏi tiến độ bảo hành")
    crm = await scoped_key(tenant, app, "agent", ["tickets:read", "comments:write"])
    assert (await crm.get("/v1/tickets")).status_code == 200
    reply = await crm.post(
        f"/v1/tickets/{ticket['id']}/comments", json={"body": "Đã nhận máy, 3 ngày nữa trả.", "public": True}
    )
    assert reply.status_code == 201, reply.text
    for method, url, body, missing in (
        ("POST", "/v1/tickets", {"subject": "Phiếu mới"}, "tickets:write"),
        ("PATCH", f"/v1/tickets/{ticket['id']}", {"priority": "urgent"}, "tickets:write"),
        ("GET", "/v1/contacts", None, "contacts:read"),
        ("GET", "/v1/events", None, "events:read"),
    ):
        refused = await crm.request(method, url, json=body)
        assert refused.status_code == 403, f"{method} {url}: {refused.text}"
        problem = refused.json()
        assert problem["code"] == "insufficient_scope" and problem["scope"] == missing
        assert missing in problem["detail"]
    unchanged = (await tenant.viewer.get(f"/v1/tickets/{ticket['id']}")).json()
    assert unchanged["priority"] == ticket["priority"]
    keys = (await tenant.admin.get("/v1/api-keys")).json()["items"]
    assert [key["scopes"] for key in keys if key["name"] == "CRM Bitrix"] == [
        ["comments:write", "tickets:read"]
    ]
    assert {key["scopes"] for key in keys if key["name"] != "CRM Bitrix"} == {None}, (
        "no scopes: all the role may"
    )


async def test_a_scope_the_role_cannot_use_or_that_does_not_exist_is_refused(tenant: Tenant) -> None:
    for role, scopes, field in (
        ("viewer", ["tickets:write"], "scopes"),
        ("agent", ["webhooks:manage"], "scopes"),
        ("admin", ["tickets:delete"], "scopes.0"),
    ):
        refused = await tenant.admin.post(
            "/v1/api-keys", json={"name": "Sai", "role": role, "scopes": scopes}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == field
    empty = await tenant.admin.post(
        "/v1/api-keys", json={"name": "Không làm gì", "role": "viewer", "scopes": []}
    )
    assert empty.status_code == 201 and empty.json()["scopes"] == []


def test_every_route_names_a_scope_its_role_can_hold(app: FastAPI) -> None:
    for route in app.state.api_routes:
        if not route.authenticated:
            continue
        assert route.scope is not None and route.least_role is not None, route.path
        assert route.scope.least_role.rank <= route.least_role.rank, f"{route.path}: {route.scope}"


async def test_every_operation_refuses_a_key_without_its_scope_and_changes_nothing(
    app: FastAPI, tenant: Tenant
) -> None:
    """For each scope, an admin key holding every other one is refused on each operation that needs it,
    before anything is read or written."""
    world = await build_world(tenant)
    document = app.openapi()
    operations: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in document["paths"].items():
        url = re.sub(r"{(\w+)}", lambda match: world[match.group(1)], path)
        for method, operation in methods.items():
            for requirement in operation.get("security", []):
                for scope in requirement.get("HTTPBearer", []):
                    operations.setdefault(scope, []).append((method.upper(), url, operation))
    # notes:read gates no operation: it narrows what the conversation and search show (test_search.py).
    gating = {scope.value for scope in Scope} - {Scope.notes_read.value}
    assert set(operations) == gating, "every scope covers some operation"
    exercised = 0
    for scope, calls in operations.items():
        others = [other.value for other in Scope if other.value != scope]
        key = await scoped_key(tenant, app, Role.admin.value, others)
        for method, url, operation in calls:
            before = (await tenant.admin.get("/v1/events", params={"limit": 100})).json()
            example = EXAMPLES.get(operation["operationId"])
            response = await key.request(method, url, json=example(world) if example else None)
            where = f"{method} {url}"
            assert response.status_code == 403, f"{where}: {response.status_code} {response.text}"
            assert response.json()["scope"] == scope, where
            assert (await tenant.admin.get("/v1/events", params={"limit": 100})).json() == before, where
            exercised += 1
    assert exercised > 100
