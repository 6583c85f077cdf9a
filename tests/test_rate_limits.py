"""Rate limits: per credential and per workspace (a workspace may have its own), per client address for
refused credentials, per channel for what channels receive; the RateLimit headers of every answer, and
the 429 that does nothing.

The tests run against an app of their own with limits they reach in a few requests, and a clock they
move themselves, so that a bucket refills when the test says so.
"""

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from app.api.rate_limits import MAX_BUCKETS, RateLimited, RateLimiter
from app.config import RateLimitSettings, Settings
from tests.conftest import Tenant, create_tenant, running_app
from tests.factories import create

LIMITS = RateLimitSettings(
    # A credential: 3 at once, then one a second.
    credential_per_minute=60,
    credential_burst=3,
    # A workspace: 5 at once, then two a second.
    workspace_per_minute=120,
    workspace_burst=5,
    failed_auth_per_minute=60,
    failed_auth_burst=3,
    channel_per_minute=60,
    channel_burst=3,
    workspace_cache_seconds=60,
)
CHAT_TOKEN = "token-kenh-chat-gioi-han"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
async def limited_app(database_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    """Limits reached in a few requests."""
    async with running_app(settings.model_copy(update={"rate_limit": LIMITS}), database_url) as application:
        yield application


@pytest.fixture
def clock(limited_app: FastAPI) -> ManualClock:
    """Fresh buckets for the test, on a clock that moves only when told."""
    moved_by_hand = ManualClock()
    limited_app.state.rate_limiter = RateLimiter(LIMITS, clock=moved_by_hand)
    return moved_by_hand


def client_from(app: FastAPI, host: str, token: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(host, 40000)),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )


def quota(response: httpx.Response) -> tuple[int, str, str, str]:
    headers = response.headers
    return (
        response.status_code,
        headers["RateLimit-Limit"],
        headers["RateLimit-Remaining"],
        headers["RateLimit-Reset"],
    )


