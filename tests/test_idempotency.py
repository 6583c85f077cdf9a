"""`Idempotency-Key`: replays for the credential that sent it only, after its role is checked, on one
connection per request, and never held by a request that is gone."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.api.routing import UnitOfWorkRoute
from app.kit.time import utcnow
from app.models.enums import Role
from app.routers import DOMAIN_ROUTERS
from tests.conftest import Tenant, make_client
from tests.factories import create
from tests.locks import holding_workspace_row, plain_url, wait_for_lock_waiter, wait_until_gone
from tests.processes import start_api
from tests.test_tenant_isolation import fill
from tests.world import EXAMPLES, MULTIPART_EXAMPLES, World, build_world

TICKET = {"subject": "Khách hỏi đơn DH-1042"}


async def ticket_count(client: httpx.AsyncClient) -> int:
    return (await client.get("/v1/tickets/counts?group_by=status_kind")).json()["total"]


async def test_the_same_key_and_body_replay_and_another_body_is_refused(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "crm-import-42"}
    first = await tenant.agent.post("/v1/tickets", json={"subject": "Đổi trả"}, headers=headers)
    replay = await tenant.agent.post("/v1/tickets", json={"subject": "Đổi trả"}, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers
    other = await tenant.agent.post("/v1/tickets", json={"subject": "Khác"}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert other.json()["field"] == "Idempotency-Key"
    assert await ticket_count(tenant.viewer) == 1


async def test_a_failed_request_leaves_its_key_free(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    failed = await tenant.agent.post(
        "/v1/tickets", json={"subject": "x", "priority": "bogus"}, headers=headers
    )
    assert failed.status_code == 422
    fixed = await tenant.agent.post("/v1/tickets", json={"subject": "x", "priority": "low"}, headers=headers)
    assert fixed.status_code == 201


async def test_a_key_too_long_is_refused(tenant: Tenant) -> None:
    response = await tenant.agent.post("/v1/tickets", json=TICKET, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 422 and response.json()["field"] == "Idempotency-Key"


async def test_another_credential_reusing_a_key_starts_its_own(app: FastAPI, tenant: Tenant) -> None:
    second_agent_key = await create(tenant.admin, "/v1/api-keys", {"name": "CRM thứ hai", "role": "agent"})
    second = make_client(app, second_agent_key["key"])
    headers = {"Idempotency-Key": "shared-by-accident"}
    first = await tenant.agent.post("/v1/tickets", json=TICKET, headers=headers)
    # Another body under the first credential's key: no 422 that would tell the key is in use.
    other_body = await second.post("/v1/tickets", json={"subject": "Khác hẳn"}, headers=headers)
    same_body = await second.post("/v1/tickets", json=TICKET, headers=headers)
    assert first.status_code == other_body.status_code == 201
    assert "idempotent-replayed" not in other_body.headers
    assert other_body.json()["id"] != first.json()["id"]
    # The second credential's own key now holds its own request.
    assert same_body.status_code == 422 and same_body.json()["code"] == "idempotency_key_reused"
    assert await ticket_count(tenant.viewer) == 2


async def test_an_expired_key_is_taken_over(database_url: str, tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "import-hom-qua"}
    first = await tenant.agent.post("/v1/tickets", json=TICKET, headers=headers)
    assert first.status_code == 201
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        await connection.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"
            " WHERE workspace_id = $1 AND key = $2",
            tenant.workspace_id,
            headers["Idempotency-Key"],
        )
    finally:
        await connection.close()
    again = await tenant.agent.post("/v1/tickets", json={"subject": "Lần nhập mới"}, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    replay = await tenant.agent.post("/v1/tickets", json={"subject": "Lần nhập mới"}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json()["id"] == again.json()["id"]


def _idempotent_routes() -> list[UnitOfWorkRoute]:
    return [
        route
        for router in DOMAIN_ROUTERS
        for route in router.routes
        if isinstance(route, UnitOfWorkRoute) and route.idempotent and route.least_role is not None
    ]


def _request(route: UnitOfWorkRoute, world: World) -> dict[str, Any]:
    if route.name in MULTIPART_EXAMPLES:
        files = {"files": ("anh.txt", "Xin chào".encode(), "text/plain")}
        return {"data": MULTIPART_EXAMPLES[route.name](world), "files": files}
    if any(
        getattr(field.field_info, "media_type", "").startswith("multipart")
        for field in route.dependant.body_params
    ):
        return {"files": {"files": ("anh.txt", "Xin chào".encode(), "text/plain")}}
    if route.body_field is not None:
        assert route.name in EXAMPLES, f"add an example body for {route.name} to tests/world.py"
        return {"json": EXAMPLES[route.name](world)}
    return {}


async def test_a_weaker_credential_replaying_a_stronger_ones_key_is_refused(
    app: FastAPI, tenant: Tenant
) -> None:
    world = await build_world(tenant)
    weaker = {Role.admin: [tenant.agent, tenant.viewer], Role.agent: [tenant.viewer]}
    succeeded: set[str] = set()
    for route in _idempotent_routes():
        if route.least_role not in weaker:
            continue
        key = {"Idempotency-Key": f"replay-{route.name}"}
        url = fill(route.path_format, world)
        original = await tenant.admin.post(url, headers=key, **_request(route, world))
        if original.status_code < 300:
            succeeded.add(route.name)
        for client in weaker[route.least_role]:
            replay = await client.post(url, headers=key, **_request(route, world))
            assert replay.status_code == 403, f"POST {route.path_format}: {replay.status_code} {replay.text}"
            assert replay.json()["code"] == "insufficient_role"
            assert "idempotent-replayed" not in replay.headers
            if original.status_code < 300 and original.content:
                assert original.text not in replay.text
    assert {"rotate_agent_token_secret", "create_api_key", "create_webhook", "create_ticket"} <= succeeded
    assert len(succeeded) > 20


async def test_a_request_refused_by_role_is_refused_before_its_body_is_read(tenant: Tenant) -> None:
    async def endless() -> Any:
        yield b'{"name": "x", "role": "admin"'
        await asyncio.Event().wait()  # a body that never ends: reading it would hang the request

    for client, refused in ((tenant.viewer, 403), (tenant.anonymous, 401)):
        response = await asyncio.wait_for(
            client.post("/v1/api-keys", content=endless(), headers={"Content-Type": "application/json"}),
            timeout=30,
        )
        assert response.status_code == refused


async def test_a_duplicate_of_a_running_request_is_a_409_then_replays(
    database_url: str, tenant: Tenant
) -> None:
    headers = {"Idempotency-Key": "double-click"}
    async with holding_workspace_row(database_url, tenant.workspace_id) as blocker:
        first = asyncio.create_task(tenant.agent.post("/v1/tickets", json=TICKET, headers=headers))
        await wait_for_lock_waiter(blocker)
        duplicate = await tenant.agent.post("/v1/tickets", json=TICKET, headers=headers)
        assert duplicate.status_code == 409
        assert duplicate.json()["code"] == "idempotency_in_progress"
        assert duplicate.headers["retry-after"]
    assert (await first).status_code == 201
    replay = await tenant.agent.post("/v1/tickets", json=TICKET, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == (await first).json()["id"]
    assert await ticket_count(tenant.viewer) == 1


async def test_concurrent_requests_with_one_key_create_one_ticket(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "five-clicks"}
    responses = await asyncio.gather(
        *(tenant.agent.post("/v1/tickets", json={"subject": "Một lần"}, headers=headers) for _ in range(5))
    )
    assert {response.status_code for response in responses} <= {201, 409}
    assert {response.json()["number"] for response in responses if response.status_code == 201} == {1}
    assert await ticket_count(tenant.viewer) == 1


async def test_four_times_the_pool_of_idempotent_creations_all_succeed(app: FastAPI, tenant: Tenant) -> None:
    settings = app.state.settings.db
    concurrent = 4 * (settings.pool_size + settings.max_overflow)
    responses = await asyncio.gather(
        *(
            tenant.agent.post(
                "/v1/tickets",
                json={"subject": f"Cuộc gọi {number}"},
                headers={"Idempotency-Key": f"call-{number}"},
            )
            for number in range(concurrent)
        )
    )
    assert [response.status_code for response in responses] == [201] * concurrent
    assert await ticket_count(tenant.viewer) == concurrent


async def test_a_key_whose_use_is_being_recorded_is_not_waited_for(
    database_url: str, app: FastAPI, tenant: Tenant
) -> None:
    """Another request holding the key's row (stamping its last use) never holds this one up."""
    first = await tenant.agent.post("/v1/tickets", json=TICKET)
    assert first.status_code == 201
    holder = await asyncpg.connect(plain_url(database_url))
    try:
        # The key's last use is long ago, so these requests stamp it, while another holds its row.
        await holder.execute(
            "UPDATE api_keys SET last_used_at = now() - interval '1 hour'"
            " WHERE workspace_id = $1 AND name = 'agent'",
            tenant.workspace_id,
        )
        async with holder.transaction():
            await holder.execute(
                "SELECT 1 FROM api_keys WHERE workspace_id = $1 AND name = 'agent' FOR UPDATE",
                tenant.workspace_id,
            )
            responses = await asyncio.wait_for(
                asyncio.gather(*(tenant.agent.post("/v1/tickets", json=TICKET) for _ in range(3))), timeout=20
            )
            assert [response.status_code for response in responses] == [201] * 3
    finally:
        await holder.close()
    # Once the row is free, the use is stamped.
    await tenant.agent.get("/v1/tickets")
    keys = (await tenant.admin.get("/v1/api-keys")).json()["items"]
    [agent_key] = [key for key in keys if key["name"] == "agent"]
    assert datetime.fromisoformat(agent_key["last_used_at"]) > utcnow() - timedelta(minutes=30)


async def test_a_key_held_by_a_killed_process_is_free_for_the_retry(
    database_url: str, tenant: Tenant
) -> None:
    """The API process dies while its request waits in the database; the client's retry with the same
    key is served as soon as the dead request's backend has given up, not once a claim expires."""
    headers = {"Idempotency-Key": "crash-retry", "Authorization": tenant.agent.headers["Authorization"]}
    api = start_api(database_url)
    try:
        await api.ready()
        async with holding_workspace_row(database_url, tenant.workspace_id) as blocker:
            async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
                in_flight = asyncio.create_task(client.post("/v1/tickets", json=TICKET))
                waiting = await wait_for_lock_waiter(blocker)
                api.kill()
                with pytest.raises(httpx.TransportError):
                    await in_flight
            # Its backend notices the dead client although its statement still waits on the lock.
            await wait_until_gone(blocker, waiting)
    finally:
        api.stop()
    retry = await tenant.agent.post("/v1/tickets", json=TICKET, headers={"Idempotency-Key": "crash-retry"})
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert await ticket_count(tenant.viewer) == 1
