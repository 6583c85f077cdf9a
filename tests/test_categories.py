from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI

from app.categories.repository import subtree_ids
from tests.conftest import Tenant
from tests.factories import create_agent, create_category, create_ticket


async def names(tenant: Tenant, **params: Any) -> list[str]:
    response = await tenant.viewer.get("/v1/categories", params=params)
    assert response.status_code == 200, response.text
    return [category["name"] for category in response.json()["items"]]


async def test_create_and_get_category(tenant: Tenant) -> None:
    response = await tenant.admin.post(
        "/v1/categories", json={"name": "Giao hàng", "description": "Vận chuyển và giao nhận", "position": 10}
    )
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    parent = response.json()
    assert parent["parent_id"] is None
    assert parent["active"] is True
    assert parent["watcher_ids"] == []

    child = await create_category(tenant.admin, "Giao hàng chậm", parent_id=parent["id"])
    assert child["parent_id"] == parent["id"]
    assert child["position"] == 0

    fetched = await tenant.viewer.get(f"/v1/categories/{child['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"1"'
    assert fetched.json() == child


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "D" * 201}, "name"),
        ({"name": "Đổi trả", "description": "d" * 2001}, "description"),
        ({"name": "Đổi trả", "position": 10_001}, "position"),
        ({"name": "Đổi trả", "position": -1}, "position"),
        ({"name": "Đổi trả", "parent_id": "not-a-uuid"}, "parent_id"),
        ({"name": "Đổi trả", "watchers": []}, "watchers"),
    ],
)
async def test_create_category_refuses_bad_input_naming_the_field(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await tenant.admin.post("/v1/categories", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field


async def test_parent_must_be_a_category_of_the_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    foreign = await create_category(other_tenant.admin, "Thanh toán")
    for parent_id in (foreign["id"], str(uuid4())):
        response = await tenant.admin.post(
            "/v1/categories", json={"name": "Hoàn tiền", "parent_id": parent_id}
        )
        assert response.status_code == 422
        assert response.json()["field"] == "parent_id"
        assert foreign["id"] not in response.text

    own = await create_category(tenant.admin, "Hoàn tiền")
    moved = await tenant.admin.patch(f"/v1/categories/{own['id']}", json={"parent_id": foreign["id"]})
    assert moved.status_code == 422
    assert moved.json()["field"] == "parent_id"


async def test_only_admins_write_categories(tenant: Tenant) -> None:
    assert (await tenant.viewer.post("/v1/categories", json={"name": "Khác"})).status_code == 403
    assert (await tenant.agent.post("/v1/categories", json={"name": "Khác"})).status_code == 403
    category = await create_category(tenant.admin, "Khác")
    agent = await create_agent(tenant.admin, str(uuid4()), name="Mai Văn Phúc")
    path = f"/v1/categories/{category['id']}"
    assert (await tenant.viewer.patch(path, json={"name": "X"})).status_code == 403
    assert (await tenant.viewer.delete(path)).status_code == 403
    assert (await tenant.viewer.put(f"{path}/watchers/{agent['id']}")).status_code == 403
    assert (await tenant.viewer.delete(f"{path}/watchers/{agent['id']}")).status_code == 403


async def test_update_category(tenant: Tenant) -> None:
    parent = await create_category(tenant.admin, "Sản phẩm")
    category = await create_category(tenant.admin, "Bảo hành", description="Cũ")
    path = f"/v1/categories/{category['id']}"

    response = await tenant.admin.patch(
        path,
        json={"name": "Bảo hành sản phẩm", "description": None, "parent_id": parent["id"], "active": False},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["name"], updated["description"], updated["parent_id"], updated["active"]) == (
        "Bảo hành sản phẩm",
        None,
        parent["id"],
        False,
    )
    assert response.headers["etag"] == '"2"'

    assert (
        await tenant.admin.patch(path, json={"position": 1}, headers={"If-Match": '"1"'})
    ).status_code == 412
    to_root = await tenant.admin.patch(path, json={"parent_id": None})
    assert to_root.json()["parent_id"] is None
    null_name = await tenant.admin.patch(path, json={"name": None})
    assert null_name.status_code == 422
    assert null_name.json()["field"] == "name"


async def test_a_category_cannot_become_its_own_ancestor(tenant: Tenant) -> None:
    root = await create_category(tenant.admin, "Giao hàng")
    child = await create_category(tenant.admin, "Giao hàng chậm", parent_id=root["id"])
    grandchild = await create_category(tenant.admin, "Chậm quá 7 ngày", parent_id=child["id"])
    sibling = await create_category(tenant.admin, "Thanh toán")

    for category, parent in ((root, root), (root, child), (root, grandchild), (child, grandchild)):
        response = await tenant.admin.patch(
            f"/v1/categories/{category['id']}", json={"parent_id": parent["id"]}
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "parent_id"
        assert response.json()["code"] == "category_cycle"

    moved = await tenant.admin.patch(f"/v1/categories/{child['id']}", json={"parent_id": sibling["id"]})
    assert moved.status_code == 200
    moved_root = await tenant.admin.patch(
        f"/v1/categories/{root['id']}", json={"parent_id": grandchild["id"]}
    )
    assert moved_root.status_code == 200, moved_root.text


async def test_list_categories_filters_and_order(tenant: Tenant) -> None:
    delivery = await create_category(tenant.admin, "Giao hàng", position=2)
    payment = await create_category(tenant.admin, "Thanh toán", position=1)
    await create_category(tenant.admin, "Đổi trả", position=3, active=False)
    await create_category(tenant.admin, "Giao hàng chậm", parent_id=delivery["id"])
    await create_category(tenant.admin, "Giao nhầm hàng", parent_id=delivery["id"], position=1)
    await create_category(tenant.admin, "Hoàn tiền", parent_id=payment["id"])

    assert await names(tenant, root="true") == ["Thanh toán", "Giao hàng", "Đổi trả"]
    assert await names(tenant, root="false") == ["Giao hàng chậm", "Hoàn tiền", "Giao nhầm hàng"]
    assert await names(tenant, parent_id=delivery["id"]) == ["Giao hàng chậm", "Giao nhầm hàng"]
    assert await names(tenant, active="false") == ["Đổi trả"]
    assert await names(tenant, q="giao hang") == ["Giao hàng chậm", "Giao nhầm hàng", "Giao hàng"]
    assert await names(tenant, q="doi tra") == ["Đổi trả"]
    assert await names(tenant, q="hoan", root="true") == []

    both = await tenant.viewer.get("/v1/categories", params={"root": "true", "parent_id": delivery["id"]})
    assert both.status_code == 422
    assert both.json()["field"] == "root"


async def test_list_categories_pages(tenant: Tenant) -> None:
    for position in range(5):
        await create_category(tenant.admin, f"Danh mục {position}", position=4 - position)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await tenant.viewer.get("/v1/categories", params=params)).json()
        assert len(page["items"]) <= 2
        seen.extend(category["name"] for category in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Danh mục {n}" for n in (4, 3, 2, 1, 0)]


async def test_another_workspaces_category_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    foreign = await create_category(other_tenant.admin, "Giao hàng")
    agent = await create_agent(tenant.admin, str(uuid4()), name="Nguyễn Văn An")
    path = f"/v1/categories/{foreign['id']}"
    for response in (
        await tenant.viewer.get(path),
        await tenant.admin.patch(path, json={"name": "X"}),
        await tenant.admin.delete(path),
        await tenant.admin.put(f"{path}/watchers/{agent['id']}"),
        await tenant.admin.delete(f"{path}/watchers/{agent['id']}"),
        await tenant.viewer.get(f"/v1/categories/{uuid4()}"),
    ):
        assert response.status_code == 404, response.text
        assert foreign["id"] not in response.text
    assert await names(tenant) == []
    assert await names(tenant, parent_id=foreign["id"]) == []


async def test_watchers_are_added_idempotently_and_removed(tenant: Tenant, other_tenant: Tenant) -> None:
    category = await create_category(tenant.admin, "Khiếu nại")
    an = await create_agent(tenant.admin, str(uuid4()), name="Nguyễn Văn An")
    binh = await create_agent(tenant.admin, str(uuid4()), name="Lê Thị Bình")
    foreign_agent = await create_agent(other_tenant.admin, str(uuid4()), name="Trần Văn Cường")
    path = f"/v1/categories/{category['id']}/watchers"

    for agent in (an, an, binh):
        assert (await tenant.admin.put(f"{path}/{agent['id']}")).status_code == 204
    fetched = await tenant.viewer.get(f"/v1/categories/{category['id']}")
    assert sorted(fetched.json()["watcher_ids"]) == sorted([an["id"], binh["id"]])
    assert fetched.headers["etag"] == '"3"'
    listed = (await tenant.viewer.get("/v1/categories")).json()["items"]
    assert sorted(listed[0]["watcher_ids"]) == sorted([an["id"], binh["id"]])

    for agent_id in (foreign_agent["id"], str(uuid4())):
        response = await tenant.admin.put(f"{path}/{agent_id}")
        assert response.status_code == 404
        assert foreign_agent["id"] not in response.text

    assert (await tenant.admin.delete(f"{path}/{an['id']}")).status_code == 204
    again = await tenant.admin.delete(f"{path}/{an['id']}")
    assert again.status_code == 404
    assert again.json()["field"] == "agent_id"
    assert (await tenant.viewer.get(f"/v1/categories/{category['id']}")).json()["watcher_ids"] == [binh["id"]]


async def test_delete_category(tenant: Tenant) -> None:
    category = await create_category(tenant.admin, "Tạm thời")
    agent = await create_agent(tenant.admin, str(uuid4()), name="Vũ Thị Quyên")
    await tenant.admin.put(f"/v1/categories/{category['id']}/watchers/{agent['id']}")
    assert (await tenant.admin.delete(f"/v1/categories/{category['id']}")).status_code == 204
    assert (await tenant.viewer.get(f"/v1/categories/{category['id']}")).status_code == 404


async def test_a_category_in_use_cannot_be_deleted(tenant: Tenant) -> None:
    parent = await create_category(tenant.admin, "Giao hàng")
    child = await create_category(tenant.admin, "Giao hàng chậm", parent_id=parent["id"])
    await create_ticket(tenant.agent, category_id=child["id"])

    for category in (parent, child):
        response = await tenant.admin.delete(f"/v1/categories/{category['id']}")
        assert response.status_code == 409
        assert response.json()["code"] == "category_in_use"
        assert (await tenant.viewer.get(f"/v1/categories/{category['id']}")).status_code == 200


async def test_subtree_ids_stay_within_the_workspace(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    root = await create_category(tenant.admin, "Sản phẩm")
    child = await create_category(tenant.admin, "Điện thoại", parent_id=root["id"])
    grandchild = await create_category(tenant.admin, "Màn hình", parent_id=child["id"])
    await create_category(tenant.admin, "Thanh toán")

    async with app.state.db.sessionmaker() as session:
        subtree = set(await session.scalars(subtree_ids(tenant.workspace_id, UUID(root["id"]))))
        branch = set(await session.scalars(subtree_ids(tenant.workspace_id, UUID(child["id"]))))
        elsewhere = list(await session.scalars(subtree_ids(other_tenant.workspace_id, UUID(root["id"]))))
    assert subtree == {UUID(root["id"]), UUID(child["id"]), UUID(grandchild["id"])}
    assert branch == {UUID(child["id"]), UUID(grandchild["id"])}
    assert elsewhere == []
