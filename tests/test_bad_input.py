"""Every write operation, fed malformed, mistyped, oversized and unknown input, answers a 4xx problem.

The operations and their schemas come from the OpenAPI document; each mutation starts from the
operation's valid example body (tests/world.py) and breaks one thing.
"""

import base64
import json
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.api.constraints import describe_data_error
from app.channels.tasks import thread_due
from app.config import Settings
from app.db import Database
from app.kit.schemas import RequestModel
from tests.conftest import Tenant, make_client
from tests.factories import create_agent, rotate_token_secret
from tests.test_messaging_providers import (
    customer,
    hub_signature,
    messenger_channel,
    only_ticket,
    page_event,
    post_page_event,
)
from tests.world import CHANNEL_AUTH, EXAMPLES, World, build_world

# Values of a JSON type other than the property's, by the property's type.
WRONG_TYPES: dict[str, list[Any]] = {
    "string": [12345, {"an": "object"}, ["a list"], True],
    "integer": ["not a number", 1.5, {"an": "object"}, 10**30],
    "number": ["not a number", {"an": "object"}],
    "boolean": ["maybe", 42, {"an": "object"}],
    "array": ["not a list", {"an": "object"}, 7],
    "object": ["not an object", [1, 2], 7],
}


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def variants(schema: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a property's schema (anyOf/oneOf), each resolved."""
    schema = resolve(schema, document)
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return [resolve(option, document) for option in options]


def mutations(
    body: dict[str, Any], schema: dict[str, Any], document: dict[str, Any]
) -> Iterator[tuple[str, Any, bool]]:
    """(description, mutated body, whether it must be refused)."""
    yield "unknown field", {**body, "surely_not_a_field": 1}, True
    for name, property_schema in resolve(schema, document).get("properties", {}).items():
        options = variants(property_schema, document)
        types = {option.get("type") for option in options}
        nullable = "null" in types
        accepted = types - {"null"}
        if len(accepted) == 1 and (only := accepted.pop()) in WRONG_TYPES:
            for value in WRONG_TYPES[only]:
                yield f"{name} as {type(value).__name__}", {**body, name: value}, True
        if not nullable:
            yield (
                f"{name} as null",
                {**body, name: None},
                name in resolve(schema, document).get("required", []),
            )
        for option in options:
            if "maxLength" in option:
                yield f"{name} too long", {**body, name: "x" * (option["maxLength"] + 1)}, True
            if "maxItems" in option:
                item = option.get("items", {})
                filler = "x" if resolve(item, document).get("type") == "string" else 1
                yield f"{name} too many items", {**body, name: [filler] * (option["maxItems"] + 1)}, True
            if "enum" in option:
                yield f"{name} unknown enum value", {**body, name: "surely-not-a-value"}, True
            if option.get("type") == "object" and "properties" in option:
                nested = body.get(name) if isinstance(body.get(name), dict) else {}
                for description, mutated, refused in mutations(nested, option, document):
                    yield f"{name}.{description}", {**body, name: mutated}, refused


def assert_problem(response: httpx.Response, description: str) -> None:
    assert response.status_code < 500, f"{description}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", description
        problem = response.json()
        assert problem["status"] == response.status_code and problem["detail"], description


@pytest.fixture
async def world(tenant: Tenant) -> World:
    return await build_world(tenant)


async def test_every_write_operation_refuses_bad_input_with_a_problem(
    app: FastAPI, tenant: Tenant, world: World
) -> None:
    document = app.openapi()
    client = tenant.admin
    exercised = 0
    for path, methods in document["paths"].items():
        url = re.sub(r"{(\w+)}", lambda match: world[match.group(1)], path)
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            operation_id = operation["operationId"]
            assert operation_id in EXAMPLES, f"add an example body for {operation_id} to tests/world.py"
            schema = content["application/json"]["schema"]
            for raw in (b'{"subject": ', b"\xff\xfe", b"[]", b'"text"', b"42", b"null"):
                response = await client.request(
                    method.upper(), url, content=raw, headers={"Content-Type": "application/json"}
                )
                assert 400 <= response.status_code < 500, f"{operation_id} raw {raw!r}: {response.text}"
                assert_problem(response, f"{operation_id} raw {raw!r}")
            for description, body, refused in mutations(EXAMPLES[operation_id](world), schema, document):
                response = await client.request(method.upper(), url, json=body)
                assert_problem(response, f"{operation_id}: {description}")
                if refused:
                    assert response.status_code >= 400, f"{operation_id}: {description} was accepted"
                exercised += 1
    assert exercised > 200


async def test_malformed_ids_in_paths_and_queries_are_4xx(app: FastAPI, tenant: Tenant) -> None:
    document = app.openapi()
    for path, methods in document["paths"].items():
        if "{" not in path:
            continue
        url = re.sub(r"{(\w+)}", "not-a-uuid", path)
        for method in methods:
            response = await tenant.admin.request(method.upper(), url, json={})
            assert 400 <= response.status_code < 500, f"{method} {url}: {response.status_code}"
            assert response.headers["content-type"] == "application/problem+json"
    for query in (
        "limit=0",
        "limit=100000",
        "cursor=%00",
        "sort=nonsense",
        "created_after=yesterday",
        "q=" + "x" * 300,
    ):
        response = await tenant.viewer.get(f"/v1/tickets?{query}")
        assert 400 <= response.status_code < 500, query


async def test_every_operation_refuses_a_query_parameter_it_does_not_take_and_changes_nothing(
    app: FastAPI, tenant: Tenant, world: World
) -> None:
    """A misspelt filter (`?organisation_id=`, `?custom_fields.x=`) must not answer with everything, nor
    a write go ahead as if it had not been given."""
    document = app.openapi()
    exercised = 0
    for path, methods in document["paths"].items():
        url = re.sub(r"{(\w+)}", lambda match: world[match.group(1)], path)
        for method, operation in methods.items():
            operation_id = operation["operationId"]
            if "Channels: inbound" in operation["tags"]:
                continue  # providers' requests carry what the providers like
            before = await tenant.admin.get("/v1/events", params={"limit": 100})
            body = EXAMPLES[operation_id](world) if operation_id in EXAMPLES else None
            unknown = {"organisation_id": world["organization_id"]}
            response = await tenant.admin.request(method.upper(), url, params=unknown, json=body)
            where = f"{method.upper()} {path}"
            assert response.status_code == 400, f"{where}: {response.status_code} {response.text}"
            problem = response.json()
            assert problem["code"] == "unknown_query_parameter", where
            assert problem["field"] == "organisation_id", where
            after = await tenant.admin.get("/v1/events", params={"limit": 100})
            assert after.json() == before.json(), f"{where} changed something"
            exercised += 1
    assert exercised > 100


async def test_a_method_a_path_does_not_have_is_a_405_naming_every_one_it_has(tenant: Tenant) -> None:
    ticket = await tenant.agent.post("/v1/tickets", json={"subject": "Máy in không nhận lệnh"})
    for url, allowed in (
        (f"/v1/tickets/{ticket.json()['id']}", "DELETE, GET, PATCH"),
        ("/v1/tickets", "GET, POST"),
        ("/healthz", "GET"),
        ("/openapi.json", "GET, HEAD"),  # the router's own Allow, in its own order
    ):
        response = await tenant.admin.put(url, json={})
        assert response.status_code == 405, url
        assert sorted(response.headers["allow"].split(", ")) == allowed.split(", "), url
        assert response.json()["code"] == "method_not_allowed" and all(
            method in response.json()["detail"] for method in allowed.split(", ")
        )


# Texts PostgreSQL cannot store: it refuses NUL in text and JSON, and a lone surrogate (which the JSON
# escape \ud800 decodes to) has no UTF-8 form.
UNSTORABLE = {"NUL": "Giao\x00hàng", "lone surrogate": "Giao\ud800hàng"}


def as_json(body: Any) -> bytes:
    """The body with escapes for what UTF-8 cannot carry (a lone surrogate), as a client would send it."""
    return json.dumps(body, ensure_ascii=True).encode()


def names_field(response: httpx.Response, path: Sequence[str | int]) -> bool:
    """Whether the problem names the field at `path`: a tagged union adds its tag to the location, and
    names the object whose tag (`type`) is wrong. A key may itself hold dots (a view's `cf.<key>`)."""
    problem = response.json()
    fields = [problem.get("field") or "", *(error["field"] for error in problem.get("errors", []))]
    wanted = [str(part) for part in (path[:-1] if path[-1:] == ("type",) else path)]
    return any(_in_order(wanted, field.split(".")) or ".".join(wanted) in field for field in fields)


def _in_order(wanted: list[str], parts: list[str]) -> bool:
    remaining = iter(parts)
    return all(any(part == name for part in remaining) for name in wanted)


def replace_at(body: Any, path: Sequence[str | int], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    if isinstance(body, list):
        return [replace_at(item, rest, value) if index == head else item for index, item in enumerate(body)]
    return {**body, head: replace_at(body.get(head), rest, value)}


def text_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every string in an example body."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from text_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from text_paths(item, (*path, index))


def object_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every object in an example body, itself included."""
    if isinstance(value, dict):
        yield path
        for key, item in value.items():
            yield from object_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from object_paths(item, (*path, index))


def text_properties(schema: dict[str, Any], document: dict[str, Any]) -> Iterator[str]:
    """The body's top-level properties that take a string."""
    for name, property_schema in resolve(schema, document).get("properties", {}).items():
        if any(option.get("type") == "string" for option in variants(property_schema, document)):
            yield name


def unstorable_mutations(
    body: dict[str, Any], schema: dict[str, Any], document: dict[str, Any]
) -> Iterator[tuple[str, bytes, tuple[str | int, ...]]]:
    """(description, body, the path its problem must name) with one unstorable text each: every string
    of the example, every string property it leaves out, and a key in each of its objects."""
    for label, unstorable in UNSTORABLE.items():
        for path in text_paths(body):
            yield f"{label} in {path}", as_json(replace_at(body, path, unstorable)), path
        for name in text_properties(schema, document):
            if name not in body:
                yield f"{label} in {name}", as_json({**body, name: unstorable}), (name,)
        for path in object_paths(body):
            if path:
                mutated = replace_at(body, path, {unstorable: "x"})
                yield f"{label} in a key of {path}", as_json(mutated), path


async def test_every_text_of_every_body_refuses_nul_and_lone_surrogates_naming_the_field(
    app: FastAPI, tenant: Tenant, world: World
) -> None:
    document = app.openapi()
    exercised = 0
    for path, methods in document["paths"].items():
        url = re.sub(r"{(\w+)}", lambda match: world[match.group(1)], path)
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            operation_id = operation["operationId"]
            schema = content["application/json"]["schema"]
            client = tenant.anonymous if operation_id.startswith("receive_") else tenant.admin
            headers = {"Content-Type": "application/json"}
            if operation_id.startswith("receive_"):
                headers |= CHANNEL_AUTH
            body = EXAMPLES[operation_id](world)
            for description, raw, field in unstorable_mutations(body, schema, document):
                response = await client.request(method.upper(), url, content=raw, headers=headers)
                where = f"{operation_id}: {description}"
                assert_problem(response, where)
                assert 400 <= response.status_code < 500, f"{where} was accepted"
                assert names_field(response, field), f"{where}: {response.text}"
                exercised += 1
    assert exercised > 300


def parameter_url(path: str, world: World, parameter: dict[str, Any], raw: bytes) -> str:
    """The operation's URL with `raw` as the parameter's value (if it is in the path or the query)."""
    url = re.sub(
        r"{(\w+)}",
        lambda match: quote(raw, safe="") if match.group(1) == parameter["name"] else world[match.group(1)],
        path if parameter["in"] == "path" else path.replace("{" + parameter["name"] + "}", ""),
    )
    return url + (f"?{quote(parameter['name'])}={quote(raw)}" if parameter["in"] == "query" else "")


async def test_every_parameter_refuses_nul_naming_it(app: FastAPI, tenant: Tenant, world: World) -> None:
    """Path, query and header parameters of every operation. A lone surrogate cannot reach one (URLs
    are decoded as UTF-8 with replacement characters, headers as Latin-1): its bytes are no 5xx."""
    document = app.openapi()
    exercised = 0
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                for value, refused in (("Giao\x00hàng", True), ("Giao\ud800hàng", False)):
                    where = f"{operation['operationId']} {parameter['in']} {name} {value!r}"
                    raw = value.encode("utf-8", "surrogatepass")
                    url = parameter_url(path, world, parameter, raw)
                    headers = {name: raw} if parameter["in"] == "header" else {}
                    response = await tenant.admin.request(method.upper(), url, headers=headers)
                    assert_problem(response, where)
                    if refused and parameter["in"] == "path" and parameter["schema"].get("format") == "uuid":
                        # An id in a path matches UUIDs only: no operation has such a path.
                        assert response.status_code == 404, where
                    elif refused:
                        assert 400 <= response.status_code < 500, f"{where} was accepted"
                        field = response.json()["field"].lower()  # header names are case-insensitive
                        assert field in (name.lower(), f"{parameter['in']}.{name}".lower()), where
                    exercised += 1
    assert exercised > 100


# Date-times at the ends of the range (the first two cannot even be converted to UTC).
OUT_OF_RANGE_DATETIMES = {
    "0001-01-01T00:00:00+14:00": True,
    "9999-12-31T23:59:59-14:00": True,
    "0001-01-01T00:00:00Z": True,
    "9999-12-31T23:59:59Z": True,
    "0002-01-01T00:00:00Z": False,
    "9998-12-31T23:59:59Z": False,
}


def out_of_range_values(schema: dict[str, Any], document: dict[str, Any]) -> Iterator[tuple[Any, bool]]:
    """(value, whether it must be refused) past the ends of a property's or parameter's type."""
    for option in variants(schema, document):
        if option.get("type") == "integer":
            yield option.get("maximum", 2**63 - 1) + 1, True
            yield option.get("minimum", -(2**63)) - 1, True
            yield 2**31, "maximum" in option and option["maximum"] < 2**31
        elif option.get("type") == "number":
            yield 1e308, "maximum" in option and option["maximum"] < 1e308
        elif option.get("format") == "date-time":
            yield from OUT_OF_RANGE_DATETIMES.items()
            yield 1765065600, True  # a Unix time is no date-time
        elif option.get("format") == "date":
            yield 20429, True  # nor a number of days


def range_mutations(
    body: dict[str, Any], schema: dict[str, Any], document: dict[str, Any], path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any, bool]]:
    """(path, value, whether it must be refused) for each number and date-time property of the body,
    nested objects of the example included."""
    for name, property_schema in resolve(schema, document).get("properties", {}).items():
        for value, refused in out_of_range_values(property_schema, document):
            yield (*path, name), value, refused
        nested = body.get(name)
        for option in variants(property_schema, document):
            if isinstance(nested, dict) and "properties" in option:
                yield from range_mutations(nested, option, document, (*path, name))


async def test_numbers_and_date_times_out_of_range_are_refused_naming_the_field(
    app: FastAPI, tenant: Tenant, world: World
) -> None:
    document = app.openapi()
    exercised = 0
    for path, methods in document["paths"].items():
        url = re.sub(r"{(\w+)}", lambda match: world[match.group(1)], path)
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            operation_id = operation["operationId"]
            client = tenant.anonymous if operation_id.startswith("receive_") else tenant.admin
            headers = CHANNEL_AUTH if operation_id.startswith("receive_") else {}
            if "application/json" in content:
                body = EXAMPLES[operation_id](world)
                schema = content["application/json"]["schema"]
                for field, value, refused in range_mutations(body, schema, document):
                    where = f"{operation_id}: {'.'.join(map(str, field))} = {value!r}"
                    mutated = replace_at(body, field, value)
                    response = await client.request(method.upper(), url, json=mutated, headers=headers)
                    assert_problem(response, where)
                    if refused:
                        assert 400 <= response.status_code < 500, f"{where} was accepted"
                        assert names_field(response, field), f"{where}: {response.text}"
                    exercised += 1
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for value, refused in out_of_range_values(parameter["schema"], document):
                    where = f"{operation_id}: {parameter['name']} = {value!r}"
                    response = await client.request(
                        method.upper(), url, params={parameter["name"]: str(value)}, headers=headers
                    )
                    assert_problem(response, where)
                    if refused:
                        assert 400 <= response.status_code < 500, f"{where} was accepted"
                        assert response.json()["field"] in (parameter["name"], f"query.{parameter['name']}")
                    exercised += 1
    assert exercised > 100


@pytest.mark.parametrize(
    ("statement", "value"),
    [
        ("SELECT CAST(:value AS text)", "Giao\x00hàng"),
        ("SELECT CAST(:value AS text)", "Giao\ud800hàng"),
        ("SELECT CAST(:value AS jsonb)", '{"ma_don": "DH\\u0000"}'),
        ("SELECT CAST(:value AS jsonb)", '{"ma_don": "DH\\ud800"}'),
        ("SELECT CAST(:value AS integer)", 2**31),
        ("SELECT CAST(:value AS bigint)", 2**63),
    ],
)
async def test_data_the_database_refuses_is_described_as_a_422(
    db: Database, statement: str, value: Any
) -> None:
    """The last line of defence, for input that got past the schemas: never a 500."""
    async with db.sessionmaker() as session:
        with pytest.raises(DBAPIError) as refused:
            await session.execute(text(statement), {"value": value})
    assert describe_data_error(refused.value) is not None
    assert describe_data_error(refused.value)[0] == 422


async def test_the_comment_part_of_a_multipart_comment_refuses_unstorable_text(
    tenant: Tenant, world: World
) -> None:
    url = f"/v1/tickets/{world['ticket_id']}/comments/with-files"
    files = {"files": ("Hóa đơn.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")}
    nul = as_json({"body": UNSTORABLE["NUL"], "public": False}).decode()
    response = await tenant.agent.post(url, data={"comment": nul}, files=files)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "comment.body"
    # The part is read by a stricter parser, for which an escaped lone surrogate is no JSON.
    surrogate = as_json({"body": UNSTORABLE["lone surrogate"], "public": False}).decode()
    response = await tenant.agent.post(url, data={"comment": surrogate}, files=files)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_json"


async def test_unstorable_file_names_are_cleaned(tenant: Tenant) -> None:
    """A file's name is the client's suggestion: control characters are dropped from it, and the bytes
    of a lone surrogate are no surrogate once read (as Latin-1, or as UTF-8 with replacements)."""
    for raw_name, kept in ((b"H\x00oa don.pdf", "Hoa don.pdf"), (b"H\xed\xa0\x80oa.pdf", "H\xed\xa0oa.pdf")):
        body = (
            b'--b\r\nContent-Disposition: form-data; name="files"; filename="' + raw_name + b'"\r\n'
            b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n%%EOF\n\r\n--b--\r\n"
        )
        response = await tenant.agent.post(
            "/v1/uploads", content=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["items"][0]["filename"] == kept


async def test_provider_events_keep_their_message_with_unstorable_text_replaced(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    """Signed by the provider, an event is kept rather than refused (the provider would send it again and
    again): a NUL in it is dropped and a lone surrogate becomes U+FFFD, as in mail."""
    channel = await messenger_channel(tenant, "http://127.0.0.1:9")
    body = as_json(json.loads(page_event(channel, customer("m_1", "Giao\x00hàng chậm \ud83d"))))
    accepted = await post_page_event(tenant, channel, body, hub_signature(body))
    assert accepted.status_code == 200 and accepted.json() == {"stored": 1}, accepted.text
    await thread_due(app.state.db, settings, app.state.secret_box)
    assert (await only_ticket(tenant))["subject"] == "Giaohàng chậm \ufffd"


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "{soon}"},
        {"exp": True},
        {"exp": [1]},
        {"sub": 42},
        {"sub": "crm-42\x00"},
        {"sub": "crm-42\ud800"},
    ],
)
async def test_an_agent_token_with_claims_of_the_wrong_kind_is_a_401(
    app: FastAPI, tenant: Tenant, claims: dict[str, Any]
) -> None:
    await create_agent(tenant.admin, "crm-42")
    kid, secret = await rotate_token_secret(tenant.admin)
    soon = int(time.time()) + 600
    values = {"sub": "crm-42", "role": "agent", "exp": soon}
    values |= {
        name: value.format(soon=soon) if isinstance(value, str) and name == "exp" else value
        for name, value in claims.items()
    }
    token = jwt.encode(values, secret, algorithm="HS256", headers={"kid": kid})
    response = await make_client(app, token).get("/v1/agents/me")
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_request_integer_without_bounds_of_its_own_stays_within_a_bigint() -> None:
    """Every integer of the API has bounds today; one added without them still cannot overflow."""

    class Counted(RequestModel):
        count: int
        sizes: dict[str, int] = {}

    assert Counted(count=2**63 - 1, sizes={"a": -(2**63)}).count == 2**63 - 1
    for body, field in (
        ({"count": 2**63}, ("count",)),
        ({"count": 1, "sizes": {"a": -(2**63) - 1}}, ("sizes", "a")),
    ):
        with pytest.raises(ValidationError) as refused:
            Counted.model_validate(body)
        assert [error["loc"] for error in refused.value.errors()] == [field]


