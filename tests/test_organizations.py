from typing import Any

import pytest

from tests.conftest import Tenant
from tests.factories import create


async def test_create_read_update_delete(tenant: Tenant) -> None:
    created = await tenant.admin.post(
        "/v1/organizations",
        json={
            "name": "Công ty Cổ phần Sao Mai",
            "domains": ["SaoMai.vn", "saomai.vn", "saomai.com.vn"],
            "external_id": "CRM-001",
            "notes": "Khách hàng lâu năm",
        },
    )
    assert created.status_code == 201
    assert created.headers["etag"] == '"1"'
    organization = created.json()
    assert organization["domains"] == ["saomai.vn", "saomai.com.vn"]

    path = f"/v1/organizations/{organization['id']}"
    fetched = await tenant.viewer.get(path)
    assert fetched.status_code == 200
    assert fetched.json() == organization

    updated = await tenant.admin.patch(
        path, json={"notes": None, "domains": ["saomai.vn"]}, headers={"If-Match": '"1"'}
    )
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'
    assert updated.json()["notes"] is None
    assert updated.json()["domains"] == ["saomai.vn"]
    assert (
        await tenant.admin.patch(path, json={"name": "X"}, headers={"If-Match": '"1"'})
    ).status_code == 412

    assert (await tenant.admin.delete(path)).status_code == 204
    assert (await tenant.viewer.get(path)).status_code == 404


async def test_names_are_unique_regardless_of_case(tenant: Tenant) -> None:
    await create(tenant.admin, "/v1/organizations", {"name": "Công ty Cổ phần Sao Mai"})
    duplicate = await tenant.admin.post("/v1/organizations", json={"name": "CÔNG TY CỔ PHẦN SAO MAI"})
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "name"
    other = await create(tenant.admin, "/v1/organizations", {"name": "Cửa hàng Bình Minh"})
    renamed = await tenant.admin.patch(
        f"/v1/organizations/{other['id']}", json={"name": "công ty cổ phần sao mai"}
    )
    assert renamed.status_code == 409
    assert renamed.json()["field"] == "name"


