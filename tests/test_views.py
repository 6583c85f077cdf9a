"""Saved views: built-in ones, who sees which, and that a view lists and counts what the list would."""

from fastapi import FastAPI

from tests.conftest import Tenant, agent_token_client
from tests.factories import create, create_agent, create_custom_field, create_group, create_ticket, status_id

BUILT_IN = ["mine", "unassigned", "my_groups", "all_open", "recently_solved", "sla_breached"]


async def _views(client) -> dict[str, dict]:
    response = await client.get("/v1/views")
    assert response.status_code == 200, response.text
    return {view["name"]: view for view in response.json()["items"]}


async def test_a_new_workspace_has_the_built_in_views_which_are_hidden_not_deleted(tenant: Tenant) -> None:
    listed = (await tenant.viewer.get("/v1/views")).json()["items"]
    assert [view["built_in"] for view in listed] == BUILT_IN
    assert listed[0]["name"] == "Phiếu của tôi"
    assert listed[0]["filters"] == {"assignee": "me", "status_kind": "new,open,pending,on_hold"}
    mine = listed[0]
    deleted = await tenant.admin.delete(f"/v1/views/{mine['id']}")
    assert deleted.status_code == 409 and deleted.json()["code"] == "built_in_view"
    refused = await tenant.admin.patch(f"/v1/views/{mine['id']}", json={"filters": {}})
    assert refused.status_code == 422 and refused.json()["field"] == "filters"
    hidden = await tenant.admin.patch(f"/v1/views/{mine['id']}", json={"hidden": True, "position": 100})
    assert hidden.status_code == 200, hidden.text
    shown = (await tenant.viewer.get("/v1/views")).json()["items"]
    assert [view["built_in"] for view in shown] == BUILT_IN[1:]
    everything = (await tenant.viewer.get("/v1/views", params={"include_hidden": "true"})).json()["items"]
    assert [view["built_in"] for view in everything] == [*BUILT_IN[1:], "mine"]
    # Shared views are the admins' to change.
    forbidden = await tenant.agent.patch(f"/v1/views/{mine['id']}", json={"hidden": False})
    assert forbidden.status_code == 403