def forged_cursor(sort: str, *values: Any) -> str:
    payload = json.dumps({"s": sort, "v": list(values)}).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "sort", "values"),
    [
        ("/v1/tickets?sort=created_at", "created_at", ["2026-12-01", {"u": str(UUID(int=1))}]),
        ("/v1/tickets?sort=created_at", "created_at", [2**70, {"u": str(UUID(int=1))}]),
        (
            "/v1/tickets?sort=created_at",
            "created_at",
            [{"t": "0001-01-01T00:00:00+14:00"}, {"u": str(UUID(int=1))}],
        ),
        ("/v1/tickets?sort=created_at", "created_at", [{"t": "2026-12-01T00:00:00"}, "not an id"]),
        ("/v1/tickets?sort=priority", "priority", ["surely-not-a-priority", {"u": str(UUID(int=1))}]),
        ("/v1/statuses", "position", [2**31, {"u": str(UUID(int=1))}]),
        ("/v1/statuses", "position", [True, {"u": str(UUID(int=1))}]),
        ("/v1/contacts?sort=name", "name", ["Giao\x00hàng", {"u": str(UUID(int=1))}]),
        ("/v1/contacts?sort=name", "name", [[1], {"a": 1}]),
    ],
)
async def test_a_forged_cursor_holding_values_of_another_kind_is_a_400(
    tenant: Tenant, path: str, sort: str, values: list[Any]
) -> None:
    """A cursor comes back from the client: what it holds must be what its columns hold."""
    separator = "&" if "?" in path else "?"
    response = await tenant.viewer.get(f"{path}{separator}cursor={forged_cursor(sort, *values)}")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_cursor" and response.json()["field"] == "cursor"


async def test_a_number_past_a_float_in_a_free_form_value_is_refused_naming_it(tenant: Tenant) -> None:
    """JSON's 1e400 reads as infinity, which no JSON column holds: it was stored as null."""
    body = (
        b'{"name": "Quy tac", "events": ["ticket.created"], "actions": [{"type": "set_priority", '
        b'"priority": "high"}], "conditions": {"all": [{"field": "custom_fields.so_tien", '
        b'"operator": "equals", "value": 1e400}]}}'
    )
    response = await tenant.admin.post(
        "/v1/triggers", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert names_field(response, ("conditions", "all", 0, "value")), response.text


async def test_a_forged_feed_cursor_past_a_transaction_id_is_a_400(tenant: Tenant) -> None:
    from app.events.feed import FEED_CURSOR

    for transaction_id in (2**70, -1):
        after = forged_cursor(FEED_CURSOR, transaction_id, {"u": str(UUID(int=1))})
        response = await tenant.viewer.get(f"/v1/events?after={after}")
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_cursor" and response.json()["field"] == "after"
