"""Plain factory functions for tests: each creates one thing through the API and returns its JSON."""

import time
from collections.abc import Sequence
from typing import Any

import httpx
import jwt


async def create(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def create_ticket(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    return await create(client, "/v1/tickets", {"subject": "Giao hàng chậm", **fields})


async def create_agent(client: httpx.AsyncClient, external_id: str, **fields: Any) -> dict[str, Any]:
    body = {"external_id": external_id, "name": f"Nhân viên {external_id}", "role": "agent", **fields}
    return await create(client, "/v1/agents", body)


async def create_group(
    client: httpx.AsyncClient, name: str, member_ids: Sequence[str] = (), **fields: Any
) -> dict[str, Any]:
    group = await create(client, "/v1/groups", {"name": name, **fields})
    for agent_id in member_ids:
        response = await client.put(f"/v1/groups/{group['id']}/members/{agent_id}")
        assert response.status_code == 204, response.text
    return group


async def create_category(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    return await create(client, "/v1/categories", {"name": name, **fields})


async def create_custom_field(
    client: httpx.AsyncClient, entity: str, key: str, label: str, **fields: Any
) -> dict[str, Any]:
    body = {"entity": entity, "key": key, "label": label, "type": "text", **fields}
    return await create(client, "/v1/custom-fields", body)


async def create_contact(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    return await create(client, "/v1/contacts", {"name": "Nguyễn Thị Hoa", **fields})


async def status_id(client: httpx.AsyncClient, kind: str) -> str:
    statuses = (await client.get("/v1/statuses")).json()["items"]
    return next(status["id"] for status in statuses if status["kind"] == kind and status["is_default"])


async def rotate_token_secret(admin: httpx.AsyncClient) -> tuple[str, str]:
    """(kid, secret) of a new agent-token signing secret."""
    response = await admin.post("/v1/agent-token-secret/rotate")
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["secret"]


def mint_agent_token(kid: str, secret: str, external_id: str, role: str = "agent", ttl: int = 600) -> str:
    claims = {"sub": external_id, "role": role, "exp": int(time.time()) + ttl}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


async def create_webhook(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    """A webhook, with its signing secret (shown only when created)."""
    return await create(client, "/v1/webhooks", {"url": url, **fields})
