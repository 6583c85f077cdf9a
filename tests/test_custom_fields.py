from typing import Any
from uuid import uuid4

import pytest

from app.custom_fields.validation import validate_custom_fields
from app.errors import Unprocessable
from app.models import CustomFieldDefinition
from app.models.enums import CustomFieldEntity, CustomFieldType
from tests.conftest import Tenant
from tests.factories import create, create_custom_field, create_ticket

OPTIONS = [
    {"value": "ha_noi", "label": "Hà Nội"},
    {"value": "da_nang", "label": "Đà Nẵng"},
    {"value": "hcm", "label": "TP. Hồ Chí Minh"},
]


def definition(
    key: str,
    type_: CustomFieldType,
    *,
    required: bool = False,
    active: bool = True,
    options: list[dict[str, str]] | None = None,
    pattern: str | None = None,
) -> CustomFieldDefinition:
    return CustomFieldDefinition(
        id=uuid4(),
        entity=CustomFieldEntity.ticket,
        key=key,
        label=key.replace("_", " ").capitalize(),
        type=type_,
        options=options or [],
        pattern=pattern,
        required=required,
        active=active,
        position=0,
    )


def check(type_: CustomFieldType, value: Any, **options: Any) -> Any:
    field = definition("field", type_, **options)
    return validate_custom_fields([field], {"field": value}, current=None)["field"]


def refuse(type_: CustomFieldType, value: Any, **options: Any) -> str:
    with pytest.raises(Unprocessable) as refused:
        check(type_, value, **options)
    assert refused.value.field == "custom_fields.field"
    return refused.value.detail


@pytest.mark.parametrize(
    ("type_", "value", "stored", "options"),
    [
        (CustomFieldType.text, "Giao hàng chậm", "Giao hàng chậm", {}),
        (CustomFieldType.text, "x" * 1000, "x" * 1000, {}),
        (CustomFieldType.textarea, "Dòng 1\nDòng 2" * 1000, "Dòng 1\nDòng 2" * 1000, {}),
        (CustomFieldType.integer, 42, 42, {}),
        (CustomFieldType.integer, -(2**63), -(2**63), {}),
        (CustomFieldType.integer, 2**63 - 1, 2**63 - 1, {}),
        (CustomFieldType.decimal, 1.5, "1.5", {}),
        (CustomFieldType.decimal, 250000, "250000", {}),
        (CustomFieldType.decimal, "199000.50", "199000.5", {}),
        (CustomFieldType.decimal, " -0.000 ", "0", {}),
        (CustomFieldType.decimal, "1.2e3", "1200", {}),
        (CustomFieldType.decimal, "12345678901234567890.123456789012345678", None, {}),
        (CustomFieldType.date, "2025-02-28", "2025-02-28", {}),
        (CustomFieldType.datetime, "2025-03-01T09:30:00+07:00", "2025-03-01T02:30:00Z", {}),
        (CustomFieldType.datetime, "2025-03-01t02:30:00.250z", "2025-03-01T02:30:00.250000Z", {}),
        (CustomFieldType.checkbox, True, True, {}),
        (CustomFieldType.checkbox, False, False, {}),
        (CustomFieldType.dropdown, "hcm", "hcm", {"options": OPTIONS}),
        (CustomFieldType.multiselect, ["hcm", "ha_noi"], ["hcm", "ha_noi"], {"options": OPTIONS}),
        (CustomFieldType.regex, "DH-2025-0001", "DH-2025-0001", {"pattern": r"DH-\d{4}-\d{4}"}),
    ],
)
def test_valid_values_are_stored_canonically(
    type_: CustomFieldType, value: Any, stored: Any, options: dict[str, Any]
) -> None:
    expected = value if stored is None else stored
    assert check(type_, value, **options) == expected


