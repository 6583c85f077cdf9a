from typing import Any
from uuid import uuid4

import pytest

from tests.conftest import Tenant
from tests.factories import create_agent, create_group, create_ticket


async def test_create_and_get_group(tenant: Tenant) -> None:
    response = await tenant.admin.post(
        "/v1/groups", json={"name": "Nhóm Kỹ thuật", "description": "Hỗ trợ kỹ thuật cấp 2"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    group = response.json()
    assert group["member_count"] == 0
    assert group["description"] == "Hỗ trợ kỹ thuật cấp 2"

    fetched = await tenant.viewer.get(f"/v1/groups/{group['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"1"'
    assert fetched.json() == group


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "N" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Nhóm", "description": "m" * 2001}, "description"),
        ({"name": "Nhóm", "members": []}, "members"),
        ({}, "name"),
    ],
)
async def test_create_group_refuses_bad_input_naming_the_field(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await tenant.admin.post("/v1/groups", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field


async def test_group_names_are_unique_case_insensitively(tenant: Tenant, other_tenant: Tenant) -> None:
    await create_group(tenant.admin, "Nhóm Bán hàng")
    duplicate = await tenant.admin.post("/v1/groups", json={"name": "nhóm bán hàng"})
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "name"
    await create_group(other_tenant.admin, "Nhóm Bán hàng")

    other = await create_group(tenant.admin, "Nhóm Kho")
    renamed = await tenant.admin.patch(f"/v1/groups/{other['id']}", json={"name": "NHÓM BÁN HÀNG"})
    assert renamed.status_code == 409
    assert renamed.json()["field"] == "name"


async def test_only_admins_write_groups(tenant: Tenant) -> None:
    assert (await tenant.viewer.post("/v1/groups", json={"name": "Nhóm"})).status_code == 403
    assert (await tenant.agent.post("/v1/groups", json={"name": "Nhóm"})).status_code == 403
    group = await create_group(tenant.admin, "Nhóm Chăm sóc khách hàng")
    agent = await create_agent(tenant.admin, str(uuid4()), name="Phan Văn Khoa")
    path = f"/v1/groups/{group['id']}"
    assert (await tenant.viewer.patch(path, json={"name": "X"})).status_code == 403
    assert (await tenant.viewer.delete(path)).status_code == 403
    assert (await tenant.viewer.put(f"{path}/members/{agent['id']}")).status_code == 403
    assert (await tenant.viewer.delete(f"{path}/members/{agent['id']}")).status_code == 403


async def test_update_group(tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm Hỗ trợ", description="Cũ")
    path = f"/v1/groups/{group['id']}"
    response = await tenant.admin.patch(
        path, json={"name": "Nhóm Hỗ trợ 24/7", "description": None}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Nhóm Hỗ trợ 24/7"
    assert response.json()["description"] is None
    assert response.headers["etag"] == '"2"'

    assert (
        await tenant.admin.patch(path, json={"name": "X"}, headers={"If-Match": '"1"'})
    ).status_code == 412
    null_name = await tenant.admin.patch(path, json={"name": None})
    assert null_name.status_code == 422
    assert null_name.json()["field"] == "name"


async def test_list_groups_pages_by_name_and_searches_without_accents(tenant: Tenant) -> None:
    for name in ["Nhóm Kỹ thuật", "Nhóm Giao hàng", "Nhóm Thanh toán", "Kế toán", "Nhóm Đổi trả"]:
        await create_group(tenant.admin, name)

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await tenant.viewer.get("/v1/groups", params=params)).json()
        seen.extend(group["name"] for group in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert seen[:2] == ["Kế toán", "Nhóm Giao hàng"]

    async def names(q: str) -> list[str]:
        response = await tenant.viewer.get("/v1/groups", params={"q": q})
        assert response.status_code == 200
        return [group["name"] for group in response.json()["items"]]

    assert await names("nhom ky thuat") == ["Nhóm Kỹ thuật"]
    assert await names("doi tra") == ["Nhóm Đổi trả"]
    assert await names("TOAN") == ["Kế toán", "Nhóm Thanh toán"]

    bad_cursor = await tenant.viewer.get("/v1/groups", params={"cursor": "garbage"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["field"] == "cursor"


async def test_members_are_added_idempotently_and_removed(tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm Kỹ thuật")
    an = await create_agent(tenant.admin, str(uuid4()), name="Nguyễn Văn An")
    binh = await create_agent(tenant.admin, str(uuid4()), name="Lê Thị Bình")
    await create_agent(tenant.admin, str(uuid4()), name="Trần Văn Cường")
    path = f"/v1/groups/{group['id']}/members"

    for agent in (an, an, binh):
        response = await tenant.admin.put(f"{path}/{agent['id']}")
        assert response.status_code == 204, response.text

    fetched = await tenant.viewer.get(f"/v1/groups/{group['id']}")
    assert fetched.json()["member_count"] == 2
    assert fetched.headers["etag"] == '"3"'

    members = (await tenant.viewer.get(path)).json()
    assert [agent["name"] for agent in members["items"]] == ["Lê Thị Bình", "Nguyễn Văn An"]
    assert members["items"][0]["group_ids"] == [group["id"]]
    first_page = (await tenant.viewer.get(path, params={"limit": 1})).json()
    assert [agent["name"] for agent in first_page["items"]] == ["Lê Thị Bình"]
    second_page = (
        await tenant.viewer.get(path, params={"limit": 1, "cursor": first_page["next_cursor"]})
    ).json()
    assert [agent["name"] for agent in second_page["items"]] == ["Nguyễn Văn An"]
    assert second_page["next_cursor"] is None

    filtered = (await tenant.viewer.get("/v1/agents", params={"group_id": group["id"]})).json()["items"]
    assert {agent["id"] for agent in filtered} == {an["id"], binh["id"]}
    an_now = await tenant.viewer.get(f"/v1/agents/{an['id']}")
    assert an_now.json()["group_ids"] == [group["id"]]
    assert an_now.headers["etag"] == '"2"'

    assert (await tenant.admin.delete(f"{path}/{an['id']}")).status_code == 204
    again = await tenant.admin.delete(f"{path}/{an['id']}")
    assert again.status_code == 404
    assert again.json()["field"] == "agent_id"
    assert (await tenant.viewer.get(f"/v1/agents/{an['id']}")).json()["group_ids"] == []
    assert (await tenant.viewer.get(f"/v1/groups/{group['id']}")).json()["member_count"] == 1


async def test_group_ids_of_agents_are_read_for_the_whole_page(tenant: Tenant) -> None:
    support = await create_group(tenant.admin, "Nhóm Hỗ trợ")
    sales = await create_group(tenant.admin, "Nhóm Bán hàng")
    an = await create_agent(tenant.admin, str(uuid4()), name="An")
    binh = await create_agent(tenant.admin, str(uuid4()), name="Bình")
    for group, agent in ((support, an), (sales, an), (sales, binh)):
        assert (await tenant.admin.put(f"/v1/groups/{group['id']}/members/{agent['id']}")).status_code == 204
    listed = {
        agent["name"]: agent["group_ids"] for agent in (await tenant.viewer.get("/v1/agents")).json()["items"]
    }
    assert sorted(listed["An"]) == sorted([support["id"], sales["id"]])
    assert listed["Bình"] == [sales["id"]]


async def test_another_workspaces_group_or_agent_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm Kỹ thuật")
    agent = await create_agent(tenant.admin, str(uuid4()), name="Nguyễn Văn An")
    foreign_group = await create_group(other_tenant.admin, "Nhóm Kỹ thuật")
    foreign_agent = await create_agent(other_tenant.admin, str(uuid4()), name="Nguyễn Văn An")
    foreign_path = f"/v1/groups/{foreign_group['id']}"

    for response in (
        await tenant.viewer.get(foreign_path),
        await tenant.admin.patch(foreign_path, json={"name": "X"}),
        await tenant.admin.delete(foreign_path),
        await tenant.viewer.get(f"{foreign_path}/members"),
        await tenant.admin.put(f"{foreign_path}/members/{agent['id']}"),
        await tenant.admin.delete(f"{foreign_path}/members/{agent['id']}"),
        await tenant.admin.put(f"/v1/groups/{group['id']}/members/{foreign_agent['id']}"),
        await tenant.admin.put(f"/v1/groups/{group['id']}/members/{uuid4()}"),
        await tenant.viewer.get(f"/v1/groups/{uuid4()}"),
    ):
        assert response.status_code == 404, response.text
        assert foreign_group["id"] not in response.text
    listed = (await tenant.viewer.get("/v1/groups")).json()["items"]
    assert [g["id"] for g in listed] == [group["id"]]
    by_foreign_group = await tenant.viewer.get("/v1/agents", params={"group_id": foreign_group["id"]})
    assert by_foreign_group.json()["items"] == []


async def test_delete_group(tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm Tạm thời")
    agent = await create_agent(tenant.admin, str(uuid4()), name="Đỗ Thị Hạnh")
    await tenant.admin.put(f"/v1/groups/{group['id']}/members/{agent['id']}")

    assert (await tenant.admin.delete(f"/v1/groups/{group['id']}")).status_code == 204
    assert (await tenant.viewer.get(f"/v1/groups/{group['id']}")).status_code == 404
    remaining = await tenant.viewer.get(f"/v1/agents/{agent['id']}")
    assert remaining.json()["group_ids"] == []
    assert remaining.headers["etag"] == '"3"'


async def test_a_group_with_tickets_cannot_be_deleted(tenant: Tenant) -> None:
    group = await create_group(tenant.admin, "Nhóm Giao hàng")
    await create_ticket(tenant.agent, group_id=group["id"])
    response = await tenant.admin.delete(f"/v1/groups/{group['id']}")
    assert response.status_code == 409
    assert response.json()["code"] == "group_in_use"
    assert "Tickets" in response.json()["detail"]
    assert (await tenant.viewer.get(f"/v1/groups/{group['id']}")).status_code == 200
