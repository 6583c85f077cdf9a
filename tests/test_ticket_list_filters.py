"""The list's filters on the business's own fields, the people on a ticket and reply times; side-loading."""

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import Tenant, agent_token_client
from tests.factories import (
    create,
    create_agent,
    create_category,
    create_contact,
    create_custom_field,
    create_group,
    create_ticket,
)


async def _numbers(tenant: Tenant, **params: str) -> list[int]:
    response = await tenant.agent.get("/v1/tickets", params={"sort": "created_at", **params})
    assert response.status_code == 200, response.text
    counted = await tenant.agent.get("/v1/tickets/counts", params=params)
    assert counted.status_code == 200, counted.text
    numbers = [ticket["number"] for ticket in response.json()["items"]]
    assert counted.json()["total"] == len(numbers)
    return numbers


async def _problem(tenant: Tenant, **params: str) -> dict:
    response = await tenant.agent.get("/v1/tickets", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


async def test_custom_field_filters_by_type(tenant: Tenant) -> None:
    admin = tenant.admin
    await create_custom_field(admin, "ticket", "ma_don", "Mã đơn hàng")
    await create_custom_field(admin, "ticket", "gia_tri", "Giá trị đơn", type="integer")
    await create_custom_field(admin, "ticket", "ty_le", "Tỷ lệ giảm", type="decimal")
    await create_custom_field(admin, "ticket", "ngay_giao", "Ngày giao", type="date")
    await create_custom_field(admin, "ticket", "hen_goi", "Hẹn gọi lại", type="datetime")
    await create_custom_field(admin, "ticket", "da_thanh_toan", "Đã thanh toán", type="checkbox")
    options = [{"value": value, "label": value} for value in ("ha_noi", "da_nang", "sai_gon")]
    await create_custom_field(admin, "ticket", "chi_nhanh", "Chi nhánh", type="dropdown", options=options)
    await create_custom_field(admin, "ticket", "kenh_ban", "Kênh bán", type="multiselect", options=options)
    values = [
        {"ma_don": "DH-001", "gia_tri": 50_000, "ty_le": "0.5", "ngay_giao": "2026-01-05",
         "hen_goi": "2026-01-05T09:30:00+07:00", "da_thanh_toan": True, "chi_nhanh": "ha_noi",
         "kenh_ban": ["ha_noi", "da_nang"]},
        {"ma_don": "DH-002", "gia_tri": 100_000, "ty_le": "12.25", "ngay_giao": "2026-02-10",
         "hen_goi": "2026-01-05T02:30:00.5Z", "da_thanh_toan": False, "chi_nhanh": "da_nang",
         "kenh_ban": ["sai_gon"]},
        {"ma_don": "DH-003", "gia_tri": 2_000_000, "ty_le": "100", "ngay_giao": "2026-03-01",
         "hen_goi": "2026-01-06T00:00:00Z", "chi_nhanh": "sai_gon"},
        {},
    ]  # fmt: skip
    numbers = [(await create_ticket(tenant.agent, custom_fields=fields))["number"] for fields in values]
    first, second, third, _ = numbers

    assert await _numbers(tenant, **{"cf.ma_don": "DH-002"}) == [second]
    assert await _numbers(tenant, **{"cf.ma_don[in]": "DH-001,DH-003"}) == [first, third]
    assert await _numbers(tenant, **{"cf.gia_tri[gte]": "100000"}) == [second, third]
    assert await _numbers(tenant, **{"cf.gia_tri[gt]": "50000", "cf.gia_tri[lt]": "2000000"}) == [second]
    assert await _numbers(tenant, **{"cf.gia_tri": "50000"}) == [first]
    assert await _numbers(tenant, **{"cf.ty_le[lte]": "12.25"}) == [first, second]
    assert await _numbers(tenant, **{"cf.ty_le": "100.00"}) == [third]
    assert await _numbers(
        tenant, **{"cf.ngay_giao[gte]": "2026-02-01", "cf.ngay_giao[lt]": "2026-03-01"}
    ) == [second]
    # 09:30 in Hà Nội is 02:30 UTC, before 02:30:00.5.
    assert await _numbers(tenant, **{"cf.hen_goi[lt]": "2026-01-05T02:30:00.2Z"}) == [first]
    assert await _numbers(tenant, **{"cf.hen_goi[gte]": "2026-01-05T09:30:00.5+07:00"}) == [second, third]
    assert await _numbers(tenant, **{"cf.da_thanh_toan": "false"}) == [second]
    assert await _numbers(tenant, **{"cf.chi_nhanh[in]": "ha_noi,sai_gon"}) == [first, third]
    assert await _numbers(tenant, **{"cf.kenh_ban": "da_nang"}) == [first]
    assert await _numbers(tenant, **{"cf.kenh_ban[in]": "da_nang,sai_gon"}) == [first, second]


async def test_a_stored_value_of_the_wrong_shape_does_not_match_rather_than_fail(
    app: FastAPI, tenant: Tenant
) -> None:
    await create_custom_field(tenant.admin, "ticket", "gia_tri", "Giá trị đơn", type="integer")
    await create_custom_field(tenant.admin, "ticket", "ngay_giao", "Ngày giao", type="date")
    await create_custom_field(tenant.admin, "ticket", "hen_goi", "Hẹn gọi lại", type="datetime")
    good = await create_ticket(
        tenant.agent,
        custom_fields={"gia_tri": 5, "ngay_giao": "2026-01-05", "hen_goi": "2026-01-05T09:30:00Z"},
    )
    damaged = await create_ticket(tenant.agent)
    # Written around the checks, as an old import or a hand-made fix might have.
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE tickets SET custom_fields = CAST(:values AS jsonb) WHERE id = :id"),
            {"values": '{"gia_tri": "năm", "ngay_giao": "sáng mai", "hen_goi": "2026-13-45T99:00:00"}',
             "id": damaged["id"]},
        )  # fmt: skip
    for name, bound in (("gia_tri", "1"), ("ngay_giao", "2020-01-01"), ("hen_goi", "2020-01-01T00:00:00Z")):
        assert await _numbers(tenant, **{f"cf.{name}[gte]": bound}) == [good["number"]]