@pytest.mark.parametrize(
    ("type_", "value", "options", "says"),
    [
        (CustomFieldType.text, 12, {}, "a string of at most 1,000 characters"),
        (CustomFieldType.text, "x" * 1001, {}, "at most 1,000"),
        (CustomFieldType.textarea, "x" * 65_537, {}, "at most 65,536"),
        (CustomFieldType.integer, True, {}, "an integer"),
        (CustomFieldType.integer, 1.0, {}, "an integer"),
        (CustomFieldType.integer, "12", {}, "an integer"),
        (CustomFieldType.integer, 2**63, {}, "an integer between"),
        (CustomFieldType.decimal, "12,5", {}, "a decimal number"),
        (CustomFieldType.decimal, "NaN", {}, "a decimal number"),
        (CustomFieldType.decimal, float("inf"), {}, "a decimal number"),
        (CustomFieldType.decimal, True, {}, "a decimal number"),
        (CustomFieldType.decimal, "1e999999999", {}, "at most 38 digits"),
        (CustomFieldType.decimal, "1e-39", {}, "at most 38 digits"),
        (CustomFieldType.decimal, 10**40, {}, "a decimal number"),
        (CustomFieldType.date, "28/02/2025", {}, "YYYY-MM-DD"),
        (CustomFieldType.date, "2025-02-30", {}, "YYYY-MM-DD"),
        (CustomFieldType.date, "20250228", {}, "YYYY-MM-DD"),
        (CustomFieldType.datetime, "2025-03-01T09:30:00", {}, "time zone offset"),
        (CustomFieldType.datetime, "2025-03-01", {}, "RFC 3339"),
        (CustomFieldType.datetime, "2025-13-01T09:30:00Z", {}, "RFC 3339"),
        (CustomFieldType.checkbox, "true", {}, "true or false"),
        (CustomFieldType.checkbox, 1, {}, "true or false"),
        (CustomFieldType.dropdown, "hai_phong", {"options": OPTIONS}, "'ha_noi', 'da_nang', 'hcm'"),
        (CustomFieldType.dropdown, ["hcm"], {"options": OPTIONS}, "one of the field's option values"),
        (CustomFieldType.multiselect, "hcm", {"options": OPTIONS}, "a list of distinct option values"),
        (CustomFieldType.multiselect, ["hcm", "hcm"], {"options": OPTIONS}, "distinct"),
        (CustomFieldType.multiselect, ["hcm", "hue"], {"options": OPTIONS}, "distinct option values"),
        (CustomFieldType.regex, "DH-25-1", {"pattern": r"DH-\d{4}-\d{4}"}, "matching the pattern"),
        (CustomFieldType.regex, "xDH-2025-0001", {"pattern": r"DH-\d{4}-\d{4}"}, "matching the pattern"),
        (CustomFieldType.regex, 2025, {"pattern": r"\d+"}, "a string"),
    ],
)
def test_invalid_values_name_the_field_and_what_it_expects(
    type_: CustomFieldType, value: Any, options: dict[str, Any], says: str
) -> None:
    assert says in refuse(type_, value, **options)


def test_a_pathological_pattern_times_out_instead_of_hanging() -> None:
    detail = refuse(CustomFieldType.regex, "a" * 40 + "!", pattern=r"(?:a|a)*")
    assert "could not be checked in time" in detail


def test_unknown_and_inactive_keys_are_refused() -> None:
    fields = [
        definition("order_code", CustomFieldType.text),
        definition("old", CustomFieldType.text, active=False),
    ]
    for key in ("nope", "old"):
        with pytest.raises(Unprocessable) as refused:
            validate_custom_fields(fields, {key: "x"}, current=None)
        assert refused.value.field == f"custom_fields.{key}"


