import asyncio
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.auth.principal import Principal
from app.contacts.service import find_or_create_contact, normalize_email, normalize_phone
from app.errors import Unprocessable
from app.models import Contact, ContactIdentity
from app.models.enums import ActorType, Role
from tests.conftest import Tenant
from tests.factories import create_contact, create_ticket

HOA = {"name": "Nguyễn Thị Hoa", "email": "Hoa.Nguyen@SaoMai.vn", "phone": "0912 345 678"}


def identities(contact: dict[str, Any]) -> set[tuple[str, str]]:
    return {(identity["kind"], identity["value"]) for identity in contact["identities"]}


async def test_create_normalises_email_and_phone_and_mirrors_them_as_identities(tenant: Tenant) -> None:
    response = await tenant.agent.post("/v1/contacts", json={**HOA, "vip": True, "external_id": "CRM-7"})
    assert response.status_code == 201
    assert response.headers["etag"] == '"1"'
    contact = response.json()
    assert contact["email"] == "hoa.nguyen@saomai.vn"
    assert contact["phone"] == "+84912345678"
    assert contact["vip"] is True
    assert contact["organization_id"] is None
    assert identities(contact) == {("email", "hoa.nguyen@saomai.vn"), ("phone", "+84912345678")}

    fetched = await tenant.viewer.get(f"/v1/contacts/{contact['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == contact
    assert fetched.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "hoa.nguyen"}, "email"),
        ({"email": "hoa@saomai"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"phone": "không có"}, "phone"),
        ({"phone": "0" * 65}, "phone"),
        ({"name": "x" * 201}, "name"),
        ({"external_id": ""}, "external_id"),
        ({"organization_id": "not-a-uuid"}, "organization_id"),
        ({"organization_id": "00000000-0000-7000-8000-000000000000"}, "organization_id"),
        ({"custom_fields": {"loyalty": "gold"}}, "custom_fields.loyalty"),
        ({"custom_fields": {f"k{i}": 1 for i in range(201)}}, "custom_fields"),
        ({"vip": "maybe"}, "vip"),
        ({"address": "Hà Nội"}, "address"),
    ],
)
async def test_invalid_input_is_422_naming_the_field(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await tenant.agent.post("/v1/contacts", json={"name": "Nguyễn Thị Hoa", **body})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


async def test_email_phone_and_external_id_are_unique(tenant: Tenant, other_tenant: Tenant) -> None:
    await create_contact(tenant.agent, **HOA, external_id="CRM-1")
    for body, field in [
        ({"email": "HOA.NGUYEN@saomai.vn"}, "email"),
        ({"phone": "+84 912 345 678"}, "phone"),
        ({"external_id": "CRM-1"}, "external_id"),
    ]:
        response = await tenant.agent.post("/v1/contacts", json={"name": "Trần Văn Nam", **body})
        assert response.status_code == 409, body
        assert response.json()["field"] == field
    # Identities are unique per workspace only.
    await create_contact(other_tenant.agent, **HOA, external_id="CRM-1")


async def test_changing_the_email_replaces_the_primary_identity(tenant: Tenant) -> None:
    hoa = await create_contact(tenant.agent, **HOA)
    path = f"/v1/contacts/{hoa['id']}"
    updated = await tenant.agent.patch(
        path, json={"email": "hoa@gmail.com", "phone": None}, headers={"If-Match": '"1"'}
    )
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'
    assert updated.json()["email"] == "hoa@gmail.com"
    assert updated.json()["phone"] is None
    assert identities(updated.json()) == {("email", "hoa@gmail.com")}
    # The old address and number are free again.
    await create_contact(tenant.agent, name="Trần Văn Nam", email=HOA["email"], phone=HOA["phone"])

    taken = await tenant.agent.patch(path, json={"email": HOA["email"]})
    assert taken.status_code == 409
    assert taken.json()["field"] == "email"
    taken = await tenant.agent.patch(path, json={"phone": "0912345678"})
    assert taken.status_code == 409
    assert taken.json()["field"] == "phone"
    invalid = await tenant.agent.patch(path, json={"phone": "123"})
    assert invalid.status_code == 422
    assert invalid.json()["field"] == "phone"
    assert (await tenant.agent.patch(path, json={"vip": None})).status_code == 422
    stale = await tenant.agent.patch(path, json={"vip": True}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412


async def test_a_secondary_identity_can_become_the_primary_email(tenant: Tenant) -> None:
    hoa = await create_contact(tenant.agent, **HOA)
    added = await tenant.agent.post(
        f"/v1/contacts/{hoa['id']}/identities", json={"kind": "email", "value": "hoa@gmail.com"}
    )
    assert added.status_code == 201
    updated = await tenant.agent.patch(f"/v1/contacts/{hoa['id']}", json={"email": "hoa@gmail.com"})
    assert updated.status_code == 200
    assert identities(updated.json()) == {("email", "hoa@gmail.com"), ("phone", "+84912345678")}


async def test_identities_are_added_and_removed(tenant: Tenant, other_tenant: Tenant) -> None:
    hoa = await create_contact(tenant.agent, **HOA)
    base = f"/v1/contacts/{hoa['id']}/identities"
    zalo = await tenant.agent.post(base, json={"kind": "zalo", "value": "zalo-84912345678"})
    assert zalo.status_code == 201
    assert zalo.json()["kind"] == "zalo"
    email = await tenant.agent.post(base, json={"kind": "email", "value": " Hoa@Gmail.com "})
    assert email.json()["value"] == "hoa@gmail.com"
    phone = await tenant.agent.post(base, json={"kind": "phone", "value": "028 3822 1234"})
    assert phone.json()["value"] == "+842838221234"

    fetched = await tenant.viewer.get(f"/v1/contacts/{hoa['id']}")
    assert fetched.headers["etag"] == '"4"'
    assert len(fetched.json()["identities"]) == 5

    # Identities are unique in the workspace, whichever contact has them.
    nam = await create_contact(tenant.agent, name="Trần Văn Nam")
    for body in [{"kind": "zalo", "value": "zalo-84912345678"}, {"kind": "email", "value": "HOA@gmail.com"}]:
        duplicate = await tenant.agent.post(f"/v1/contacts/{nam['id']}/identities", json=body)
        assert duplicate.status_code == 409
        assert duplicate.json()["field"] == "value"
    for body in [
        {"kind": "email", "value": "không phải email"},
        {"kind": "phone", "value": "12"},
        {"kind": "zalo", "value": "x" * 321},
        {"kind": "fax", "value": "1"},
    ]:
        invalid = await tenant.agent.post(base, json=body)
        assert invalid.status_code == 422
        assert invalid.json()["field"] in ("value", "kind")

    primary = next(i for i in hoa["identities"] if i["kind"] == "email")
    refused = await tenant.agent.delete(f"{base}/{primary['id']}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "primary_identity"
    assert (await tenant.agent.delete(f"{base}/{zalo.json()['id']}")).status_code == 204
    assert (await tenant.agent.delete(f"{base}/{zalo.json()['id']}")).status_code == 404
    # An identity is removed through its own contact only.
    assert (
        await tenant.agent.delete(f"/v1/contacts/{nam['id']}/identities/{email.json()['id']}")
    ).status_code == 404
    assert (await other_tenant.agent.delete(f"{base}/{email.json()['id']}")).status_code == 404
    assert (
        await other_tenant.agent.post(base, json={"kind": "chat", "value": "visitor-1"})
    ).status_code == 404
    remaining = (await tenant.viewer.get(f"/v1/contacts/{hoa['id']}")).json()
    assert ("zalo", "zalo-84912345678") not in identities(remaining)


async def test_a_contact_with_an_email_joins_the_organization_of_its_domain(tenant: Tenant) -> None:
    organization = await tenant.admin.post(
        "/v1/organizations", json={"name": "Công ty Cổ phần Sao Mai", "domains": ["saomai.vn"]}
    )
    other = await tenant.admin.post("/v1/organizations", json={"name": "Bình Minh"})
    linked = await create_contact(tenant.agent, **HOA)
    assert linked["organization_id"] == organization.json()["id"]
    chosen = await create_contact(
        tenant.agent, name="Trần Văn Nam", email="nam@saomai.vn", organization_id=other.json()["id"]
    )
    assert chosen["organization_id"] == other.json()["id"]
    unlinked = await create_contact(tenant.agent, name="Lê Thu", email="thu@gmail.com")
    assert unlinked["organization_id"] is None

    members = await tenant.viewer.get("/v1/contacts", params={"organization_id": organization.json()["id"]})
    assert [c["id"] for c in members.json()["items"]] == [linked["id"]]


async def test_another_workspaces_ids_are_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    hoa = await create_contact(tenant.agent, **HOA)
    path = f"/v1/contacts/{hoa['id']}"
    assert (await other_tenant.viewer.get(path)).status_code == 404
    assert (await other_tenant.agent.patch(path, json={"vip": True})).status_code == 404
    assert (await other_tenant.agent.delete(path)).status_code == 404
    assert (await other_tenant.viewer.get("/v1/contacts", params={"q": "hoa"})).json()["items"] == []

    foreign = await other_tenant.admin.post("/v1/organizations", json={"name": "Sao Mai"})
    created = await tenant.agent.post(
        "/v1/contacts", json={"name": "Trần Văn Nam", "organization_id": foreign.json()["id"]}
    )
    assert created.status_code == 422
    assert created.json()["field"] == "organization_id"
    assert foreign.json()["id"] not in created.text
    updated = await tenant.agent.patch(path, json={"organization_id": foreign.json()["id"]})
    assert updated.status_code == 422
    assert updated.json()["field"] == "organization_id"


async def test_viewers_cannot_write_contacts(tenant: Tenant) -> None:
    assert (await tenant.viewer.post("/v1/contacts", json=HOA)).status_code == 403
    hoa = await create_contact(tenant.agent, **HOA)
    path = f"/v1/contacts/{hoa['id']}"
    assert (await tenant.viewer.patch(path, json={"vip": True})).status_code == 403
    assert (await tenant.viewer.delete(path)).status_code == 403
    identities_path = f"{path}/identities"
    assert (
        await tenant.viewer.post(identities_path, json={"kind": "chat", "value": "v1"})
    ).status_code == 403
    assert (await tenant.anonymous.get("/v1/contacts")).status_code == 401


async def test_q_ignores_accents_and_matches_phone_prefixes(tenant: Tenant) -> None:
    dang = await create_contact(tenant.agent, name="Đặng Văn Lâm", phone="0987 654 321")
    hoa = await create_contact(tenant.agent, **HOA)
    await create_contact(tenant.agent, name="Lê Thu", email="thu@gmail.com")

    async def search(**params: str) -> list[str]:
        response = await tenant.viewer.get("/v1/contacts", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await search(q="dang") == [dang["id"]]
    assert await search(q="DANG van lam") == [dang["id"]]
    assert await search(q="0912") == [hoa["id"]]
    assert await search(q="+8498765") == [dang["id"]]
    assert await search(q="nguyen thi") == [hoa["id"]]
    assert await search(q="saomai") == [hoa["id"]]
    assert await search(q="_%") == []
    assert await search(email="HOA.NGUYEN@saomai.vn") == [hoa["id"]]
    assert await search(phone="+84 912 345 678") == [hoa["id"]]
    bad_phone = await tenant.viewer.get("/v1/contacts", params={"phone": "12"})
    assert bad_phone.status_code == 422
    assert bad_phone.json()["field"] == "phone"


async def test_filters_by_vip_and_external_id(tenant: Tenant) -> None:
    vip = await create_contact(tenant.agent, name="Nguyễn Thị Hoa", vip=True, external_id="CRM-9")
    await create_contact(tenant.agent, name="Trần Văn Nam")
    response = await tenant.viewer.get("/v1/contacts", params={"vip": "true"})
    assert [c["id"] for c in response.json()["items"]] == [vip["id"]]
    response = await tenant.viewer.get("/v1/contacts", params={"external_id": "CRM-9"})
    assert [c["id"] for c in response.json()["items"]] == [vip["id"]]


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "name"])
async def test_pagination_visits_every_contact_once_in_order(tenant: Tenant, sort: str) -> None:
    names = ["Đặng Văn Lâm", "Bùi Minh", None, "Ánh Tuyết", "Cao Long", None, "Hoàng Yến"]
    created = []
    for name in names:
        created.append(await create_contact(tenant.agent, name=name))
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await tenant.viewer.get("/v1/contacts", params=params)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 3
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(c["id"] for c in seen) == sorted(c["id"] for c in created)
    if sort == "-created_at":
        assert [c["id"] for c in seen] == [c["id"] for c in reversed(created)]
    elif sort == "created_at":
        assert [c["id"] for c in seen] == [c["id"] for c in created]
    else:
        # Names in the database's collation, then the nameless ones.
        whole = (await tenant.viewer.get("/v1/contacts", params={"sort": "name"})).json()["items"]
        assert [c["id"] for c in seen] == [c["id"] for c in whole]
        assert [c["name"] is None for c in seen] == [False] * 5 + [True] * 2

    wrong_sort = await tenant.viewer.get("/v1/contacts", params={"sort": "email"})
    assert wrong_sort.status_code == 422
    assert wrong_sort.json()["field"] == "query.sort"


async def test_a_requester_of_tickets_cannot_be_deleted(tenant: Tenant) -> None:
    hoa = await create_contact(tenant.agent, **HOA)
    await create_ticket(tenant.agent, requester_id=hoa["id"])
    refused = await tenant.agent.delete(f"/v1/contacts/{hoa['id']}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "contact_in_use"
    assert "requester" in refused.json()["detail"]

    other = await create_contact(tenant.agent, name="Trần Văn Nam", email="nam@gmail.com")
    assert (await tenant.agent.delete(f"/v1/contacts/{other['id']}")).status_code == 204
    assert (await tenant.viewer.get(f"/v1/contacts/{other['id']}")).status_code == 404
    # Its identities went with it.
    await create_contact(tenant.agent, name="Trần Văn Nam", email="nam@gmail.com")


# --- find_or_create_contact, the tickets domain's inline requester ---------------------------------


def test_normalisation_helpers() -> None:
    assert normalize_email(" Hoa.Nguyen@SaoMai.VN ") == "hoa.nguyen@saomai.vn"
    assert normalize_phone("0912 345 678", "VN") == "+84912345678"
    assert normalize_phone("+1 650-253-0000", "VN") == "+16502530000"
    with pytest.raises(ValueError):
        normalize_email("hoa@")
    with pytest.raises(ValueError):
        normalize_phone("0912", "VN")


def acting_for(tenant: Tenant) -> Principal:
    """The caller a service call is made for, as a channel or the system would call it."""
    return Principal(tenant.workspace_id, Role.agent, ActorType.system, tenant.workspace_id)


async def test_find_or_create_finds_by_email_then_phone(app: FastAPI, tenant: Tenant) -> None:
    hoa = await create_contact(tenant.agent, **HOA)
    organization = await tenant.admin.post(
        "/v1/organizations", json={"name": "Bình Minh", "domains": ["binhminh.vn"]}
    )
    async with app.state.db.sessionmaker() as session, session.begin():
        by_email = await find_or_create_contact(
            session,
            acting_for(tenant),
            email="HOA.NGUYEN@saomai.vn",
            phone=None,
            name=None,
            default_phone_region="VN",
        )
        by_phone = await find_or_create_contact(
            session,
            acting_for(tenant),
            email="new@gmail.com",
            phone="+84912345678",
            name=None,
            default_phone_region="VN",
        )
        created = await find_or_create_contact(
            session,
            acting_for(tenant),
            email="Nam@BinhMinh.vn",
            phone="0987 654 321",
            name="Trần Văn Nam",
            default_phone_region="VN",
        )
    assert str(by_email.id) == hoa["id"]
    assert str(by_phone.id) == hoa["id"]
    assert str(created.id) != hoa["id"]
    fetched = (await tenant.viewer.get(f"/v1/contacts/{created.id}")).json()
    assert fetched["email"] == "nam@binhminh.vn"
    assert fetched["organization_id"] == organization.json()["id"]
    assert identities(fetched) == {("email", "nam@binhminh.vn"), ("phone", "+84987654321")}
    assert (await tenant.viewer.get("/v1/contacts", params={"q": "tran van"})).json()["items"][0][
        "id"
    ] == str(created.id)


@pytest.mark.parametrize(
    ("email", "phone", "field"),
    [("hoa@", None, "requester.email"), (None, "0912", "requester.phone"), (None, None, "requester")],
)
async def test_find_or_create_names_the_invalid_requester_field(
    app: FastAPI, tenant: Tenant, email: str | None, phone: str | None, field: str
) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        with pytest.raises(Unprocessable) as refused:
            await find_or_create_contact(
                session, acting_for(tenant), email=email, phone=phone, name=None, default_phone_region="VN"
            )
    assert refused.value.field == field


async def test_concurrent_find_or_create_makes_one_contact(app: FastAPI, tenant: Tenant) -> None:
    async def create_requester() -> UUID:
        async with app.state.db.sessionmaker() as session, session.begin():
            contact = await find_or_create_contact(
                session,
                acting_for(tenant),
                email="Khach.Moi@SaoMai.vn",
                phone="0912 000 111",
                name="Khách mới",
                default_phone_region="VN",
            )
            return contact.id

    ids = await asyncio.gather(*(create_requester() for _ in range(20)))
    assert len(set(ids)) == 1
    async with app.state.db.sessionmaker() as session:
        contacts = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.workspace_id == tenant.workspace_id)
        )
        identity_count = await session.scalar(
            select(func.count())
            .select_from(ContactIdentity)
            .where(ContactIdentity.workspace_id == tenant.workspace_id)
        )
    assert contacts == 1
    assert identity_count == 2