async def test_a_domain_belongs_to_one_organization(tenant: Tenant, other_tenant: Tenant) -> None:
    first = await create(tenant.admin, "/v1/organizations", {"name": "Sao Mai", "domains": ["saomai.vn"]})
    taken = await tenant.admin.post(
        "/v1/organizations", json={"name": "Sao Mai Miền Nam", "domains": ["sg.saomai.vn", "SAOMAI.VN"]}
    )
    assert taken.status_code == 409
    assert taken.json()["field"] == "domains"
    assert "saomai.vn" in taken.json()["detail"]

    second = await create(
        tenant.admin, "/v1/organizations", {"name": "Sao Mai Miền Nam", "domains": ["sg.saomai.vn"]}
    )
    moved = await tenant.admin.patch(f"/v1/organizations/{second['id']}", json={"domains": ["saomai.vn"]})
    assert moved.status_code == 409
    assert moved.json()["field"] == "domains"
    # An organization keeps its own domains when it is updated.
    kept = await tenant.admin.patch(
        f"/v1/organizations/{first['id']}", json={"domains": ["saomai.vn", "saomai.com"]}
    )
    assert kept.status_code == 200

    # Another workspace may use the same domain.
    await create(other_tenant.admin, "/v1/organizations", {"name": "Sao Mai", "domains": ["saomai.vn"]})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"domains": ["not a domain"]}, "domains.0"),
        ({"domains": ["localhost"]}, "domains.0"),
        ({"domains": ["sao_mai.vn"]}, "domains.0"),
        ({"domains": ["x" * 254]}, "domains.0"),
        ({"domains": [f"d{i}.vn" for i in range(51)]}, "domains"),
        ({"domains": "saomai.vn"}, "domains"),
        ({"external_id": "x" * 201}, "external_id"),
        ({"notes": "x" * 65_537}, "notes"),
        ({"website": "saomai.vn"}, "website"),
    ],
)
async def test_invalid_input_is_422_naming_the_field(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await tenant.admin.post("/v1/organizations", json={"name": "Sao Mai", **body})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_null_name_is_refused_on_patch(tenant: Tenant) -> None:
    organization = await create(tenant.admin, "/v1/organizations", {"name": "Sao Mai"})
    response = await tenant.admin.patch(f"/v1/organizations/{organization['id']}", json={"name": None})
    assert response.status_code == 422
    assert response.json()["field"] == "name"


async def test_list_is_sorted_by_name_paginated_and_searchable(tenant: Tenant) -> None:
    names = ["Đặng Gia", "Bình Minh", "Ánh Dương", "Công ty Cổ phần Sao Mai", "Hoa Sen"]
    created = {name: await create(tenant.admin, "/v1/organizations", {"name": name}) for name in names}
    await tenant.admin.patch(
        f"/v1/organizations/{created['Hoa Sen']['id']}", json={"domains": ["hoasen-group.vn"]}
    )

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await tenant.viewer.get("/v1/organizations", params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(names)
    listed = (await tenant.viewer.get("/v1/organizations")).json()["items"]
    assert [item["id"] for item in listed] == seen

    async def search(q: str) -> list[str]:
        response = await tenant.viewer.get("/v1/organizations", params={"q": q})
        assert response.status_code == 200
        return [item["name"] for item in response.json()["items"]]

    assert await search("dang") == ["Đặng Gia"]
    assert await search("cong ty sao") == ["Công ty Cổ phần Sao Mai"]
    assert await search("ANH DUONG") == ["Ánh Dương"]
    assert await search("hoasen-group") == ["Hoa Sen"]
    assert await search("100%") == []
    assert (await tenant.viewer.get("/v1/organizations", params={"q": "x" * 201})).status_code == 422


async def test_an_organization_with_contacts_cannot_be_deleted(tenant: Tenant) -> None:
    organization = await create(tenant.admin, "/v1/organizations", {"name": "Sao Mai"})
    contact = await tenant.agent.post(
        "/v1/contacts", json={"name": "Nguyễn Thị Hoa", "organization_id": organization["id"]}
    )
    assert contact.status_code == 201
    refused = await tenant.admin.delete(f"/v1/organizations/{organization['id']}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "organization_has_contacts"
    moved = await tenant.agent.patch(f"/v1/contacts/{contact.json()['id']}", json={"organization_id": None})
    assert moved.status_code == 200
    assert (await tenant.admin.delete(f"/v1/organizations/{organization['id']}")).status_code == 204


async def test_only_admins_write_organizations(tenant: Tenant) -> None:
    assert (await tenant.viewer.post("/v1/organizations", json={"name": "Sao Mai"})).status_code == 403
    assert (await tenant.agent.post("/v1/organizations", json={"name": "Sao Mai"})).status_code == 403
    organization = await create(tenant.admin, "/v1/organizations", {"name": "Sao Mai"})
    path = f"/v1/organizations/{organization['id']}"
    assert (await tenant.agent.patch(path, json={"name": "X"})).status_code == 403
    assert (await tenant.viewer.delete(path)).status_code == 403
    assert (await tenant.anonymous.get("/v1/organizations")).status_code == 401


async def test_another_workspaces_organization_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    organization = await create(tenant.admin, "/v1/organizations", {"name": "Sao Mai"})
    path = f"/v1/organizations/{organization['id']}"
    assert (await other_tenant.viewer.get(path)).status_code == 404
    assert (await other_tenant.admin.patch(path, json={"name": "X"})).status_code == 404
    assert (await other_tenant.admin.delete(path)).status_code == 404
    assert (await other_tenant.viewer.get("/v1/organizations", params={"q": "sao"})).json()["items"] == []
