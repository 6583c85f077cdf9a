"""Browsers: CORS for the pages of allowed origins, and stream tokens that let a browser's EventSource
(which sends no Authorization header) open the live stream, and nothing else."""

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import time_machine
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select

from app.config import CorsSettings, Settings
from app.db import Database
from app.models import IdempotencyKey
from tests.conftest import Tenant, create_tenant, make_client, running_app
from tests.factories import create_agent, create_group, create_ticket, mint_agent_token, rotate_token_secret
from tests.test_stream import sse_messages

CRM = "https://crm.anhduong.vn"
STRANGER = "https://lua-dao.example"
TICKET = "/v1/tickets/00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
async def cors_app(database_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    """An app of its own: CORS for two origins, and an agent-token secret retired at once when
    rotated."""
    cors = CorsSettings(allowed_origins=[CRM, "http://localhost:5173"])
    special = settings.model_copy(update={"cors": cors, "agent_token_secret_grace_minutes": 0})
    async with running_app(special, database_url) as application:
        yield application


def preflight(method: str, headers: str, origin: str = CRM) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_a_preflight_from_an_allowed_origin_is_answered_before_routing(cors_app: FastAPI) -> None:
    anonymous = make_client(cors_app)
    # The path takes no OPTIONS, and the preflight carries no credential: neither 405 nor 401.
    answer = await anonymous.options(
        TICKET, headers=preflight("PATCH", "authorization, if-match, content-type")
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == CRM
    assert "PATCH" in answer.headers["access-control-allow-methods"]
    allowed = {name.strip().lower() for name in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "if-match", "if-none-match", "idempotency-key", "x-request-id"} <= allowed
    assert answer.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in answer.headers
    assert "Origin" in answer.headers["vary"]


async def test_a_preflight_from_another_origin_or_for_another_header_is_refused(cors_app: FastAPI) -> None:
    anonymous = make_client(cors_app)
    stranger = await anonymous.options("/v1/tickets", headers=preflight("GET", "authorization", STRANGER))
    assert stranger.status_code == 400
    assert stranger.headers["content-type"] == "application/problem+json"
    assert stranger.json()["code"] == "cors_refused"
    assert "access-control-allow-origin" not in stranger.headers
    unknown_header = await anonymous.options("/v1/tickets", headers=preflight("GET", "authorization, x-hack"))
    assert unknown_header.status_code == 400
    assert unknown_header.json()["detail"] == "Disallowed CORS headers"


async def test_answers_to_an_allowed_origin_say_so_and_expose_their_headers(cors_app: FastAPI) -> None:
    tenant = await create_tenant(cors_app)
    answer = await tenant.viewer.get("/v1/tickets", headers={"Origin": CRM})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == CRM
    assert "Origin" in answer.headers["vary"]
    exposed = {name.strip() for name in answer.headers["access-control-expose-headers"].split(",")}
    assert {"ETag", "Location", "X-Request-Id", "Retry-After", "RateLimit-Remaining"} <= exposed
    assert {"RateLimit-Limit", "RateLimit-Reset", "Idempotent-Replayed"} <= exposed
    # Served to another origin too (CORS is the browser's to enforce), but not allowed to read it.
    stranger = await tenant.viewer.get("/v1/tickets", headers={"Origin": STRANGER})
    assert stranger.status_code == 200
    assert "access-control-allow-origin" not in stranger.headers


async def test_a_refusal_reaches_the_page_of_an_allowed_origin(cors_app: FastAPI) -> None:
    refused = await make_client(cors_app).get("/v1/tickets", headers={"Origin": CRM})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["access-control-allow-origin"] == CRM
    assert "X-Request-Id" in refused.headers["access-control-expose-headers"]
    assert refused.json()["request_id"] == refused.headers["x-request-id"]


async def test_without_allowed_origins_there_are_no_cors_headers(app: FastAPI, tenant: Tenant) -> None:
    answer = await tenant.viewer.get("/v1/tickets", headers={"Origin": CRM})
    assert answer.status_code == 200
    assert not [name for name in answer.headers if name.startswith("access-control-")]
    refused = await tenant.anonymous.options("/v1/tickets", headers=preflight("GET", "authorization"))
    assert refused.status_code == 405
    assert not [name for name in refused.headers if name.startswith("access-control-")]


def test_allowed_origins_are_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_CORS_ALLOWED_ORIGINS", "https://CRM.anhduong.vn:443, http://localhost:5173")
    assert Settings().cors.allowed_origins == [CRM, "http://localhost:5173"]
    for wrong in (
        "crm.anhduong.vn",
        f"{CRM}/",
        f"{CRM}/app",
        "ftp://crm.anhduong.vn",
        f"{CRM}:99999",
        f"*,{CRM}",
    ):
        with pytest.raises(ValidationError):
            CorsSettings(allowed_origins=wrong)
    assert CorsSettings(allowed_origins="*").allowed_origins == ["*"]
    # Any site could then act with its visitors' cookies.
    with pytest.raises(ValidationError, match="cannot go with"):
        CorsSettings(allowed_origins="*", allow_credentials=True)


# The stream token.


async def mint(client: httpx.AsyncClient) -> str:
    answer = await client.post("/v1/events/stream-token")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()["token"]


@asynccontextmanager
async def token_stream(
    live_url: str, token: str, params: dict[str, Any] | None = None
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """The stream opened as a browser's EventSource opens it: no Authorization, the token in the URL.
    Yields its messages (`event`, `id`, `data`), keep-alive comments skipped."""
    async with (
        httpx.AsyncClient(base_url=live_url, timeout=10) as client,
        client.stream("GET", "/v1/events/stream", params={**(params or {}), "token": token}) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        yield sse_messages(response)


async def next_ticket_ids(messages: AsyncIterator[dict[str, Any]], count: int) -> list[str]:
    async with asyncio.timeout(10):
        received = [await anext(messages) for _ in range(count)]
    return [json.loads(message["data"])["data"]["ticket"]["id"] for message in received]


async def test_a_viewer_keys_token_opens_the_stream_of_its_workspace(
    live_url: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    answer = await tenant.viewer.post("/v1/events/stream-token")
    assert answer.status_code == 200
    expires_at = datetime.fromisoformat(answer.json()["expires_at"])
    assert timedelta(seconds=290) < expires_at - datetime.now(UTC) <= timedelta(seconds=300)
    async with token_stream(live_url, answer.json()["token"], {"types": "ticket.created"}) as messages:
        await create_ticket(other_tenant.agent, subject="Của cửa hàng khác")
        ticket = await create_ticket(tenant.agent, subject="Khách hỏi giờ mở cửa")
        assert await next_ticket_ids(messages, 1) == [ticket["id"]], "nothing of the other came first"


async def test_an_agent_tokens_token_shows_what_the_agent_sees(
    app: FastAPI, live_url: str, tenant: Tenant
) -> None:
    restricted = await create_agent(tenant.admin, "crm-trinh-duyet", ticket_access="restricted")
    group = await create_group(tenant.admin, "Nhóm trình duyệt", [restricted["id"]])
    kid, secret = await rotate_token_secret(tenant.admin)
    token = await mint(make_client(app, mint_agent_token(kid, secret, "crm-trinh-duyet")))
    async with token_stream(live_url, token, {"types": "ticket.created"}) as messages:
        await create_ticket(tenant.agent, subject="Không thuộc nhóm")
        visible = await create_ticket(tenant.agent, subject="Của nhóm", group_id=group["id"])
        assert await next_ticket_ids(messages, 1) == [visible["id"]]


async def test_a_stream_token_opens_nothing_else(app: FastAPI, tenant: Tenant) -> None:
    token = await mint(tenant.viewer)
    anonymous = make_client(app)
    assert (await anonymous.get("/v1/tickets", params={"token": token})).status_code == 401
    assert (await anonymous.post("/v1/events/stream-token", params={"token": token})).status_code == 401
    as_bearer = await make_client(app, token).get("/v1/events")
    assert as_bearer.status_code == 401
    assert "stream" in as_bearer.json()["detail"]
    # Nor the stream itself as a bearer credential: the token goes in the URL, where EventSource puts it.
    assert (await make_client(app, token).get("/v1/events/stream")).status_code == 401


async def opens(app: FastAPI, token: str) -> int:
    """The stream's status for `token` without streaming: an unknown type is refused (400) only once the
    token was accepted, before the stream starts."""
    answer = await make_client(app).get("/v1/events/stream", params={"token": token, "types": "ticket.lost"})
    if answer.status_code == 401:
        assert answer.headers["content-type"] == "application/problem+json"
    return answer.status_code


async def test_a_stream_token_expires(app: FastAPI, tenant: Tenant) -> None:
    token = await mint(tenant.viewer)
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=290), tick=False):
        assert await opens(app, token) == 400
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=301), tick=False):
        assert await opens(app, token) == 401
        answer = await make_client(app).get("/v1/events/stream", params={"token": token})
        assert "expired" in answer.json()["detail"]


async def test_a_tampered_or_forged_stream_token_is_refused(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    token = await mint(tenant.viewer)
    assert await opens(app, token) == 400
    prefix, _, jwt_part = token.partition("_")
    header, payload, signature = jwt_part.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["ws"] = str(other_tenant.workspace_id)
    other_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    forged_elsewhere = jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256")
    for wrong in (
        f"{prefix}_{header}.{other_payload}.{signature}",
        f"{prefix}_{header}.{payload}.{flipped}",
        f"{prefix}_{forged_elsewhere}",
        jwt_part,
        "",
    ):
        assert await opens(app, wrong) == 401, wrong


async def test_a_stream_token_dies_with_its_credential(app: FastAPI, tenant: Tenant) -> None:
    created = await tenant.admin.post("/v1/api-keys", json={"name": "Màn hình tổng đài", "role": "viewer"})
    key = created.json()
    token = await mint(make_client(app, key["key"]))
    assert await opens(app, token) == 400
    assert (await tenant.admin.delete(f"/v1/api-keys/{key['id']}")).status_code == 204
    assert await opens(app, token) == 401

    agent = await create_agent(tenant.admin, "crm-nghi-viec")
    kid, secret = await rotate_token_secret(tenant.admin)
    agent_token = await mint(make_client(app, mint_agent_token(kid, secret, "crm-nghi-viec")))
    assert await opens(app, agent_token) == 400
    await tenant.admin.patch(f"/v1/agents/{agent['id']}", json={"active": False})
    assert await opens(app, agent_token) == 401


async def test_a_stream_token_dies_with_the_secret_of_its_agent_token(cors_app: FastAPI) -> None:
    tenant = await create_tenant(cors_app)
    await create_agent(tenant.admin, "crm-xoay-khoa")
    kid, secret = await rotate_token_secret(tenant.admin)
    token = await mint(make_client(cors_app, mint_agent_token(kid, secret, "crm-xoay-khoa")))
    assert await opens(cors_app, token) == 400
    await rotate_token_secret(tenant.admin)
    assert await opens(cors_app, token) == 401


async def test_a_stream_token_needs_what_the_stream_needs(app: FastAPI, tenant: Tenant) -> None:
    scoped = await tenant.admin.post(
        "/v1/api-keys", json={"name": "Chỉ đọc phiếu", "role": "viewer", "scopes": ["tickets:read"]}
    )
    refused = await make_client(app, scoped.json()["key"]).post("/v1/events/stream-token")
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    assert (await tenant.anonymous.post("/v1/events/stream-token")).status_code == 401


async def test_a_stream_token_is_neither_logged_nor_stored(
    app: FastAPI, db: Database, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app")
    # An Idempotency-Key would store the answer with the request: the operation does not take one.
    first = await tenant.viewer.post("/v1/events/stream-token", headers={"Idempotency-Key": "trinh-duyet-1"})
    token = first.json()["token"]
    assert await opens(app, token) == 400
    assert await opens(app, token + "x") == 401
    logged = [str(record.__dict__) for record in caplog.records]
    assert any("/v1/events/stream" in line for line in logged)
    assert not [line for line in logged if token in line]
    async with db.sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).where(
                IdempotencyKey.workspace_id == tenant.workspace_id, IdempotencyKey.key == "trinh-duyet-1"
            )
        )
    assert stored == 0
