"""Every write operation, fed malformed, mistyped, oversized and unknown input, answers a 4xx problem.

The operations and their schemas come from the OpenAPI document; each mutation starts from the
operation's valid example body (tests/world.py) and breaks one thing.
"""

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Tenant
from tests.world import EXAMPLES, World, build_world

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