async def test_bad_custom_field_filters_are_refused_naming_the_parameter(tenant: Tenant) -> None:
    await create_custom_field(tenant.admin, "ticket", "ma_don", "Mã đơn hàng")
    await create_custom_field(tenant.admin, "ticket", "gia_tri", "Giá trị đơn", type="integer")
    await create_custom_field(tenant.admin, "contact", "hang_the", "Hạng thẻ")
    cases = [
        ("cf.khong_co", "1", "unknown_custom_field"),
        ("cf.hang_the", "vang", "unknown_custom_field"),
        ("cf.gia_tri[gte]", "một trăm", "invalid_filter"),
        ("cf.gia_tri", "99999999999999999999999", "invalid_filter"),
        ("cf.ma_don[gte]", "DH", "invalid_filter"),
        ("cf.gia_tri[between]", "1", "invalid_filter"),
        ("cf.Ma-Don", "1", "invalid_filter"),
    ]
    for name, value, code in cases:
        problem = await _problem(tenant, **{name: value})
        assert (problem["field"], problem["code"]) == (name, code), problem
    # Text PostgreSQL could not hold is refused before any filter is read, as in every query.
    response = await tenant.agent.get("/v1/tickets", params={"cf.ma_don": "DH\x00001"})
    assert response.status_code == 422 and response.json()["field"] == "query.cf.ma_don"


async def test_organization_cc_and_follower_filters(app: FastAPI, tenant: Tenant) -> None:
    organization = await create(tenant.admin, "/v1/organizations", {"name": "Công ty Sao Mai"})
    member = await create_contact(tenant.agent, email="lan@saomai.vn", organization_id=organization["id"])
    outsider = await create_contact(tenant.agent, email="minh@example.vn", name="Trần Văn Minh")
    agent = await create_agent(tenant.admin, "crm-hai")
    ours = await create_ticket(tenant.agent, requester_id=member["id"], followers=[agent["id"]])
    copied = await create_ticket(tenant.agent, requester_id=outsider["id"], ccs=[member["id"]])
    assert await _numbers(tenant, organization_id=organization["id"]) == [ours["number"]]
    assert await _numbers(tenant, cc=member["id"]) == [copied["number"]]
    assert await _numbers(tenant, follower=agent["id"]) == [ours["number"]]
    assert await _numbers(tenant, follower="none") == [copied["number"]]
    as_agent = await agent_token_client(app, tenant, "crm-hai")
    mine = await as_agent.get("/v1/tickets", params={"follower": "me"})
    assert [ticket["number"] for ticket in mine.json()["items"]] == [ours["number"]]
    problem = await _problem(tenant, follower="me")
    assert problem["field"] == "follower"


