from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI

from tests.conftest import Tenant, make_client
from tests.factories import create, create_agent, mint_agent_token, rotate_token_secret


async def test_create_agent_normalises_skills_and_sets_an_etag(tenant: Tenant) -> None:
    response = await tenant.admin.post(
        "/v1/agents",
        json={
            "external_id": "crm-001",
            "name": "Nguyễn Văn An",
            "email": "an.nguyen@anhduong.vn",
            "role": "agent",
            "availability": "online",
            "capacity": 30,
            "skills": ["Tiếng Việt", "tiếng việt", " Hoàn tiền ", "ZALO"],
            "ticket_access": "restricted",
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    agent = response.json()
    assert agent["skills"] == ["tiếng việt", "hoàn tiền", "zalo"]
    assert agent["group_ids"] == []
    assert agent["active"] is True
    assert agent["ticket_access"] == "restricted"

    fetched = await tenant.viewer.get(f"/v1/agents/{agent['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"1"'
    assert fetched.json() == agent


async def test_create_agent_defaults(tenant: Tenant) -> None:
    agent = await create(tenant.admin, "/v1/agents", {"external_id": "crm-002", "name": "Trần Thị Bích"})
    assert agent["role"] == "agent"
    assert agent["availability"] == "offline"
    assert agent["capacity"] == 20
    assert agent["skills"] == []
    assert agent["ticket_access"] == "all"
    assert agent["email"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "an@" + "a" * 320 + ".vn"}, "email"),
        ({"capacity": 1001}, "capacity"),
        ({"capacity": -1}, "capacity"),
        ({"nickname": "An"}, "nickname"),
        ({"name": "A" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"external_id": "x" * 201}, "external_id"),
        ({"role": "owner"}, "role"),
        ({"availability": "busy"}, "availability"),
        ({"skills": [f"skill-{n}" for n in range(51)]}, "skills"),
        ({"skills": ["a" * 101]}, "skills.0"),
    ],
)
async def test_create_agent_refuses_bad_input_naming_the_field(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await tenant.admin.post(
        "/v1/agents", json={"external_id": "crm-bad", "name": "Lê Văn Cường", **body}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


async def test_external_id_and_email_are_unique_in_the_workspace(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await create_agent(tenant.admin, "crm-010", name="Phạm Minh Đức", email="duc.pham@anhduong.vn")

    same_external_id = await tenant.admin.post("/v1/agents", json={"external_id": "crm-010", "name": "Khác"})
    assert same_external_id.status_code == 409
    assert same_external_id.json()["field"] == "external_id"

    same_email = await tenant.admin.post(
        "/v1/agents", json={"external_id": "crm-011", "name": "Khác", "email": "Duc.Pham@AnhDuong.vn"}
    )
    assert same_email.status_code == 409
    assert same_email.json()["field"] == "email"

    await create_agent(other_tenant.admin, "crm-010", name="Phạm Minh Đức", email="duc.pham@anhduong.vn")


async def test_only_admins_write_agents(tenant: Tenant) -> None:
    body = {"external_id": "crm-020", "name": "Võ Thị Hoa"}
    viewer = await tenant.viewer.post("/v1/agents", json=body)
    assert viewer.status_code == 403
    assert viewer.headers["content-type"] == "application/problem+json"
    assert (await tenant.agent.post("/v1/agents", json=body)).status_code == 403
    assert (await tenant.anonymous.get("/v1/agents")).status_code == 401

    agent = await create_agent(tenant.admin, "crm-020", name="Võ Thị Hoa")
    patched = await tenant.viewer.patch(f"/v1/agents/{agent['id']}", json={"name": "Hoa"})
    assert patched.status_code == 403


async def test_agents_are_deactivated_not_deleted(tenant: Tenant) -> None:
    agent = await create_agent(tenant.admin, "crm-030", name="Đặng Quốc Huy")
    assert (await tenant.admin.delete(f"/v1/agents/{agent['id']}")).status_code == 405

    response = await tenant.admin.patch(f"/v1/agents/{agent['id']}", json={"active": False})
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.headers["etag"] == '"2"'


async def test_update_agent(tenant: Tenant) -> None:
    agent = await create_agent(tenant.admin, "crm-040", name="Bùi Thị Lan", email="lan@anhduong.vn")
    path = f"/v1/agents/{agent['id']}"

    response = await tenant.admin.patch(
        path,
        json={"name": "Bùi Thị Lan Anh", "email": None, "skills": ["Giao Hàng"], "capacity": 0},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["name"], updated["email"], updated["skills"], updated["capacity"]) == (
        "Bùi Thị Lan Anh",
        None,
        ["giao hàng"],
        0,
    )
    assert response.headers["etag"] == '"2"'
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(agent["updated_at"])

    stale = await tenant.admin.patch(path, json={"name": "Lan"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412

    unchanged = await tenant.admin.patch(path, json={"name": "Bùi Thị Lan Anh"})
    assert unchanged.headers["etag"] == '"2"'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"role": None}, "role"),
        ({"capacity": 5000}, "capacity"),
        ({"email": "lan@"}, "email"),
        ({"version": 3}, "version"),
    ],
)
async def test_update_agent_refuses_bad_input_naming_the_field(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    agent = await create_agent(tenant.admin, f"crm-{uuid4()}", name="Hồ Thị Mai")
    response = await tenant.admin.patch(f"/v1/agents/{agent['id']}", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field


async def test_another_workspaces_agent_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    foreign = await create_agent(other_tenant.admin, "crm-050", name="Ngô Thanh Tùng")
    for response in (
        await tenant.admin.get(f"/v1/agents/{foreign['id']}"),
        await tenant.admin.patch(f"/v1/agents/{foreign['id']}", json={"name": "X"}),
        await tenant.admin.get(f"/v1/agents/{uuid4()}"),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert foreign["id"] not in response.text
    listed = (await tenant.viewer.get("/v1/agents")).json()["items"]
    assert foreign["id"] not in [agent["id"] for agent in listed]


async def test_list_agents_pages_by_name(tenant: Tenant) -> None:
    names = ["Giang Văn E", "An Thị A", "Cao Văn C", "Bạch Thị B", "Dương Văn D"]
    for number, name in enumerate(names):
        await create_agent(tenant.admin, f"crm-10{number}", name=name)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await tenant.viewer.get("/v1/agents", params=params)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 2
        seen.extend(agent["name"] for agent in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == ["An Thị A", "Bạch Thị B", "Cao Văn C", "Dương Văn D", "Giang Văn E"]


async def test_list_agents_filters(tenant: Tenant) -> None:
    an = await create_agent(
        tenant.admin, "crm-200", name="Nguyễn Văn An", email="an@anhduong.vn", availability="online"
    )
    binh = await create_agent(
        tenant.admin, "crm-201", name="Lê Thị Bình", email="binh.nguyen@anhduong.vn", role="admin"
    )
    cuong = await create_agent(tenant.admin, "crm-202", name="Trần Cường", active=False, role="viewer")

    async def names(**params: Any) -> list[str]:
        response = await tenant.viewer.get("/v1/agents", params=params)
        assert response.status_code == 200, response.text
        return [agent["name"] for agent in response.json()["items"]]

    assert await names(q="nguyen") == [binh["name"], an["name"]]
    assert await names(q="NGUYỄN văn") == [an["name"]]
    assert await names(q="binh.nguyen@") == [binh["name"]]
    assert await names(q="tran cuong") == [cuong["name"]]
    assert await names(q="100%_") == []
    assert await names(active="false") == [cuong["name"]]
    assert await names(role="admin") == [binh["name"]]
    assert await names(availability="online") == [an["name"]]
    assert await names(active="true", availability="offline") == [binh["name"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "x" * 201}, "query.q"),
        ({"role": "owner"}, "query.role"),
        ({"limit": 0}, "query.limit"),
        ({"group_id": "not-a-uuid"}, "query.group_id"),
    ],
)
async def test_list_agents_refuses_bad_filters(tenant: Tenant, params: dict[str, Any], field: str) -> None:
    response = await tenant.viewer.get("/v1/agents", params=params)
    assert response.status_code == 422
    assert response.json()["field"] == field


async def test_current_agent_is_the_one_the_token_acts_as(app: FastAPI, tenant: Tenant) -> None:
    agent = await create_agent(tenant.admin, "crm-300", name="Lý Thị Ngọc", role="admin")
    kid, secret = await rotate_token_secret(tenant.admin)
    async with make_client(app, mint_agent_token(kid, secret, "crm-300")) as client:
        response = await client.get("/v1/agents/me")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == agent["id"]
    assert response.headers["etag"] == '"1"'


async def test_an_api_key_does_not_act_as_an_agent(tenant: Tenant) -> None:
    response = await tenant.viewer.get("/v1/agents/me")
    assert response.status_code == 404
    problem = response.json()
    assert problem["code"] == "not_an_agent"
    assert "does not act as an agent" in problem["detail"]