async def test_personal_and_group_views_are_seen_by_their_owner_and_members_only(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    lan = await create_agent(tenant.admin, "crm-lan")
    await create_agent(tenant.admin, "crm-tuan")
    group = await create_group(tenant.admin, "Nhóm Bảo hành", [lan["id"]])
    as_lan = await agent_token_client(app, tenant, "crm-lan")
    as_tuan = await agent_token_client(app, tenant, "crm-tuan")
    personal = await create(
        as_lan, "/v1/views", {"name": "Phiếu gấp của Lan", "filters": {"priority": "urgent"}}
    )
    assert personal["visibility"] == "personal" and personal["owner_id"] == lan["id"]
    shared = await create(
        tenant.admin,
        "/v1/views",
        {"name": "Bảo hành gấp", "visibility": "groups", "group_ids": [group["id"]], "sort": "-priority"},
    )
    assert {"Phiếu gấp của Lan", "Bảo hành gấp"} <= set(await _views(as_lan))
    assert not {"Phiếu gấp của Lan", "Bảo hành gấp"} & set(await _views(as_tuan))
    for view in (personal, shared):
        assert (await as_tuan.get(f"/v1/views/{view['id']}")).status_code == 404
        assert (await as_tuan.get(f"/v1/views/{view['id']}/count")).status_code == 404
        assert (await other_tenant.admin.get(f"/v1/views/{view['id']}")).status_code == 404
    # Shared with everyone, it is no longer the group's only.
    widened = await tenant.admin.patch(f"/v1/views/{shared['id']}", json={"visibility": "everyone"})
    assert widened.status_code == 200 and widened.json()["group_ids"] == []
    assert "Bảo hành gấp" in await _views(as_tuan)
    # Another agent's personal view is nobody else's, an admin's key included.
    assert (await tenant.admin.get(f"/v1/views/{personal['id']}")).status_code == 404
    assert (await as_tuan.delete(f"/v1/views/{personal['id']}")).status_code == 404
    # An agent saves personal views only; a key that is no agent has none.
    share = {"name": "Cho cả nhóm", "visibility": "everyone"}
    assert (await as_tuan.post("/v1/views", json=share)).status_code == 403
    keyless = await tenant.agent.post("/v1/views", json={"name": "Của ai?"})
    assert keyless.status_code == 422 and keyless.json()["field"] == "visibility"
    renamed = await as_lan.patch(
        f"/v1/views/{personal['id']}",
        json={"name": "Phiếu rất gấp", "columns": ["number", "subject", "priority"]},
        headers={"If-Match": f'"{personal["version"]}"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["columns"] == ["number", "subject", "priority"]
    stale = await as_lan.patch(
        f"/v1/views/{personal['id']}", json={"name": "Cũ"}, headers={"If-Match": f'"{personal["version"]}"'}
    )
    assert stale.status_code == 412
    assert (await as_lan.delete(f"/v1/views/{personal['id']}")).status_code == 204
    assert (await as_lan.get(f"/v1/views/{personal['id']}")).status_code == 404


async def test_a_view_is_checked_as_the_list_checks_its_query(tenant: Tenant) -> None:
    await create_custom_field(tenant.admin, "ticket", "gia_tri", "Giá trị đơn", type="integer")
    cases = [
        ({"cf.gia_tri[gte]": "nhiều"}, "filters.cf.gia_tri[gte]"),
        ({"cf.khong_co": "1"}, "filters.cf.khong_co"),
        ({"priority": "rất gấp"}, "filters.priority"),
        ({"created_after": "hôm qua"}, "filters.created_after"),
        ({"sap_xep": "1"}, "filters.sap_xep"),
    ]
    for filters, field in cases:
        response = await tenant.admin.post(
            "/v1/views", json={"name": "Sai", "visibility": "everyone", "filters": filters}
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
    columns = await tenant.admin.post(
        "/v1/views", json={"name": "Sai", "visibility": "everyone", "columns": ["number", "mat_khau"]}
    )
    assert columns.status_code == 422 and columns.json()["field"] == "columns"


async def test_view_tickets_and_counts_agree_with_the_list_and_me_is_the_caller(
    app: FastAPI, tenant: Tenant
) -> None:
    await create_custom_field(tenant.admin, "ticket", "gia_tri", "Giá trị đơn", type="integer")
    lan = await create_agent(tenant.admin, "crm-lan")
    tuan = await create_agent(tenant.admin, "crm-tuan")
    group = await create_group(tenant.admin, "Nhóm Kho", [lan["id"], tuan["id"]])
    as_lan = await agent_token_client(app, tenant, "crm-lan")
    as_tuan = await agent_token_client(app, tenant, "crm-tuan")
    for amount in (50_000, 150_000, 900_000):
        await create_ticket(tenant.agent, assignee_id=lan["id"], custom_fields={"gia_tri": amount})
    await create_ticket(tenant.agent, assignee_id=tuan["id"], group_id=group["id"])
    await create_ticket(tenant.agent)
    solved = await create_ticket(tenant.agent, status_id=await status_id(tenant.admin, "solved"))
    query = {"assignee": "me", "cf.gia_tri[gte]": "100000", "status_kind": "new,open"}
    view = await create(
        tenant.admin, "/v1/views", {"name": "Đơn lớn của tôi", "visibility": "everyone", "filters": query}
    )
    listed = await as_lan.get("/v1/tickets", params={**query, "sort": "-created_at"})
    through_view = await as_lan.get(f"/v1/views/{view['id']}/tickets", params={"limit": 1})
    assert through_view.json()["items"][0]["id"] == listed.json()["items"][0]["id"]
    following = await as_lan.get(
        f"/v1/views/{view['id']}/tickets", params={"limit": 1, "cursor": through_view.json()["next_cursor"]}
    )
    assert [item["id"] for item in following.json()["items"]] == [listed.json()["items"][1]["id"]]
    assert (await as_lan.get(f"/v1/views/{view['id']}/count")).json()["count"] == 2
    assert (await as_tuan.get(f"/v1/views/{view['id']}/count")).json()["count"] == 0
    # The built-in views, for each caller.
    listed_views = (await tenant.viewer.get("/v1/views")).json()["items"]
    built_in = {view["built_in"]: view["id"] for view in listed_views if view["built_in"]}

    async def counts(client) -> dict[str, int | None]:
        response = await client.get("/v1/views/counts")
        assert response.status_code == 200, response.text
        by_id = {item["view_id"]: item["count"] for item in response.json()["items"]}
        return {key: by_id.get(view_id) for key, view_id in built_in.items()}

    assert await counts(as_lan) == {
        "mine": 3, "unassigned": 1, "my_groups": 1, "all_open": 5, "recently_solved": 1, "sla_breached": 0,
    }  # fmt: skip
    tuan_counts = await counts(as_tuan)
    assert (tuan_counts["mine"], tuan_counts["my_groups"]) == (1, 1)
    # A key that is no agent has no `me`: those views say why, the others count.
    keyed = (await tenant.viewer.get("/v1/views/counts")).json()["items"]
    by_id = {item["view_id"]: item for item in keyed}
    assert by_id[built_in["mine"]]["count"] is None and "agent" in by_id[built_in["mine"]]["error"]
    assert by_id[built_in["all_open"]]["count"] == 5
    chosen = await as_lan.get("/v1/views/counts", params={"ids": f"{built_in['all_open']},{view['id']}"})
    assert [item["count"] for item in chosen.json()["items"]] == [5, 2]
    assert solved["status_kind"] == "solved"


async def test_a_view_counts_what_a_restricted_agent_may_see_and_says_when_it_no_longer_runs(
    app: FastAPI, tenant: Tenant
) -> None:
    field = await create_custom_field(tenant.admin, "ticket", "ma_kho", "Mã kho")
    thu = await create_agent(tenant.admin, "crm-thu", ticket_access="restricted")
    group = await create_group(tenant.admin, "Nhóm Kho Bắc", [thu["id"]])
    as_thu = await agent_token_client(app, tenant, "crm-thu")
    await create_ticket(tenant.agent, group_id=group["id"], custom_fields={"ma_kho": "HN-01"})
    await create_ticket(tenant.agent, custom_fields={"ma_kho": "HN-01"})
    view = await create(
        tenant.admin,
        "/v1/views",
        {
            "name": "Kho Hà Nội",
            "visibility": "groups",
            "group_ids": [group["id"]],
            "filters": {"cf.ma_kho": "HN-01"},
        },
    )
    assert (await tenant.admin.get(f"/v1/views/{view['id']}")).status_code == 200
    assert (await as_thu.get(f"/v1/views/{view['id']}/count")).json()["count"] == 1
    listed = await as_thu.get(f"/v1/views/{view['id']}/tickets", params={"include": "group"})
    assert [item["name"] for item in listed.json()["included"]["groups"]] == ["Nhóm Kho Bắc"]
    # The field is retired: the view stays, and says why it no longer counts.
    retired = await tenant.admin.patch(f"/v1/custom-fields/{field['id']}", json={"active": False})
    assert retired.status_code == 200, retired.text
    counted = (await as_thu.get("/v1/views/counts", params={"ids": view["id"]})).json()["items"]
    assert counted[0]["count"] is None and "ma_kho" in counted[0]["error"]
    broken = await as_thu.get(f"/v1/views/{view['id']}/tickets")
    assert broken.status_code == 400 and broken.json()["field"] == "filters.cf.ma_kho"