async def test_last_reply_filters_tell_the_sides_apart(tenant: Tenant) -> None:
    contact = await create_contact(tenant.agent, email="hoa@example.vn")
    answered = await create_ticket(tenant.agent, requester_id=contact["id"])
    waiting = await create_ticket(tenant.agent, requester_id=contact["id"])
    agent = await create_agent(tenant.admin, "crm-linh")
    agent_reply = {
        "body": "Chúng tôi đang kiểm tra đơn hàng",
        "public": True,
        "author": {"type": "agent", "id": agent["id"]},
    }
    before = datetime.now(UTC) - timedelta(seconds=1)
    customer = {
        "body": "Tôi vẫn chưa nhận được hàng",
        "public": True,
        "author": {"type": "contact", "id": contact["id"]},
    }
    for ticket in (answered, waiting):
        response = await tenant.agent.post(f"/v1/tickets/{ticket['id']}/comments", json=customer)
        assert response.status_code == 201, response.text
    response = await tenant.agent.post(f"/v1/tickets/{answered['id']}/comments", json=agent_reply)
    assert response.status_code == 201, response.text
    # A message the service writes itself is neither side's reply.
    system = {"body": "Phiếu đã được chuyển cho nhóm Kho", "public": True}
    response = await tenant.agent.post(f"/v1/tickets/{waiting['id']}/comments", json=system)
    assert response.status_code == 201, response.text
    moment = before.isoformat()
    assert await _numbers(tenant, last_customer_reply_after=moment) == [answered["number"], waiting["number"]]
    assert await _numbers(tenant, last_agent_reply_after=moment) == [answered["number"]]
    assert await _numbers(tenant, last_customer_reply_before=moment) == []
    shown = (await tenant.agent.get(f"/v1/tickets/{answered['id']}")).json()
    assert shown["last_customer_reply_at"] is not None and shown["last_agent_reply_at"] is not None
    assert shown["last_public_comment_by"] == "agent"


async def test_include_side_loads_each_record_once(app: FastAPI, tenant: Tenant) -> None:
    organization = await create(tenant.admin, "/v1/organizations", {"name": "Công ty Bình Minh"})
    contact = await create_contact(tenant.agent, email="an@binhminh.vn", organization_id=organization["id"])
    other = await create_contact(tenant.agent, email="binh@example.vn")
    agent = await create_agent(tenant.admin, "crm-thu", ticket_access="restricted")
    group = await create_group(tenant.admin, "Nhóm Giao hàng", [agent["id"]])
    category = await create_category(tenant.admin, "Đổi trả")
    for _ in range(2):
        await create_ticket(
            tenant.agent,
            requester_id=contact["id"],
            assignee_id=agent["id"],
            group_id=group["id"],
            category_id=category["id"],
        )
    await create_ticket(tenant.agent, requester_id=other["id"])
    include = "requester,assignee,group,organization,category"
    listed = (await tenant.agent.get("/v1/tickets", params={"include": include})).json()
    assert len(listed["items"]) == 3
    included = listed["included"]
    assert sorted(item["id"] for item in included["requesters"]) == sorted([contact["id"], other["id"]])
    assert [item["name"] for item in included["organizations"]] == ["Công ty Bình Minh"]
    assert [item["id"] for item in included["assignees"]] == [agent["id"]]
    assert [item["name"] for item in included["groups"]] == ["Nhóm Giao hàng"]
    assert [item["name"] for item in included["categories"]] == ["Đổi trả"]
    # Not asked: not loaded.
    plain = (await tenant.agent.get("/v1/tickets", params={"include": "group"})).json()["included"]
    assert plain["requesters"] is None and len(plain["groups"]) == 1
    assert "included" not in (await tenant.agent.get("/v1/tickets")).json()
    # A restricted agent sees the records of the tickets it may see, and no others.
    restricted = await agent_token_client(app, tenant, "crm-thu")
    seen = (await restricted.get("/v1/tickets", params={"include": "requester"})).json()
    assert len(seen["items"]) == 2
    assert [item["id"] for item in seen["included"]["requesters"]] == [contact["id"]]
    single = await tenant.agent.get(
        f"/v1/tickets/{seen['items'][0]['id']}", params={"include": "organization"}
    )
    assert single.json()["included"]["organizations"][0]["id"] == organization["id"]
    # The included records are part of what a conditional read revalidates.
    renamed = await tenant.admin.patch(
        f"/v1/organizations/{organization['id']}", json={"name": "Công ty Rạng Đông"}
    )
    assert renamed.status_code == 200, renamed.text
    again = await tenant.agent.get(
        f"/v1/tickets/{seen['items'][0]['id']}",
        params={"include": "organization"},
        headers={"If-None-Match": single.headers["etag"]},
    )
    assert again.status_code == 200
    assert again.json()["included"]["organizations"][0]["name"] == "Công ty Rạng Đông"
    unknown = await tenant.agent.get("/v1/tickets", params={"include": "requester,comments"})
    assert unknown.status_code == 400 and unknown.json()["field"] == "include"


def test_every_declared_filter_is_parsed_for_lists_and_views_alike() -> None:
    """A parameter added to the list's dependency and not to the parser would fail every list."""
    import inspect

    from app.tickets.filters import FILTER_PARAMETERS, _filters

    parsed = set(inspect.signature(_filters).parameters) - {"me", "custom_fields", "phone_region"}
    assert parsed == set(FILTER_PARAMETERS)