def test_required_fields_must_be_present_on_a_new_record() -> None:
    fields = [
        definition("province", CustomFieldType.dropdown, required=True, options=OPTIONS),
        definition("note", CustomFieldType.text),
    ]
    with pytest.raises(Unprocessable) as refused:
        validate_custom_fields(fields, {"note": "Khách quen"}, current=None)
    assert refused.value.field == "custom_fields.province"
    for blank in ("", None):
        with pytest.raises(Unprocessable):
            validate_custom_fields(fields, {"province": blank}, current=None)
    assert validate_custom_fields(fields, {"province": "hcm"}, current=None) == {"province": "hcm"}


def test_a_change_is_merged_and_null_removes_a_key() -> None:
    fields = [
        definition("province", CustomFieldType.dropdown, required=True, options=OPTIONS),
        definition("note", CustomFieldType.text),
        definition("quantity", CustomFieldType.integer),
    ]
    current = {"province": "hcm", "note": "Khách quen", "legacy": "kept"}
    merged = validate_custom_fields(fields, {"note": None, "quantity": 3}, current=current)
    assert merged == {"province": "hcm", "quantity": 3, "legacy": "kept"}
    assert current == {"province": "hcm", "note": "Khách quen", "legacy": "kept"}
    # A required field may be left out of a change, but not removed.
    assert validate_custom_fields(fields, {}, current=current) == current
    with pytest.raises(Unprocessable) as refused:
        validate_custom_fields(fields, {"province": None}, current=current)
    assert refused.value.field == "custom_fields.province"


# --- the API ---------------------------------------------------------------------------------


