from tests.conftest import Tenant


async def test_new_workspace_has_a_default_status_per_kind(tenant: Tenant) -> None:
    response = await tenant.viewer.get("/v1/statuses")
    assert response.status_code == 200
    statuses = response.json()["items"]
    assert {s["kind"] for s in statuses if s["is_default"]} == {
        "new",
        "open",
        "pending",
        "on_hold",
        "solved",
        "closed",
    }


async def test_making_a_status_default_replaces_the_previous_default(tenant: Tenant) -> None:
    created = await tenant.admin.post("/v1/statuses", json={"name": "Chờ khách hàng", "kind": "pending"})
    assert created.status_code == 201
    status_id = created.json()["id"]
    updated = await tenant.admin.patch(f"/v1/statuses/{status_id}", json={"is_default": True})
    assert updated.status_code == 200
    defaults = [
        s
        for s in (await tenant.viewer.get("/v1/statuses")).json()["items"]
        if s["kind"] == "pending" and s["is_default"]
    ]
    assert [s["id"] for s in defaults] == [status_id]


async def test_status_kind_cannot_change_and_default_cannot_be_deleted(tenant: Tenant) -> None:
    statuses = (await tenant.viewer.get("/v1/statuses")).json()["items"]
    new_status = next(s for s in statuses if s["kind"] == "new")
    changed = await tenant.admin.patch(f"/v1/statuses/{new_status['id']}", json={"kind": "open"})
    assert changed.status_code == 422
    assert changed.json()["field"] == "kind"
    deleted = await tenant.admin.delete(f"/v1/statuses/{new_status['id']}")
    assert deleted.status_code == 409


async def test_viewer_cannot_create_statuses(tenant: Tenant) -> None:
    response = await tenant.viewer.post("/v1/statuses", json={"name": "X", "kind": "open"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