def assert_rate_limited(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "rate_limited" and problem["status"] == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert problem["retry_after"] == int(response.headers["Retry-After"])
    return problem


async def test_the_headers_count_down_and_the_bucket_refills(
    limited_app: FastAPI, clock: ManualClock
) -> None:
    tenant = await create_tenant(limited_app)
    answers = [quota(await tenant.agent.get("/v1/tickets")) for _ in range(3)]
    # The credential's bucket is the tighter one (the workspace's has 5): 3 at once, one more a second.
    assert answers == [(200, "3", "2", "1"), (200, "3", "1", "2"), (200, "3", "0", "3")]

    refused = await tenant.agent.get("/v1/tickets")
    problem = assert_rate_limited(refused)
    assert refused.headers["Retry-After"] == "1"
    assert quota(refused) == (429, "3", "0", "3")
    assert "This credential may make 60 requests a minute" in problem["detail"]

    clock.advance(1)
    assert quota(await tenant.agent.get("/v1/tickets")) == (200, "3", "0", "3")
    clock.advance(3)
    assert quota(await tenant.agent.get("/v1/tickets")) == (200, "3", "2", "1")


async def test_every_answer_to_a_credential_tells_its_quota(limited_app: FastAPI, clock: ManualClock) -> None:
    tenant = await create_tenant(limited_app)
    answers: list[httpx.Response] = []

    async def send(method: str, path: str, **arguments: Any) -> httpx.Response:
        clock.advance(60)
        answer = await tenant.agent.request(method, path, **arguments)
        answers.append(answer)
        return answer

    created = await send(
        "POST", "/v1/tickets", json={"subject": "Hỏi giá"}, headers={"Idempotency-Key": "k-1"}
    )
    assert created.status_code == 201
    replayed = await send(
        "POST", "/v1/tickets", json={"subject": "Hỏi giá"}, headers={"Idempotency-Key": "k-1"}
    )
    assert replayed.headers["Idempotent-Replayed"] == "true"
    read = await send("GET", f"/v1/tickets/{created.json()['id']}")
    assert (
        await send("GET", read.request.url.path, headers={"If-None-Match": read.headers["ETag"]})
    ).status_code == 304
    assert (await send("GET", f"/v1/tickets/{uuid4()}")).status_code == 404
    assert (await send("POST", "/v1/tickets", json={"subject": ""})).status_code == 422
    assert (await send("GET", "/v1/tickets?khong_co=1")).status_code == 400
    for answer in answers:
        assert quota(answer)[1:] == ("3", "2", "1"), (answer.status_code, answer.request.url)


async def test_a_refused_request_does_nothing(limited_app: FastAPI, clock: ManualClock) -> None:
    tenant = await create_tenant(limited_app)
    for _ in range(3):
        assert (await tenant.agent.get("/v1/tickets")).status_code == 200
    body = {"subject": "Đơn hàng DH-7 giao thiếu"}
    refused = await tenant.agent.post("/v1/tickets", json=body, headers={"Idempotency-Key": "don-7"})
    assert_rate_limited(refused)

    clock.advance(60)
    assert (await tenant.agent.get("/v1/tickets")).json()["items"] == []
    # The key was not claimed: the retry is the first request to run.
    created = await tenant.agent.post("/v1/tickets", json=body, headers={"Idempotency-Key": "don-7"})
    assert created.status_code == 201
    assert "Idempotent-Replayed" not in created.headers


async def test_a_workspace_over_its_limit_leaves_other_workspaces_alone(
    limited_app: FastAPI, clock: ManualClock
) -> None:
    flooding = await create_tenant(limited_app)
    quiet = await create_tenant(limited_app, "Cửa hàng Bình Minh")
    flooding_statuses: list[int] = []
    quiet_statuses: list[int] = []
    for turn in range(4):
        # Three keys of one workspace, each within its own limit: together over the workspace's.
        for client in (flooding.admin, flooding.agent, flooding.viewer):
            answer = await client.get("/v1/tickets")
            flooding_statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert (
                    "workspace's credentials may make 120 requests" in assert_rate_limited(answer)["detail"]
                )
        quiet_client = (quiet.admin, quiet.agent, quiet.viewer)[turn % 3]
        quiet_statuses.append((await quiet_client.get("/v1/tickets")).status_code)
    assert flooding_statuses.count(429) == 12 - LIMITS.workspace_burst
    assert 429 not in quiet_statuses


async def test_a_workspace_can_have_a_limit_of_its_own(limited_app: FastAPI, clock: ManualClock) -> None:
    tenant = await create_tenant(limited_app)
    assert (await tenant.agent.patch("/v1/workspace", json={"rate_limit_per_minute": 48})).status_code == 403
    assert (await tenant.admin.patch("/v1/workspace", json={"rate_limit_per_minute": 0})).status_code == 422
    changed = await tenant.admin.patch("/v1/workspace", json={"rate_limit_per_minute": 48})
    assert changed.status_code == 200 and changed.json()["rate_limit_per_minute"] == 48

    # Read again by the process once it has kept the old one its time.
    clock.advance(LIMITS.workspace_cache_seconds)
    # 48 a minute, and a burst in the default's proportion: 5 * 48 / 120 = 2.
    assert quota(await tenant.agent.get("/v1/tickets")) == (200, "2", "1", "2")
    assert quota(await tenant.viewer.get("/v1/tickets")) == (200, "2", "0", "3")
    problem = assert_rate_limited(await tenant.admin.get("/v1/tickets"))
    assert "may make 48 requests a minute together" in problem["detail"]

    clock.advance(60)
    raised = await tenant.admin.patch("/v1/workspace", json={"rate_limit_per_minute": 1200})
    assert raised.json()["rate_limit_per_minute"] == 1200
    clock.advance(LIMITS.workspace_cache_seconds)
    # 50 at once for the workspace: each credential's 3 is now the tighter bucket.
    assert quota(await tenant.agent.get("/v1/tickets"))[:3] == (200, "3", "2")

    reset = await tenant.admin.patch("/v1/workspace", json={"rate_limit_per_minute": None})
    assert reset.json()["rate_limit_per_minute"] is None
    assert (await tenant.viewer.get("/v1/workspace")).json()["rate_limit_per_minute"] is None


async def test_refused_credentials_are_limited_per_address(limited_app: FastAPI, clock: ManualClock) -> None:
    tenant = await create_tenant(limited_app)
    invalid = "hd_" + "x" * 43
    guessing = client_from(limited_app, "203.0.113.9", invalid)
    for _ in range(LIMITS.failed_auth_burst):
        assert (await guessing.get("/v1/tickets")).status_code == 401
    refused = await guessing.get("/v1/tickets")
    assert "invalid credentials from this address" in assert_rate_limited(refused)["detail"]
    # The headers tell a credential's quota: this caller has none.
    assert "RateLimit-Limit" not in refused.headers
    assert (await client_from(limited_app, "203.0.113.9").get("/v1/tickets")).status_code == 429

    # A valid credential from the same address is served; another address is not held back.
    assert (
        await client_from(limited_app, "203.0.113.9", tenant.admin_key).get("/v1/tickets")
    ).status_code == 200
    assert (await client_from(limited_app, "203.0.113.10", invalid).get("/v1/tickets")).status_code == 401

    # IPv6 clients are counted by their /64.
    for host in ("2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1::3"):
        assert (await client_from(limited_app, host, invalid).get("/v1/tickets")).status_code == 401
    assert_rate_limited(await client_from(limited_app, "2001:db8:7:1::4", invalid).get("/v1/tickets"))
    assert (await client_from(limited_app, "2001:db8:7:2::1", invalid).get("/v1/tickets")).status_code == 401

    clock.advance(1)
    assert (await guessing.get("/v1/tickets")).status_code == 401


async def chat_channel(tenant: Tenant, name: str) -> dict[str, Any]:
    return await create(
        tenant.admin, "/v1/channels", {"kind": "chat", "name": name, "secrets": {"token": CHAT_TOKEN}}
    )


async def post_message(tenant: Tenant, channel: dict[str, Any], token: str = CHAT_TOKEN) -> httpx.Response:
    body = {"message_id": str(uuid4()), "contact": {"id": "khach-09", "name": "Anh Khoa"}, "text": "Alo shop"}
    headers = {"Authorization": f"Bearer {token}"}
    return await tenant.anonymous.post(channel["inbound_urls"]["messages"], json=body, headers=headers)


async def test_a_flood_on_one_channel_is_refused_while_the_api_and_other_channels_answer(
    limited_app: FastAPI, clock: ManualClock
) -> None:
    tenant = await create_tenant(limited_app)
    flooded = await chat_channel(tenant, "Chat website")
    other = await chat_channel(tenant, "Chat ứng dụng")
    answers = [await post_message(tenant, flooded) for _ in range(LIMITS.channel_burst)]
    assert [quota(answer) for answer in answers] == [
        (202, "3", "2", "1"),
        (202, "3", "1", "2"),
        (202, "3", "0", "3"),
    ]
    problem = assert_rate_limited(await post_message(tenant, flooded))
    assert "This channel may receive 60 requests a minute" in problem["detail"]
    # Counted before the channel's secret is checked: a flood of wrong tokens is refused as cheaply.
    assert_rate_limited(await post_message(tenant, flooded, token="khong-dung"))

    assert (await post_message(tenant, other)).status_code == 202
    assert (await tenant.agent.get("/v1/tickets")).status_code == 200
    assert (await tenant.admin.get(f"/v1/channels/{flooded['id']}/inbound")).status_code == 200

    clock.advance(1)
    assert (await post_message(tenant, flooded)).status_code == 202


async def test_limiting_can_be_turned_off(database_url: str, settings: Settings) -> None:
    unlimited = settings.model_copy(update={"rate_limit": LIMITS.model_copy(update={"enabled": False})})
    async with running_app(unlimited, database_url) as application:
        tenant = await create_tenant(application)
        answers = [await tenant.agent.get("/v1/tickets") for _ in range(3 * LIMITS.credential_burst)]
        assert {answer.status_code for answer in answers} == {200}
        assert not any("RateLimit-Limit" in answer.headers for answer in answers)
        refused = [
            await client_from(application, "203.0.113.50", "hd_sai").get("/v1/tickets") for _ in range(6)
        ]
        assert {answer.status_code for answer in refused} == {401}


def test_a_process_keeps_a_bounded_number_of_buckets() -> None:
    """The least recently used bucket is forgotten first: its caller starts again with a full one."""
    limiter = RateLimiter(LIMITS, clock=ManualClock())
    first = uuid4()
    for _ in range(LIMITS.channel_burst):
        limiter.admit_channel(first)
    with pytest.raises(RateLimited):
        limiter.admit_channel(first)
    for _ in range(MAX_BUCKETS):
        limiter.admit_channel(uuid4())
    assert limiter.admit_channel(first).remaining == LIMITS.channel_burst - 1
