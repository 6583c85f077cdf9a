import time

import jwt
from fastapi import FastAPI

from tests.conftest import Tenant, make_client
from tests.factories import create_agent, mint_agent_token, rotate_token_secret


async def test_api_key_is_shown_once_listed_by_prefix_and_revocable(app: FastAPI, tenant: Tenant) -> None:
    created = await tenant.admin.post("/v1/api-keys", json={"name": "CRM đồng bộ", "role": "agent"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("hd_") and len(key) >= 40
    assert created.json()["prefix"] == key[:10]
    client = make_client(app, key)
    assert (await client.get("/v1/tickets")).status_code == 200

    listed = (await tenant.admin.get("/v1/api-keys")).json()["items"]
    entry = next(item for item in listed if item["id"] == created.json()["id"])
    assert "key" not in entry
    assert entry["last_used_at"] is not None
    assert key not in (await tenant.admin.get("/v1/api-keys")).text

    assert (await tenant.admin.delete(f"/v1/api-keys/{entry['id']}")).status_code == 204
    refused = await client.get("/v1/tickets")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    revoked = (await tenant.admin.get("/v1/api-keys?include_revoked=true")).json()["items"]
    assert any(item["id"] == entry["id"] and item["revoked_at"] for item in revoked)


async def test_only_admins_manage_keys(tenant: Tenant) -> None:
    assert (await tenant.agent.get("/v1/api-keys")).status_code == 403
    assert (await tenant.agent.post("/v1/api-keys", json={"name": "x", "role": "admin"})).status_code == 403
    assert (await tenant.agent.post("/v1/agent-token-secret/rotate")).status_code == 403


async def test_malformed_credentials_are_401(tenant: Tenant, app: FastAPI) -> None:
    for token in ("hd_not-a-key", "not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.x"):
        response = await make_client(app, token).get("/v1/tickets")
        assert response.status_code == 401, token
        assert response.headers["content-type"] == "application/problem+json"


async def test_agent_token_acts_as_the_agent(app: FastAPI, tenant: Tenant) -> None:
    agent = await create_agent(tenant.admin, "crm-501", name="Lê Minh Tuấn")
    kid, secret = await rotate_token_secret(tenant.admin)
    client = make_client(app, mint_agent_token(kid, secret, "crm-501"))
    me = await client.get("/v1/agents/me")
    assert me.status_code == 200 and me.json()["id"] == agent["id"]
    ticket = (await client.post("/v1/tickets", json={"subject": "Khách gọi lại"})).json()
    history = (await client.get(f"/v1/tickets/{ticket['id']}/history")).json()["items"]
    assert {(entry["actor_type"], entry["actor_id"]) for entry in history} == {("agent", agent["id"])}


async def test_agent_token_role_never_exceeds_the_agents_role(app: FastAPI, tenant: Tenant) -> None:
    await create_agent(tenant.admin, "crm-viewer", role="viewer")
    kid, secret = await rotate_token_secret(tenant.admin)
    client = make_client(app, mint_agent_token(kid, secret, "crm-viewer", role="admin"))
    assert (await client.get("/v1/tickets")).status_code == 200
    assert (await client.post("/v1/tickets", json={"subject": "x"})).status_code == 403


async def test_invalid_agent_tokens_are_refused(app: FastAPI, tenant: Tenant) -> None:
    await create_agent(tenant.admin, "crm-1")
    await create_agent(tenant.admin, "crm-off", active=False)
    kid, secret = await rotate_token_secret(tenant.admin)
    now = int(time.time())
    tokens = {
        "expired": mint_agent_token(kid, secret, "crm-1", ttl=-3600),
        "too long-lived": mint_agent_token(kid, secret, "crm-1", ttl=7 * 24 * 3600),
        "wrong secret": mint_agent_token(kid, "another-secret-of-at-least-32-bytes", "crm-1"),
        "unknown agent": mint_agent_token(kid, secret, "nobody"),
        "inactive agent": mint_agent_token(kid, secret, "crm-off"),
        "unknown role": mint_agent_token(kid, secret, "crm-1", role="owner"),
        "no exp": jwt.encode(
            {"sub": "crm-1", "role": "agent"}, secret, algorithm="HS256", headers={"kid": kid}
        ),
        "none algorithm": jwt.encode(
            {"sub": "crm-1", "role": "agent", "exp": now + 60}, None, algorithm="none", headers={"kid": kid}
        ),
        "no kid": jwt.encode({"sub": "crm-1", "role": "agent", "exp": now + 60}, secret, algorithm="HS256"),
    }
    for name, token in tokens.items():
        response = await make_client(app, token).get("/v1/tickets")
        assert response.status_code == 401, name


async def test_rotated_secret_keeps_old_tokens_valid_for_the_grace_period(
    app: FastAPI, tenant: Tenant
) -> None:
    await create_agent(tenant.admin, "crm-2")
    old_kid, old_secret = await rotate_token_secret(tenant.admin)
    rotated = await tenant.admin.post("/v1/agent-token-secret/rotate")
    assert rotated.json()["previous_secret_expires_at"] is not None
    current = (await tenant.admin.get("/v1/agent-token-secret")).json()
    assert current["id"] == rotated.json()["id"] and "secret" not in current
    old_token = mint_agent_token(old_kid, old_secret, "crm-2")
    assert (await make_client(app, old_token).get("/v1/tickets")).status_code == 200


async def test_a_token_cannot_reach_another_workspace(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    await create_agent(tenant.admin, "shared-id")
    await create_agent(other_tenant.admin, "shared-id")
    kid, secret = await rotate_token_secret(tenant.admin)
    client = make_client(app, mint_agent_token(kid, secret, "shared-id"))
    workspace = (await client.get("/v1/workspace")).json()
    assert workspace["id"] == str(tenant.workspace_id)
