"""Every route of the app, called by another workspace with this workspace's ids, finds nothing.

The routes come from the OpenAPI document, so a route added later is walked without editing
this test; a path parameter or a request body it cannot fill makes the test fail with a message.
"""

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Tenant
from tests.world import CHANNEL_AUTH, EXAMPLES, MULTIPART_EXAMPLES, RESOURCE_KEYS, World, build_world

PUBLIC_OPERATIONS = {"health"}
# Customers' operations take no credential: a token in the path opens one ticket (or one contact's list),
# whoever sends it (tests/test_portal.py holds each token to its own ticket and workspace).
PORTAL_TAG = "Customer portal"
# Authenticated by a channel's token or its provider's signature, not by a workspace's key: any key is
# refused (401, 403) before the channel is looked at, whichever workspace it belongs to
# (tests/test_channels.py and tests/test_messaging_providers.py have the rest).
CHANNEL_OPERATIONS = {
    "receive_message": 401,
    "receive_call": 401,
    "upload_channel_files": 401,
    "verify_messenger": 403,
    "receive_messenger": 403,
    "receive_zalo": 403,
    "receive_email": 401,
}
# Query parameters that take an id of the world, by the world key they take.
QUERY_REFERENCES = {
    "agent_id": "agent_id",
    "assignee": "agent_id",
    "group": "group_id",
    "group_id": "group_id",
    "category_id": "category_id",
    "parent": "ticket_id",
    "parent_id": "category_id",
    "requester_id": "contact_id",
    "organization_id": "organization_id",
    "status_id": "status_id",
}


class Recorder(dict):
    """A world that remembers which keys an example body used."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.used.add(key)
        return super().__getitem__(key)


def is_stream(operation: dict[str, Any]) -> bool:
    return "text/event-stream" in operation.get("responses", {}).get("200", {}).get("content", {})


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation but the public ones and the endless streams (tests/test_stream.py has those)."""
    document = app.openapi()
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if operation["operationId"] not in PUBLIC_OPERATIONS
        and PORTAL_TAG not in operation["tags"]
        and not is_stream(operation)
    ]


def fill(path: str, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in world, f"add a `{name}` to tests/world.py so that {path} can be walked"
        return world[name]

    return re.sub(r"{(\w+)}", value, path)


def body_for(operation: dict[str, Any], world: World) -> dict[str, Any]:
    """The request's body, as keyword arguments of httpx: JSON, or a multipart form with a file."""
    if "requestBody" not in operation:
        return {}
    operation_id = operation["operationId"]
    if "multipart/form-data" in operation["requestBody"]["content"]:
        if operation_id in MULTIPART_EXAMPLES:
            files = {"files": ("anh.txt", "Xin chào".encode(), "text/plain")}
            return {"data": MULTIPART_EXAMPLES[operation_id](world), "files": files}
        return {"files": {"files": ("anh.txt", "Xin chào".encode(), "text/plain")}}
    assert operation_id in EXAMPLES, f"add an example body for {operation_id} to tests/world.py"
    return {"json": EXAMPLES[operation_id](world)}


def without_live_figures(ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket without what moves with the clock (the time its SLA metrics have counted)."""
    live = ("elapsed_minutes", "remaining_minutes")
    metrics = [{k: v for k, v in metric.items() if k not in live} for metric in ticket["sla"]["metrics"]]
    return {**ticket, "sla": {**ticket["sla"], "metrics": metrics}}


def foreign_ids(world: World) -> list[str]:
    return [world[key] for key in RESOURCE_KEYS]


def assert_no_leak(response: httpx.Response, world: World) -> None:
    for foreign in foreign_ids(world):
        assert foreign not in response.text, (
            f"{response.request.method} {response.request.url} leaked {foreign}"
        )


@pytest.fixture
async def worlds(tenant: Tenant, other_tenant: Tenant) -> tuple[World, World]:
    return await build_world(tenant), await build_world(other_tenant)


async def test_paths_with_another_workspaces_ids_are_404(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, worlds: tuple[World, World]
) -> None:
    theirs, ours = worlds
    caller = other_tenant.admin
    before = without_live_figures((await tenant.admin.get(f"/v1/tickets/{theirs['ticket_id']}")).json())
    walked = 0
    for method, path, operation in operations(app):
        names = re.findall(r"{(\w+)}", path)
        if not names:
            continue
        # All ids foreign, then each id foreign on its own beside the caller's own ids.
        mixes = [dict(theirs)] + ([{**ours, name: theirs[name]} for name in names] if len(names) > 1 else [])
        for world in mixes:
            url = fill(path, world)
            response = await caller.request(method, url, **body_for(operation, ours))
            expected = CHANNEL_OPERATIONS.get(operation["operationId"], 404)
            assert response.status_code == expected, f"{method} {url}: {response.status_code} {response.text}"
            assert response.headers["content-type"] == "application/problem+json"
            assert_no_leak(response, theirs)
            walked += 1
    assert walked > 20
    # Nothing of the first workspace was changed or removed by the walk.
    ticket = (await tenant.admin.get(f"/v1/tickets/{theirs['ticket_id']}")).json()
    assert without_live_figures(ticket) == before
    assert (await tenant.admin.get(f"/v1/groups/{theirs['group_id']}/members")).json()["items"]


async def test_lists_and_filters_never_show_another_workspaces_rows(
    app: FastAPI, other_tenant: Tenant, worlds: tuple[World, World]
) -> None:
    theirs, _ = worlds
    caller = other_tenant.admin
    for method, path, operation in operations(app):
        if method != "GET" or "{" in path:
            continue
        # A required query (search's `q`) gets words every world's tickets hold.
        required = {
            parameter["name"]: "giao hàng chậm"
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "query" and parameter.get("required")
        }
        response = await caller.get(path, params=required)
        assert response.status_code in (200, 404), f"GET {path}: {response.status_code}"
        assert_no_leak(response, theirs)
        if required:
            assert response.json()["items"], f"GET {path}: the caller's own world has matches"
        for parameter in operation.get("parameters", []):
            key = QUERY_REFERENCES.get(parameter["name"])
            if parameter["in"] != "query" or key is None:
                continue
            filtered = await caller.get(path, params={**required, parameter["name"]: theirs[key]})
            assert filtered.status_code < 500
            assert_no_leak(filtered, theirs)
            if filtered.status_code == 200 and "items" in filtered.json():
                assert filtered.json()["items"] == [], f"GET {path}?{parameter['name']}=<foreign id>"


async def test_writes_referencing_another_workspaces_ids_are_refused(
    app: FastAPI, other_tenant: Tenant, worlds: tuple[World, World]
) -> None:
    theirs, ours = worlds
    checked = 0
    for method, path, operation in operations(app):
        if "requestBody" not in operation or operation["operationId"] not in EXAMPLES:
            continue
        # A channel's requests come with its token (the worlds' channels share it).
        by_channel = operation["operationId"] in CHANNEL_OPERATIONS
        caller = other_tenant.anonymous if by_channel else other_tenant.admin
        headers = CHANNEL_AUTH if by_channel else {}
        recorder = Recorder(ours)
        EXAMPLES[operation["operationId"]](recorder)
        for key in sorted(recorder.used & set(RESOURCE_KEYS)):
            body = EXAMPLES[operation["operationId"]]({**ours, key: theirs[key]})
            response = await caller.request(method, fill(path, ours), json=body, headers=headers)
            where = f"{method} {path} with a foreign {key}: {response.status_code} {response.text}"
            assert response.status_code == 422, where
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "unknown_reference" and response.json()["field"], where
            assert_no_leak(response, theirs)
            checked += 1
    assert checked > 15