async def test_create_read_update_a_definition(tenant: Tenant) -> None:
    created = await tenant.admin.post(
        "/v1/custom-fields",
        json={
            "entity": "ticket",
            "key": "province",
            "label": "Tỉnh / thành phố",
            "type": "dropdown",
            "options": OPTIONS,
            "required": True,
        },
    )
    assert created.status_code == 201
    assert created.headers["etag"] == '"1"'
    field = created.json()
    assert field["options"] == OPTIONS
    assert field["active"] is True

    fetched = await tenant.viewer.get(f"/v1/custom-fields/{field['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == field

    updated = await tenant.admin.patch(
        f"/v1/custom-fields/{field['id']}",
        json={"label": "Tỉnh", "options": OPTIONS[:2], "position": 5},
        headers={"If-Match": '"1"'},
    )
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'
    assert updated.json()["label"] == "Tỉnh"
    assert updated.json()["options"] == OPTIONS[:2]

    stale = await tenant.admin.patch(
        f"/v1/custom-fields/{field['id']}", json={"label": "X"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412


@pytest.mark.parametrize("fixed", [{"entity": "contact"}, {"key": "city"}, {"type": "text"}])
async def test_entity_key_and_type_are_fixed(tenant: Tenant, fixed: dict[str, str]) -> None:
    field = await create_custom_field(tenant.admin, "ticket", "note", "Ghi chú")
    response = await tenant.admin.patch(f"/v1/custom-fields/{field['id']}", json=fixed)
    assert response.status_code == 422
    assert response.json()["field"] == next(iter(fixed))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "Province"}, "key"),
        ({"key": "1st"}, "key"),
        ({"key": "k" * 65}, "key"),
        ({"label": ""}, "label"),
        ({"label": "x" * 201}, "label"),
        ({"type": "color"}, "type"),
        ({"entity": "agent"}, "entity"),
        ({"type": "dropdown"}, "options"),
        ({"type": "multiselect", "options": []}, "options"),
        ({"type": "text", "options": OPTIONS}, "options"),
        ({"type": "dropdown", "options": [*OPTIONS, OPTIONS[0]]}, "options"),
        ({"type": "dropdown", "options": [{"value": str(i), "label": "x"} for i in range(501)]}, "options"),
        ({"type": "dropdown", "options": [{"value": "", "label": "x"}]}, "options.0.value"),
        ({"type": "regex"}, "pattern"),
        ({"type": "regex", "pattern": "([a-z"}, "pattern"),
        ({"type": "regex", "pattern": "x" * 501}, "pattern"),
        ({"type": "text", "pattern": r"\d+"}, "pattern"),
        ({"position": -1}, "position"),
        ({"position": 10_001}, "position"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_invalid_definitions_are_422_naming_the_field(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    base = {"entity": "ticket", "key": "order_code", "label": "Mã đơn hàng", "type": "text"}
    response = await tenant.admin.post("/v1/custom-fields", json={**base, **body})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


async def test_a_pattern_too_slow_to_compile_is_refused(tenant: Tenant) -> None:
    response = await tenant.admin.post(
        "/v1/custom-fields",
        json={
            "entity": "ticket",
            "key": "code",
            "label": "Mã",
            "type": "regex",
            "pattern": "(a{9999}){9999}",
        },
    )
    assert response.status_code == 422
    assert response.json()["field"] == "pattern"


async def test_patch_keeps_options_and_pattern_consistent_with_the_type(tenant: Tenant) -> None:
    dropdown = await create_custom_field(
        tenant.admin, "ticket", "province", "Tỉnh", type="dropdown", options=OPTIONS
    )
    emptied = await tenant.admin.patch(f"/v1/custom-fields/{dropdown['id']}", json={"options": []})
    assert emptied.status_code == 422
    assert emptied.json()["field"] == "options"
    nulled = await tenant.admin.patch(f"/v1/custom-fields/{dropdown['id']}", json={"options": None})
    assert nulled.status_code == 422
    assert nulled.json()["field"] == "options"
    patterned = await tenant.admin.patch(f"/v1/custom-fields/{dropdown['id']}", json={"pattern": "x"})
    assert patterned.status_code == 422
    assert patterned.json()["field"] == "pattern"

    code = await create_custom_field(tenant.admin, "ticket", "code", "Mã", type="regex", pattern=r"\d+")
    broken = await tenant.admin.patch(f"/v1/custom-fields/{code['id']}", json={"pattern": "(("})
    assert broken.status_code == 422
    assert broken.json()["field"] == "pattern"
    changed = await tenant.admin.patch(f"/v1/custom-fields/{code['id']}", json={"pattern": r"[A-Z]+"})
    assert changed.status_code == 200
    assert changed.json()["pattern"] == "[A-Z]+"


async def test_keys_are_unique_per_entity(tenant: Tenant) -> None:
    await create_custom_field(tenant.admin, "ticket", "region", "Vùng")
    duplicate = await tenant.admin.post(
        "/v1/custom-fields", json={"entity": "ticket", "key": "region", "label": "Khác", "type": "text"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "key"
    await create_custom_field(tenant.admin, "contact", "region", "Vùng")


async def test_list_filters_sorts_by_position_and_paginates(tenant: Tenant) -> None:
    created = []
    for position in (30, 10, 20, 10, 0):
        created.append(
            await create_custom_field(
                tenant.admin, "ticket", f"field_{len(created)}", "Nhãn", position=position
            )
        )
    await create_custom_field(tenant.admin, "contact", "loyalty", "Hạng")
    inactive = await create_custom_field(tenant.admin, "ticket", "old", "Cũ", active=False)

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"entity": "ticket", "active": "true", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await tenant.viewer.get("/v1/custom-fields", params=params)).json()
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [f["id"] for f in seen] == [
        f["id"] for f in sorted(created, key=lambda field: (field["position"], field["id"]))
    ]

    only_inactive = (await tenant.viewer.get("/v1/custom-fields", params={"active": "false"})).json()
    assert [f["id"] for f in only_inactive["items"]] == [inactive["id"]]
    contact_fields = (await tenant.viewer.get("/v1/custom-fields", params={"entity": "contact"})).json()
    assert [f["key"] for f in contact_fields["items"]] == ["loyalty"]


async def test_a_field_in_use_cannot_be_deleted(tenant: Tenant) -> None:
    used = await create_custom_field(tenant.admin, "contact", "loyalty", "Hạng")
    unused = await create_custom_field(tenant.admin, "ticket", "loyalty", "Hạng")
    contact = await tenant.agent.post(
        "/v1/contacts", json={"name": "Nguyễn Thị Hoa", "custom_fields": {"loyalty": "Vàng"}}
    )
    assert contact.status_code == 201

    refused = await tenant.admin.delete(f"/v1/custom-fields/{used['id']}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "custom_field_in_use"

    # The ticket field of the same key has no values: only its own entity counts.
    assert (await tenant.admin.delete(f"/v1/custom-fields/{unused['id']}")).status_code == 204
    assert (await tenant.viewer.get(f"/v1/custom-fields/{unused['id']}")).status_code == 404

    cleared = await tenant.agent.patch(
        f"/v1/contacts/{contact.json()['id']}", json={"custom_fields": {"loyalty": None}}
    )
    assert cleared.status_code == 200
    assert (await tenant.admin.delete(f"/v1/custom-fields/{used['id']}")).status_code == 204


async def test_only_admins_write_definitions(tenant: Tenant) -> None:
    body = {"entity": "ticket", "key": "note", "label": "Ghi chú", "type": "text"}
    assert (await tenant.viewer.post("/v1/custom-fields", json=body)).status_code == 403
    assert (await tenant.agent.post("/v1/custom-fields", json=body)).status_code == 403
    assert (await tenant.anonymous.get("/v1/custom-fields")).status_code == 401
    field = await create(tenant.admin, "/v1/custom-fields", body)
    assert (
        await tenant.agent.patch(f"/v1/custom-fields/{field['id']}", json={"label": "X"})
    ).status_code == 403
    assert (await tenant.viewer.delete(f"/v1/custom-fields/{field['id']}")).status_code == 403


async def test_another_workspaces_field_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    field = await create_custom_field(tenant.admin, "ticket", "note", "Ghi chú")
    path = f"/v1/custom-fields/{field['id']}"
    assert (await other_tenant.viewer.get(path)).status_code == 404
    assert (await other_tenant.admin.patch(path, json={"label": "X"})).status_code == 404
    assert (await other_tenant.admin.delete(path)).status_code == 404
    assert (await other_tenant.viewer.get("/v1/custom-fields")).json()["items"] == []


async def test_contact_custom_fields_are_validated_against_the_definitions(tenant: Tenant) -> None:
    await create_custom_field(tenant.admin, "contact", "birthday", "Ngày sinh", type="date")
    await create_custom_field(tenant.admin, "ticket", "order_code", "Mã đơn")
    wrong_type = await tenant.agent.post(
        "/v1/contacts", json={"name": "Nguyễn Thị Hoa", "custom_fields": {"birthday": "12/05/1990"}}
    )
    assert wrong_type.status_code == 422
    assert wrong_type.json()["field"] == "custom_fields.birthday"
    other_entity = await tenant.agent.post(
        "/v1/contacts", json={"name": "Nguyễn Thị Hoa", "custom_fields": {"order_code": "DH1"}}
    )
    assert other_entity.status_code == 422
    assert other_entity.json()["field"] == "custom_fields.order_code"
    created = await tenant.agent.post(
        "/v1/contacts", json={"name": "Nguyễn Thị Hoa", "custom_fields": {"birthday": "1990-05-12"}}
    )
    assert created.status_code == 201
    assert created.json()["custom_fields"] == {"birthday": "1990-05-12"}


async def test_a_ticket_field_with_values_cannot_be_deleted(tenant: Tenant) -> None:
    field = await create_custom_field(tenant.admin, "ticket", "order_code", "Mã đơn")
    await create_ticket(tenant.agent, custom_fields={"order_code": "DH-2025-0001"})
    refused = await tenant.admin.delete(f"/v1/custom-fields/{field['id']}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "custom_field_in_use"
